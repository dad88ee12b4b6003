// hub-console: the little script the pages need (no framework, no build step).
// - [data-stream]: a table body that receives the reconciliation log live (server-sent events),
//   times in Vietnam time (UTC+7) as the server writes them.
// - #print: prints the page (the report, A4 landscape).
"use strict";
(function () {
  function text(v) { return v === null || v === undefined ? "" : String(v); }
  function cell(row, value, cls) {
    var td = document.createElement("td");
    td.textContent = text(value);
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }
  // dd/mm/yyyy HH:MM:SS in Vietnam time (UTC+7), as the server renders the log
  function vnTime(iso) {
    var t = new Date(iso);
    if (isNaN(t.getTime())) { return text(iso); }
    var v = new Date(t.getTime() + 7 * 3600 * 1000);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(v.getUTCDate()) + "/" + two(v.getUTCMonth() + 1) + "/" + v.getUTCFullYear() + " " +
      two(v.getUTCHours()) + ":" + two(v.getUTCMinutes()) + ":" + two(v.getUTCSeconds());
  }
  function contributions(f) {
    if (!f) { return ""; }
    var parts = [];
    ["name", "location", "kind", "representative", "phone", "code"].forEach(function (k) {
      var w = f["w_" + k];
      if (w !== undefined) { parts.push(k + " " + (w >= 0 ? "+" : "") + Number(w).toFixed(2)); }
    });
    if (f.logit !== undefined) { parts.push("= logit " + Number(f.logit).toFixed(2)); }
    return parts.join(" · ");
  }
  function ref(r) { return r && typeof r === "object" ? text(r.system) + ":" + text(r.id) : text(r); }
  function logRow(e) {
    var d = e.decision || e.entry || e;
    var tr = document.createElement("tr");
    tr.className = "new outcome-" + text(d.outcome);
    tr.setAttribute("data-decision", text(d.decision_id || d.id));
    cell(tr, vnTime(d.at), "time");
    cell(tr, d.outcome);
    cell(tr, ref(d.source));
    cell(tr, d.organisation_id);
    cell(tr, d.candidate_id);
    cell(tr, (d.score === undefined || d.score === null ? "" : Number(d.score).toFixed(4) + " ") + contributions(d.features), "score");
    cell(tr, d.rule);
    cell(tr, text(d.operator) + (d.note ? " · " + text(d.note) : ""));
    var td = document.createElement("td");
    if (d.organisation_id) {
      var a = document.createElement("a");
      a.className = "compare";
      a.href = "/compare?a=" + encodeURIComponent(d.organisation_id) +
        (d.candidate_id && d.candidate_id !== d.organisation_id ? "&b=" + encodeURIComponent(d.candidate_id) : "") +
        (d.source ? "&source=" + encodeURIComponent(ref(d.source)) : "");
      a.textContent = "side by side · so sánh";
      td.appendChild(a);
    }
    tr.appendChild(td);
    return tr;
  }
  // [data-refresh=N]: the page reloads every N seconds (the pipeline page, while syncs run)
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    var secs = Number(refresh.getAttribute("data-refresh")) || 5;
    window.setTimeout(function () { window.location.reload(); }, secs * 1000);
  }
  var print = document.getElementById("print");
  if (print) { print.addEventListener("click", function () { window.print(); }); }
  // a filtered page (district, outcome) is not live: the stream does not know the filter
  document.querySelectorAll("tbody[data-stream]:not([data-filtered])").forEach(function (body) {
    var status = document.getElementById("stream-status");
    var source = new EventSource(body.getAttribute("data-stream"));
    source.onopen = function () { if (status) { status.textContent = "live"; status.className = "ok"; } };
    source.onerror = function () { if (status) { status.textContent = "reconnecting…"; status.className = "warn"; } };
    source.onmessage = function (msg) {
      var data;
      try { data = JSON.parse(msg.data); } catch (err) { return; }
      body.insertBefore(logRow(data), body.firstChild);
    };
    ["decision", "log", "entry"].forEach(function (name) { source.addEventListener(name, source.onmessage); });
  });
})();
