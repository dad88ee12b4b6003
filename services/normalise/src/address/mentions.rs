//! Reading an address against one province's index: the markers before a name (`xã`,
//! `huyện`, `bản`), the mentions of unit names found in its words, and the score of each
//! commune they may mean. Decides nothing about confidence thresholds (that is the parent
//! module's).

use crate::text::{self, Word, edit_distance};

use super::MAX_WORDS;
use super::index::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    Commune(CommuneKind),
    District,
    Province,
    Village,
}

pub(super) const MARKERS: &[(&[&str], Marker)] = &[
    (&["thi", "tran"], Marker::Commune(CommuneKind::ThiTran)),
    (&["thitran"], Marker::Commune(CommuneKind::ThiTran)),
    (&["tt"], Marker::Commune(CommuneKind::ThiTran)),
    (&["thi", "xa"], Marker::District),
    (&["tx"], Marker::District),
    (&["xa"], Marker::Commune(CommuneKind::Xa)),
    (&["x"], Marker::Commune(CommuneKind::Xa)),
    (&["phuong"], Marker::Commune(CommuneKind::Phuong)),
    (&["p"], Marker::Commune(CommuneKind::Phuong)),
    (&["huyen"], Marker::District),
    (&["h"], Marker::District),
    (&["thanh", "pho"], Marker::District),
    (&["tp"], Marker::District),
    (&["quan"], Marker::District),
    (&["q"], Marker::District),
    (&["tinh"], Marker::Province),
    (&["t"], Marker::Province),
    (&["to", "dan", "pho"], Marker::Village),
    (&["khu", "pho"], Marker::Village),
    (&["tieu", "khu"], Marker::Village),
    (&["so", "nha"], Marker::Village),
    (&["ban"], Marker::Village),
    (&["thon"], Marker::Village),
    (&["khu"], Marker::Village),
    (&["to"], Marker::Village),
    (&["xom"], Marker::Village),
    (&["doi"], Marker::Village),
    (&["tdp"], Marker::Village),
    (&["kp"], Marker::Village),
    (&["duong"], Marker::Village),
    (&["pho"], Marker::Village),
    (&["so"], Marker::Village),
    (&["ngo"], Marker::Village),
    (&["hem"], Marker::Village),
    (&["cum"], Marker::Village),
    (&["khom"], Marker::Village),
    (&["nha"], Marker::Village),
];

/// The marker ending just before `end` (exclusive) in segment `seg`, among words not
/// `covered` by a name: (marker, its first word).
pub(super) fn marker_before(
    words: &[Word],
    covered: &[bool],
    end: usize,
) -> Option<(Marker, usize)> {
    let mut best: Option<(Marker, usize)> = None;
    for (phrase, m) in MARKERS {
        let n = phrase.len();
        if n > end {
            continue;
        }
        let start = end - n;
        let seg = words[end - 1].seg;
        let fits = (start..end).all(|k| !covered[k] && words[k].seg == seg)
            && phrase
                .iter()
                .zip(&words[start..end])
                .all(|(p, w)| w.folded == *p);
        // longest marker wins ("thị xã" over "xã")
        if fits && best.is_none_or(|(_, s)| start < s) {
            best = Some((*m, start));
        }
    }
    best
}

pub(super) fn leading_marker(words: &[Word]) -> (Option<Marker>, usize) {
    let mut best: (Option<Marker>, usize) = (None, 0);
    for (phrase, m) in MARKERS {
        let n = phrase.len();
        if n < words.len() && n > best.1 && phrase.iter().zip(words).all(|(p, w)| w.folded == *p) {
            best = (Some(*m), n);
        }
    }
    best
}

// ---------------------------------------------------------------------------------------
// Mentions: where a known name occurs in the address.

#[derive(Debug, Clone)]
pub(super) struct Mention {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) seg: usize,
    pub(super) name: usize,
    /// What the name stands for here (the province's name after a district word is the city).
    pub(super) target: Target,
    pub(super) fuzzy: bool,
    pub(super) marker: Option<Marker>,
}

