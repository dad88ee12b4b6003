//! Person names (cooperative representatives, borrowers' legal representatives), for
//! comparison only: what is stored is the name as the source gave it.
//!
//! This module owns:
//! - [`normalise`]: fold (diacritics, case, punctuation, white space), keep the first
//!   comma/dash/parenthesis-separated part (`"Lò Văn Minh (Giám đốc)"` → `lo van minh`), and drop
//!   a leading honorific (`Ông`, `Bà`, `Anh`, `Chị`, `Hộ ông`, `Mr`…).
//! - [`PersonName`]: a normalised name split the Vietnamese way, family name first, given
//!   name last, middle name(s) between.
//! - [`similarity`]: a score in `[0, 1]` that weighs the given name most, then the family
//!   and the middle name; tolerates a dropped middle or family name, the given name written
//!   first, spacing and typos, but not another real given name one letter away (`Minh` /
//!   `Mạnh`). [`NameWords`] and [`similarity_of`] do the same for names read once and
//!   compared many times.

use crate::text::{self, Word, edit_similarity};

/// Honorifics and kinship terms used before a name, with diacritics.
const HONORIFICS: &[&str] = &[
    "ông", "bà", "anh", "chị", "cô", "chú", "bác", "em", "mr", "mrs", "ms", "miss",
];
/// Their ASCII spellings that are safe to drop (no common family name among them).
const HONORIFICS_ASCII: &[&str] = &[
    "ong", "ba", "anh", "chi", "co", "chu", "bac", "mr", "mrs", "ms", "miss",
];

/// The folded words of a person's name, honorifics dropped.
fn name_words(raw: &str) -> Vec<String> {
    let words = text::words(raw);
    let first_seg = words.first().map(|w| w.seg).unwrap_or(0);
    let mut ws: Vec<&Word> = words.iter().filter(|w| w.seg == first_seg).collect();
    // "Hộ ông …", "Hộ gia đình ông …": a household named after its head.
    if ws.first().is_some_and(|w| w.raw == "hộ")
        || (ws.len() > 1 && ws[0].raw == "ho" && is_honorific(ws[1]))
    {
        ws.remove(0);
        if ws.len() > 2 && ws[0].folded == "gia" && ws[1].folded == "dinh" {
            ws.drain(..2);
        }
    }
    while ws.len() > 2 && is_honorific(ws[0]) {
        ws.remove(0);
    }
    ws.into_iter().map(|w| w.folded.clone()).collect()
}

fn is_honorific(w: &Word) -> bool {
    if w.is_ascii() {
        HONORIFICS_ASCII.contains(&w.raw.as_str())
    } else {
        HONORIFICS.contains(&w.raw.as_str())
    }
}

/// The name folded for comparison, honorific dropped: `"Ông Lò Văn Minh"` → `"lo van minh"`.
///
/// ```
/// use hub_normalise::person::normalise;
/// assert_eq!(normalise("  Ông  LÒ văn Minh "), "lo van minh");
/// assert_eq!(normalise("Lo Van Minh"), "lo van minh");
/// ```
pub fn normalise(raw: &str) -> String {
    name_words(raw).join(" ")
}

/// A normalised name, split family / middle / given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonName {
    /// Family name (first word); empty for a one-word name.
    pub family: String,
    /// Middle name words (`van`, `thi`, `a`, `seo`…), possibly none.
    pub middle: Vec<String>,
    /// Given name (last word).
    pub given: String,
}

impl PersonName {
    /// Parses and normalises `raw`. A one-word name is taken as the given name.
    pub fn parse(raw: &str) -> PersonName {
        let mut ws = name_words(raw);
        let Some(given) = ws.pop() else {
            return PersonName::default();
        };
        if ws.is_empty() {
            return PersonName {
                given,
                ..PersonName::default()
            };
        }
        let family = ws.remove(0);
        PersonName {
            family,
            middle: ws,
            given,
        }
    }

    /// Whether no name was found.
    pub fn is_empty(&self) -> bool {
        self.given.is_empty()
    }

    /// All words, space-separated, as [`normalise`] gives them.
    pub fn joined(&self) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(self.middle.len() + 2);
        if !self.family.is_empty() {
            parts.push(&self.family);
        }
        parts.extend(self.middle.iter().map(String::as_str));
        if !self.given.is_empty() {
            parts.push(&self.given);
        }
        parts.join(" ")
    }
}

/// Middle names that are (almost) never a given name nor a family name: a name starting with
/// one of them has lost its family name (`Văn Minh` for `Lò Văn Minh`).
const MIDDLE_ONLY: &[&str] = &["van", "thi", "a", "seo", "lao", "huu", "dinh"];

