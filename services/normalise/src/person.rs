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
//!   and the middle name, and tolerates a missing middle name, spacing and one-letter typos.

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

/// How alike two person names are, in `[0, 1]`, after [`normalise`].
///
/// - `1.0`: the same name however written (diacritics, case, spacing, honorific).
/// - about `0.9`: a middle name missing on one side (`Lò Minh` / `Lò Văn Minh`), or the same
///   words in another order.
/// - about `0.85`: one letter wrong in the given name (`Minh` / `Manh`, `Minh` / `Mihn`).
/// - `0.75` or less: a different middle name (`Lò Văn Minh` / `Lò Thị Minh`) or worse.
/// - `0.0`: either side empty.
///
/// It is a comparison aid, not a decision: the caller weighs it with other evidence.
///
/// ```
/// use hub_normalise::person::similarity;
/// assert_eq!(similarity("Lò Văn Minh", "Lo Van Minh"), 1.0);
/// assert!(similarity("Lò Văn Minh", "Lò Minh") > 0.85);
/// assert!(similarity("Lò Văn Minh", "Giàng A Páo") < 0.3);
/// ```
pub fn similarity(a: &str, b: &str) -> f64 {
    let pa = PersonName::parse(a);
    let pb = PersonName::parse(b);
    if pa.is_empty() || pb.is_empty() {
        return 0.0;
    }
    let (ja, jb) = (pa.joined(), pb.joined());
    if ja == jb {
        return 1.0;
    }
    let (ca, cb): (String, String) = (ja.split(' ').collect(), jb.split(' ').collect());
    if ca == cb {
        // Only the spacing differs ("Lò Vănminh").
        return 0.98;
    }
    let aligned = if pa.family.is_empty() || pb.family.is_empty() {
        // One side is a bare given name.
        0.6 * edit_similarity(&pa.given, &pb.given)
    } else {
        let family = edit_similarity(&pa.family, &pb.family);
        let given = edit_similarity(&pa.given, &pb.given);
        let middle = match (pa.middle.is_empty(), pb.middle.is_empty()) {
            (true, true) => 1.0,
            (true, false) | (false, true) => 0.6,
            (false, false) => edit_similarity(&pa.middle.join(" "), &pb.middle.join(" ")),
        };
        0.25 * family + 0.25 * middle + 0.5 * given
    };
    // The same words in another order (given name written first).
    let mut sa: Vec<&str> = ja.split(' ').collect();
    let mut sb: Vec<&str> = jb.split(' ').collect();
    sa.sort_unstable();
    sb.sort_unstable();
    let reordered = if sa == sb { 0.9 } else { 0.0 };
    // Spacing or a split syllable that shifts the words ("Lo Vanminh").
    let whole = 0.85 * edit_similarity(&ca, &cb);
    aligned.max(reordered).max(whole).clamp(0.0, 1.0)
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
        assert!((0.8..0.9).contains(&other_given), "{other_given}");
        let other_middle = s("Lò Văn Minh", "Lò Thị Minh");
        assert!(other_middle <= 0.75, "{other_middle}");
        let other_family = s("Lò Văn Minh", "Lường Văn Minh");
        assert!(other_family < other_given, "{other_family}");
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
}
