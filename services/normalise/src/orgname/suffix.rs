//! Place suffixes: where the place words written after an organisation's name start (a
//! separated segment of places, a district or a post-reform unit glued after its commune, a
//! place written twice), and which places they name. Reads the lexicon's places; knows
//! nothing of legal forms, sectors or products, which [`super`] parses in what is left.

use super::lexicon::lexicon;
use super::matches_folded;
use crate::text::Word;

/// Where a trailing district name starts, when the words right before it (same segment)
/// name a commune of that district, maybe with the organisation's number between them
/// (`… Sà Dề Phìn số 2 Sìn Hồ`).
pub(super) fn district_after_its_commune(words: &[Word]) -> Option<usize> {
    let lex = lexicon();
    let n = words.len();
    let district = lex.places.iter().find(|p| {
        p.len() < n && matches_folded(words, n - p.len(), p) && {
            let (_, d) = crate::address::place_units(p);
            d.is_some()
        }
    })?;
    let start = n - district.len();
    let (_, d) = crate::address::place_units(district);
    commune_before(words, start, |c| {
        crate::address::place_units(c)
            .0
            .iter()
            .any(|cd| Some(*cd) == d)
    })
    .then_some(start)
}

/// Where a trailing post-reform unit's name starts, when the words right before it (same
/// segment) name one of the old communes it took in, maybe with the organisation's number
/// between them (`… Pú Đao số 2 Lê Lợi`: Pú Đao is part of Lê Lợi since 2025).
pub(super) fn unit_after_its_commune(words: &[Word]) -> Option<usize> {
    let lex = lexicon();
    let n = words.len();
    lex.places
        .iter()
        .filter(|p| p.len() < n && matches_folded(words, n - p.len(), p))
        .find_map(|unit| {
            let start = n - unit.len();
            commune_before(words, start, |c| {
                crate::address::unit_holds_commune(unit, c)
            })
            .then_some(start)
        })
}

/// Whether the words right before `start`, in its segment, name a place of the lexicon that
/// `fits`, maybe with the organisation's number (`2`, `số 2`, `so 2`) between it and `start`.
fn commune_before(words: &[Word], start: usize, fits: impl Fn(&[String]) -> bool) -> bool {
    let seg = words[start].seg;
    let mut end = start;
    if end > 0 && words[end - 1].folded.bytes().all(|b| b.is_ascii_digit()) {
        end -= 1;
        if end > 0 && words[end - 1].folded == "so" {
            end -= 1;
        }
    }
    lexicon().places.iter().filter(|c| c.len() <= end).any(|c| {
        let at = end - c.len();
        words[at..start].iter().all(|w| w.seg == seg) && matches_folded(words, at, c) && fits(c)
    })
}

/// Where the second of a place name written twice at the end (same segment) starts: no
/// organisation's name repeats its place.
pub(super) fn doubled_trailing_place(words: &[Word]) -> Option<usize> {
    let n = words.len();
    lexicon()
        .places
        .iter()
        .find(|p| {
            let k = p.len();
            2 * k < n
                && matches_folded(words, n - k, p)
                && matches_folded(words, n - 2 * k, p)
                && words[n - 2 * k..].iter().all(|w| w.seg == words[n - 1].seg)
        })
        .map(|p| n - p.len())
}

/// Words allowed in a place suffix beside the place names: unit words and their short forms.
pub(super) const SUFFIX_FILLER: &[&str] = &[
    "xa",
    "x",
    "phuong",
    "p",
    "thi tran",
    "tt",
    "huyen",
    "h",
    "thi xa",
    "tx",
    "thanh pho",
    "tp",
    "tinh",
    "t",
];

/// Where the last segment of `words` starts, when it is a place suffix: only place names of
/// the reference lists and unit words, at least one place, and not the first segment.
pub(super) fn place_suffix_start(words: &[Word]) -> Option<usize> {
    let lex = lexicon();
    let last = words.last()?.seg;
    let start = words.iter().position(|w| w.seg == last)?;
    if start == 0 {
        return None;
    }
    let seg = &words[start..];
    let (mut j, mut places) = (0, 0);
    while j < seg.len() {
        if let Some(p) = lex.places.iter().find(|p| matches_folded(seg, j, p)) {
            j += p.len();
            places += 1;
        } else if let Some(n) = lex
            .suffix_filler
            .iter()
            .find(|f| matches_folded(seg, j, &f.words))
            .map(|f| f.words.len())
        {
            j += n;
        } else {
            return None;
        }
    }
    (places > 0).then_some(start)
}

/// The place words of a suffix found by [`place_suffix_start`].
pub(super) fn suffix_places(seg: &[Word]) -> Vec<String> {
    let lex = lexicon();
    let mut out = Vec::new();
    let mut j = 0;
    while j < seg.len() {
        if let Some(p) = lex.places.iter().find(|p| matches_folded(seg, j, p)) {
            out.extend(p.iter().cloned());
            j += p.len();
        } else {
            j += 1;
        }
    }
    out
}