/// One reading of a name: family (if written), middle words, given name, and whether the
/// words had to be rotated to read it so (given name written first).
struct Reading<'a> {
    family: Option<&'a str>,
    middle: &'a [String],
    given: &'a str,
    rotated: bool,
}

/// The plausible readings of a name's folded words.
fn readings(ws: &[String]) -> Vec<Reading<'_>> {
    let mut out = Vec::with_capacity(2);
    let n = ws.len();
    if n == 0 {
        return out;
    }
    if n == 1 {
        out.push(Reading {
            family: None,
            middle: &[],
            given: &ws[0],
            rotated: false,
        });
        return out;
    }
    let family_first = crate::orgname::is_family_name_folded(&ws[0]);
    if !family_first && MIDDLE_ONLY.contains(&ws[0].as_str()) {
        // "Văn Minh", "Thị Thu Hà": family name dropped
        out.push(Reading {
            family: None,
            middle: &ws[..n - 1],
            given: &ws[n - 1],
            rotated: false,
        });
    } else {
        out.push(Reading {
            family: Some(&ws[0]),
            middle: &ws[1..n - 1],
            given: &ws[n - 1],
            rotated: false,
        });
    }
    // "Minh Lò Văn": given name first, then family and middle
    if !family_first && crate::orgname::is_family_name_folded(&ws[1]) {
        out.push(Reading {
            family: Some(&ws[1]),
            middle: &ws[2..],
            given: &ws[0],
            rotated: true,
        });
    }
    out
}

/// The words a name's plausible readings take as its given name, folded (one, or two when
/// the name may be written given name first: `Minh Lò Văn`). What stays when a clerk drops
/// the family or middle name; for finding a person written several ways.
///
/// ```
/// use hub_normalise::person::given_names;
/// assert_eq!(given_names("Lò Văn Minh"), ["minh"]);
/// assert_eq!(given_names("Văn Minh"), ["minh"]);
/// assert!(given_names("Minh Lò Văn").contains(&"minh".to_owned()));
/// assert!(given_names("").is_empty());
/// ```
pub fn given_names(raw: &str) -> Vec<String> {
    let ws = name_words(raw);
    let mut out: Vec<String> = Vec::with_capacity(2);
    for r in readings(&ws) {
        if !out.iter().any(|g| g == r.given) {
            out.push(r.given.to_owned());
        }
    }
    out
}

/// How alike two single name words are: `1` equal, `0.85` a typo (neighbours swapped, or one
/// edit that leaves one side no Vietnamese syllable: `Mihn`), low for another real name one
/// letter away (`Minh` / `Mạnh`) and lower still beyond.
fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let d = text::edit_distance(a, b);
    if d == 1 {
        let swapped = a.len() == b.len() && {
            let diff: Vec<usize> = (0..a.len())
                .filter(|&i| a.as_bytes()[i] != b.as_bytes()[i])
                .collect();
            diff.len() == 2 && diff[1] == diff[0] + 1
        };
        if swapped || !text::is_syllable(a) || !text::is_syllable(b) {
            return 0.85;
        }
        return 0.35;
    }
    0.3 * edit_similarity(a, b)
}

fn reading_similarity(a: &Reading<'_>, b: &Reading<'_>) -> f64 {
    let given = word_similarity(a.given, b.given);
    let family = match (a.family, b.family) {
        (Some(x), Some(y)) if x == y => 1.0,
        (Some(x), Some(y)) if word_similarity(x, y) >= 0.85 => 0.85,
        (Some(_), Some(_)) => 0.45,
        // dropped on one side (or both: then the middle and given names carry it)
        _ => 0.9,
    };
    let middle = match (a.middle.is_empty(), b.middle.is_empty()) {
        (true, true) => 1.0,
        (true, false) | (false, true) => 0.92,
        (false, false) if a.middle == b.middle => 1.0,
        // "Thị Thu" / "Thu": one middle name dropped of two
        (false, false)
            if a.middle.iter().all(|m| b.middle.contains(m))
                || b.middle.iter().all(|m| a.middle.contains(m)) =>
        {
            0.9
        }
        (false, false) => 0.7,
    };
    let rotated = if a.rotated || b.rotated { 0.93 } else { 1.0 };
    let unknown_both = a.family.is_none() && b.family.is_none();
    let s = given * family * middle * rotated;
    if unknown_both { s.min(0.9) } else { s }
}