impl Mention {
    pub(super) fn same_span(&self, other: &Mention) -> bool {
        self.start == other.start && self.end == other.end
    }
}

pub(super) fn span_raw(words: &[Word], start: usize, end: usize) -> String {
    words[start..end]
        .iter()
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the words of `m` carry diacritics other than the name's official ones (ASCII
/// words carry none and so never differ).
pub(super) fn diacritics_differ(idx: &Index, words: &[Word], m: &Mention) -> bool {
    let raw = span_raw(words, m.start, m.end);
    !raw.is_ascii() && raw != idx.names[m.name].raw
}

pub(super) fn find_mentions(idx: &Index, words: &[Word]) -> Vec<Mention> {
    let mut mentions = Vec::new();
    let mut covered = vec![false; words.len()];
    // Exact matches, on words or on a word that glues a name together ("banhon").
    for i in 0..words.len() {
        for (ni, name) in idx.names.iter().enumerate() {
            let n = name.words.len();
            let exact = i + n <= words.len()
                && words[i..i + n]
                    .iter()
                    .zip(&name.words)
                    .all(|(w, nw)| w.folded == *nw && w.seg == words[i].seg);
            let glued = n > 1 && words[i].folded == name.joined;
            if exact || glued {
                let end = if exact { i + n } else { i + 1 };
                mentions.push(Mention {
                    start: i,
                    end,
                    seg: words[i].seg,
                    name: ni,
                    target: name.target,
                    fuzzy: false,
                    marker: None,
                });
                covered[i..end].iter_mut().for_each(|c| *c = true);
            }
        }
    }
    // Fuzzy matches (one edit) on the spans left over, for names of six letters or more.
    let mut fuzzy = Vec::new();
    for i in 0..words.len() {
        if covered[i] {
            continue;
        }
        let mut joined = String::new();
        for end in i + 1..=(i + 4).min(words.len()) {
            if covered[end - 1] || words[end - 1].seg != words[i].seg {
                break;
            }
            joined.push_str(&words[end - 1].folded);
            if joined.len() < 5 {
                continue;
            }
            for (ni, name) in idx.names.iter().enumerate() {
                if name.joined.len() >= 6
                    && name.joined.len().abs_diff(joined.len()) <= 1
                    && edit_distance(&joined, &name.joined) <= 1
                {
                    fuzzy.push(Mention {
                        start: i,
                        end,
                        seg: words[i].seg,
                        name: ni,
                        target: name.target,
                        fuzzy: true,
                        marker: None,
                    });
                }
            }
        }
    }
    for m in &fuzzy {
        covered[m.start..m.end].iter_mut().for_each(|c| *c = true);
    }
    mentions.extend(fuzzy);
    for m in &mut mentions {
        m.marker = marker_before(words, &covered, m.start).map(|(mk, _)| mk);
        if m.target == Target::Province
            && m.marker == Some(Marker::District)
            && let Some(city) = idx.city
            && idx.names[m.name].words == idx.province_words
        {
            m.target = Target::District(city);
        }
    }
    mentions
}

/// Whether every word of segment `seg` is a name or a unit word.
pub(super) fn segment_explained(words: &[Word], mentions: &[Mention], seg: usize) -> bool {
    let mut explained: Vec<bool> = words.iter().map(|w| w.seg != seg).collect();
    for m in mentions.iter().filter(|m| m.seg == seg) {
        explained[m.start..m.end].iter_mut().for_each(|e| *e = true);
    }
    let covered = explained.clone();
    for m in mentions.iter().filter(|m| m.seg == seg) {
        if let Some((_, s)) = marker_before(words, &covered, m.start) {
            explained[s..m.start].iter_mut().for_each(|e| *e = true);
        }
    }
    explained.iter().all(|e| *e)
}

// ---------------------------------------------------------------------------------------
// Scoring.

#[derive(Debug, Clone)]
pub(super) struct Scored {
    pub(super) commune: usize,
    pub(super) score: f64,
}

pub(super) fn score_communes(idx: &Index, address: &str) -> (Vec<Scored>, Vec<Mention>, Vec<Word>) {
    let mut words = text::words(address);
    // Real addresses have a few dozen words at most; beyond that is not an address, and the
    // matching below need not pay for it.
    words.truncate(MAX_WORDS);
    let mentions = find_mentions(idx, &words);
    let segments = words.last().map_or(0, |w| w.seg + 1);
    let explained: Vec<bool> = (0..segments)
        .map(|seg| segment_explained(&words, &mentions, seg))
        .collect();
    let any_marked_commune: Vec<usize> = mentions
        .iter()
        .filter(|m| matches!(m.marker, Some(Marker::Commune(_))))
        .filter_map(|m| match m.target {
            Target::Commune(c) => Some(c),
            _ => None,
        })
        .collect();
    let district_mentions: Vec<(&Mention, usize)> = mentions
        .iter()
        .filter_map(|m| match m.target {
            Target::District(d) => Some((m, d)),
            _ => None,
        })
        .collect();

    let mut best: Vec<Option<(f64, &Mention)>> = vec![None; idx.communes.len()];
    for m in &mentions {
        let Target::Commune(ci) = m.target else {
            continue;
        };
        let c = &idx.communes[ci];
        let mut s = match m.marker {
            Some(Marker::Commune(kind)) if kind == c.kind => 1.0,
            Some(Marker::Commune(_)) => 0.7,
            Some(Marker::District | Marker::Province) => continue,
            Some(Marker::Village) => 0.35,
            None => {
                let mut base = if explained.get(m.seg).copied().unwrap_or(false) {
                    0.75
                } else {
                    0.6
                };
                // "Tam Đường" alone: the thị trấn or the huyện?
                let as_district = district_mentions.iter().find(|(dm, _)| dm.same_span(m));
                if let Some((_, d)) = as_district {
                    let named_again_later = district_mentions
                        .iter()
                        .any(|(dm, d2)| d2 == d && dm.start >= m.end);
                    if !named_again_later {
                        base = 0.45;
                    }
                }
                if any_marked_commune.iter().any(|&other| other != ci) {
                    base *= 0.5;
                }
                base
            }
        };
        if m.fuzzy {
            s *= 0.85;
        }
        if diacritics_differ(idx, &words, m) {
            // Written with other diacritics: a typo, or another name that folds alike
            // (Nậm Cha / Nậm Chà), which weighs more when the other name fits exactly.
            let other_fits = mentions.iter().any(|o| {
                o.same_span(m)
                    && o.target != m.target
                    && matches!(o.target, Target::Commune(_))
                    && !diacritics_differ(idx, &words, o)
            });
            s *= if other_fits { 0.7 } else { 0.9 };
        }
        if best[ci].is_none_or(|(b, _)| s > b) {
            best[ci] = Some((s, m));
        }
    }

    let mut scored = Vec::new();
    for (ci, b) in best.iter().enumerate() {
        let Some((ev, own)) = b else { continue };
        let c = &idx.communes[ci];
        let (mut strong, mut strong_ok, mut weak, mut weak_ok) = (false, false, false, false);
        for (dm, d) in &district_mentions {
            if dm.same_span(own) {
                continue;
            }
            match dm.marker {
                Some(Marker::District) => {
                    strong = true;
                    strong_ok |= *d == c.district;
                }
                None => {
                    weak = true;
                    weak_ok |= *d == c.district;
                }
                _ => {}
            }
        }
        let factor = if strong_ok {
            1.0
        } else if strong {
            0.3
        } else if weak_ok {
            0.95
        } else if weak {
            0.63
        } else {
            0.9
        };
        scored.push(Scored {
            commune: ci,
            score: ev * factor,
        });
    }
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    (scored, mentions, words)
}
