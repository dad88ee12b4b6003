// hub-console: the little script the pages need (no framework, no build step).
// - [data-stream]: a table body that receives the reconciliation log live (server-sent events).
"use strict";
(function () {
  function text(v) { return v === null || v === undefined ? "" : String(v); }
  function cell(row, value, cls) {
    var td = document.createElement("td");
    td.textContent = text(value);
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }
  function ref(r) { return r && typeof r === "object" ? text(r.system) + ":" + text(r.id) : text(r); }
  function logRow(e) {
    var d = e.decision || e.entry || e;
    var tr = document.createElement("tr");
    tr.className = "new";
    tr.setAttribute("data-decision", text(d.decision_id || d.id));
    cell(tr, d.at);
    cell(tr, d.outcome);
    cell(tr, ref(d.source));
    cell(tr, d.organisation_id);
    cell(tr, d.candidate_id);
    cell(tr, d.score === undefined || d.score === null ? "" : Number(d.score).toFixed(3), "num");
    cell(tr, d.rule);
    cell(tr, d.operator);
    cell(tr, d.reason || d.note);
    return tr;
  }
  document.querySelectorAll("tbody[data-stream]").forEach(function (body) {
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