/// How alike two person names are, in `[0, 1]`, after [`normalise`]. The Vietnamese way:
/// family name first, middle name(s), given name last; the given name identifies the most.
///
/// - `1.0`: the same name however written (diacritics, case, spacing, honorific).
/// - about `0.9`: the same person written shorter or in another order: middle name dropped
///   (`Lò Minh`), family name dropped (`Văn Minh`), given name first (`Minh Lò Văn`).
/// - `0.85`: a typo in the given name (`Mihn`, `Mnh`: no real name).
/// - `0.7`: another middle name (`Lò Thị Minh`: another person, of the other sex).
/// - `0.6` or less: a bare given name (`Minh`).
/// - below `0.5`: another given name (`Lò Văn Mạnh`, `Lò Văn Minh Anh`) or another family
///   name (`Lường Văn Minh`).
/// - `0.0`: either side empty.
///
/// It is a comparison aid, not a decision: the caller weighs it with other evidence.
///
/// ```
/// use hub_normalise::person::similarity;
/// assert_eq!(similarity("Lò Văn Minh", "Lo Van Minh"), 1.0);
/// assert!(similarity("Lò Văn Minh", "Lò Minh") > 0.85);
/// assert!(similarity("Lò Văn Minh", "Văn Minh") > 0.85);
/// assert!(similarity("Lò Văn Minh", "Lò Văn Mạnh") < 0.5);
/// assert!(similarity("Lò Văn Minh", "Giàng A Páo") < 0.3);
/// ```
pub fn similarity(a: &str, b: &str) -> f64 {
    similarity_of(&NameWords::of(a), &NameWords::of(b))
}

/// A person's name read once for [`similarity_of`]: its folded words, honorifics dropped.
/// A caller that compares one name with many (the reconciler's interned representatives)
/// keeps this instead of reading the name again on every comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameWords(Vec<String>);

impl NameWords {
    pub fn of(raw: &str) -> NameWords {
        NameWords(name_words(raw))
    }
}

/// [`similarity`] of two names already read.
///
/// ```
/// use hub_normalise::person::{NameWords, similarity, similarity_of};
/// let (a, b) = (NameWords::of("Lò Văn Minh"), NameWords::of("Minh Lò Văn"));
/// assert_eq!(similarity_of(&a, &b), similarity("Lò Văn Minh", "Minh Lò Văn"));
/// ```
pub fn similarity_of(a: &NameWords, b: &NameWords) -> f64 {
    let (wa, wb) = (&a.0, &b.0);
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    if wa == wb {
        return 1.0;
    }
    let (ca, cb): (String, String) = (wa.concat(), wb.concat());
    if ca == cb {
        // Only the spacing differs ("Lò Vănminh").
        return 0.98;
    }
    let (ra, rb) = (readings(wa), readings(wb));
    let mut best = 0.0f64;
    if wa.len() == 1 || wb.len() == 1 {
        // A bare given name says little.
        let (one, other) = if wa.len() == 1 { (wa, wb) } else { (wb, wa) };
        for w in other.iter() {
            best = best.max(0.6 * word_similarity(&one[0], w).min(1.0));
        }
        return best;
    }
    for x in &ra {
        for y in &rb {
            best = best.max(reading_similarity(x, y));
        }
    }
    // The same words in another order.
    let mut sa: Vec<&str> = wa.iter().map(String::as_str).collect();
    let mut sb: Vec<&str> = wb.iter().map(String::as_str).collect();
    sa.sort_unstable();
    sb.sort_unstable();
    if sa == sb {
        best = best.max(0.85);
    }
    // Spacing and one typo together ("Lo Vanmihn").
    if wa.len() != wb.len() && text::edit_distance(&ca, &cb) <= 1 {
        best = best.max(0.85);
    }
    best.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_folds_and_drops_honorifics() {
        assert_eq!(normalise("Lò Văn Minh"), "lo van minh");
        assert_eq!(normalise("LO VAN MINH"), "lo van minh");
        assert_eq!(normalise("Ông Lò Văn Minh"), "lo van minh");
        assert_eq!(normalise("Bà Tẩn Thị Mẩy"), "tan thi may");
        assert_eq!(normalise("Anh Giàng A Páo"), "giang a pao");
        assert_eq!(normalise("ong Lo Van Minh"), "lo van minh");
        assert_eq!(normalise("Hộ ông Lò Văn Minh"), "lo van minh");
        assert_eq!(normalise("Hộ gia đình ông Lò Văn Minh"), "lo van minh");
        assert_eq!(normalise("Ho ong Lo Van Minh"), "lo van minh");
        assert_eq!(normalise("Lò Văn Minh (Giám đốc)"), "lo van minh");
        assert_eq!(normalise("Lò Văn Minh - Chủ tịch HĐQT"), "lo van minh");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("  "), "");
    }

    #[test]
    fn family_names_that_look_like_honorifics_stay() {
        // "Hồ" is a family name, "ho" in ASCII too unless followed by an honorific.
        assert_eq!(normalise("Hồ Văn Minh"), "ho van minh");
        assert_eq!(normalise("Ho Van Minh"), "ho van minh");
        // two words: an honorific is not dropped (it may be the name)
        assert_eq!(normalise("Anh Minh"), "anh minh");
        // Ông is kept when it is the family name of a short name… only if 2 words
        assert_eq!(normalise("Ông Ích"), "ong ich");
    }

    #[test]
    fn parse_splits_vietnamese_order() {
        let p = PersonName::parse("Giàng Seo Phử");
        assert_eq!(p.family, "giang");
        assert_eq!(p.middle, ["seo"]);
        assert_eq!(p.given, "phu");
        let p = PersonName::parse("Nguyễn Thị Thu Hà");
        assert_eq!(p.family, "nguyen");
        assert_eq!(p.middle, ["thi", "thu"]);
        assert_eq!(p.given, "ha");
        assert_eq!(p.joined(), "nguyen thi thu ha");
        let p = PersonName::parse("Minh");
        assert_eq!((p.family.as_str(), p.given.as_str()), ("", "minh"));
        assert!(PersonName::parse("").is_empty());
    }

    #[test]
    fn similarity_scale() {
        let s = similarity;
        assert_eq!(s("Lò Văn Minh", "Lò Văn Minh"), 1.0);
        assert_eq!(s("Lò Văn Minh", "LO VAN MINH"), 1.0);
        assert_eq!(s("Lò Văn Minh", "Ông Lo Van Minh"), 1.0);
        assert_eq!(s("Lò Văn Minh", "Lò  Vănminh"), 0.98);
        let missing_middle = s("Lò Văn Minh", "Lò Minh");
        assert!((0.85..0.95).contains(&missing_middle), "{missing_middle}");
        let reordered = s("Lò Văn Minh", "Minh Lò Văn");
        assert!((0.85..0.95).contains(&reordered), "{reordered}");
        let typo = s("Lò Văn Minh", "Lò Văn Mihn");
        assert!((0.8..0.95).contains(&typo), "{typo}");
        let other_given = s("Lò Văn Minh", "Lò Văn Mạnh");
        assert!(other_given < 0.5, "{other_given}");
        let other_middle = s("Lò Văn Minh", "Lò Thị Minh");
        assert!(other_middle <= 0.75, "{other_middle}");
        let other_family = s("Lò Văn Minh", "Lường Văn Minh");
        assert!(other_family < 0.5, "{other_family}");
        assert!(s("Lò Văn Minh", "Giàng A Páo") < 0.3);
        assert!(s("Tẩn Láo Lở", "Tẩn Thị Mẩy") < 0.6);
        assert!(s("Minh", "Lò Văn Minh") <= 0.6);
        assert_eq!(s("", "Lò Văn Minh"), 0.0);
        assert_eq!(s("Ông", ""), 0.0);
        // symmetric
        for (a, b) in [("Lò Văn Minh", "Lò Minh"), ("Lò Văn Minh", "Lò Thị Mính")] {
            assert_eq!(s(a, b), s(b, a));
        }
    }

    #[test]
    fn shortened_and_reordered_names_are_the_same_person() {
        let s = similarity;
        for other in [
            "Lò Minh",
            "Văn Minh",
            "Minh Lò Văn",
            "Minh Lò",
            "Lo Minh",
            "Van Minh",
            "minh lo van",
            "Ông Văn Minh",
            "Lò Văn Mihn",
            "Lò Vănminh",
        ] {
            let v = s("Lò Văn Minh", other);
            assert!(v >= 0.85, "{other}: {v}");
            assert_eq!(v, s(other, "Lò Văn Minh"), "{other}");
        }
        assert!(s("Nguyễn Thị Thu Hà", "Nguyễn Thu Hà") >= 0.85);
        assert!(s("Nguyễn Thị Thu Hà", "Thị Thu Hà") >= 0.85);
        assert!(s("Giàng Seo Phử", "Seo Phử") >= 0.85);
        assert!(s("Giàng A Páo", "A Páo") >= 0.85);
    }

    #[test]
    fn other_given_or_family_names_stay_low() {
        let s = similarity;
        for other in [
            "Lò Văn Mạnh",
            "Lo Van Manh",
            "Lò Văn Minh Anh",
            "Lò Văn Anh",
            "Lường Văn Minh",
            "Văn Mạnh",
            "Lò Mạnh",
            "Mạnh Lò Văn",
            "Giàng A Minh",
        ] {
            let v = s("Lò Văn Minh", other);
            assert!(v < 0.5, "{other}: {v}");
            assert_eq!(v, s(other, "Lò Văn Minh"), "{other}");
        }
        // another middle name: another person (and sex), though not as clearly
        assert!(s("Lò Văn Minh", "Lò Thị Minh") <= 0.75);
        // a bare given name says little
        assert!(s("Lò Văn Minh", "Minh") <= 0.6);
        assert!(s("Lò Văn Minh", "Mạnh") < 0.3);
    }
}
