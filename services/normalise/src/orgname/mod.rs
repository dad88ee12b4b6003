//! Organisation names (cooperatives, cooperative groups, unions, and the odd enterprise or
//! household among loan borrowers), parsed into the parts a matcher weighs differently.
//!
//! This module owns [`parse`] → [`OrgName`]:
//! - the legal form (`hợp tác xã`, `tổ hợp tác`, `liên hiệp hợp tác xã`, `công ty`…) and the
//!   [`OrgKindHint`] it implies;
//! - sector words (`nông nghiệp`, `dịch vụ`, `sản xuất`…), which say little about identity;
//! - product words (`chè`, `dược liệu`, `mắc ca`…), which say something;
//! - place and other distinctive words (`Bản Hon`, `Tả Lèng`), which say the most;
//! - whether the name looks like a person (a household borrower: `Lò Văn Minh`).
//!
//! Abbreviations are expanded whatever their case, with or without dots, and glued or not:
//! `HTX`, `H.T.X`, `htx`, `THT`, `Tổ HT`, `LHHTX`, `LH HTX`, `NN`, `DV`, `SX`, `TM`, `KD`, `CN`, `NLN`,
//! `TTCN`, `XD`, `VT`, `DL`, `TH`, `HTXNN`, `SXKD-DV`. Spelled-out forms are recognised too,
//! so `HTX NN DV Ban Hon` and `Hợp tác xã Nông nghiệp Dịch vụ Bản Hon` give the same
//! [`OrgName::canonical`].
//!
//! Legal forms are recognised in every spelling met in the sources: `Tổ`, `Tổ SX`, `Tổ HT`,
//! `THT`, `H.T.X`, `HTX.`, `Hop tac xa`, `LHHTX`, `LH HTX`, `Liên hiệp HTX`, `Liên hiệp Hợp tác
//! xã`. Sector words come out in one order whatever order they were written in (`NN DV` and
//! `DV NN` agree), each once, with joiners (`và`, `&`, `-`) dropped. Words typed with Telex or
//! VNI slips are read as meant ([`text::repair_word`]: `vaf` is `và`, `Sif Heo` is `Sì Heo`).
//! A trailing ` - <place>` / `, <place>` naming a unit of the reference lists (`HTX chè Phúc
//! Than - Than Uyên`) is set apart in [`OrgName::suffix_place_tokens`]: it says where the
//! organisation is, not which one it is.
//!
//! Words that fold alike are told apart by their diacritics when the input has them: `nấm`
//! (mushroom) is a product but `Nậm` (in `Nậm Tăm`) is a place; `Tẩn` is a family name but
//! `Tân` is not. Known place names of Lai Châu are recognised first, so `Sà Dề Phìn` or
//! `Bản Bo` never count as goat (`dê`) or cattle (`bò`).

use serde::Serialize;

use crate::text::{self, Word};

mod lexicon;
mod suffix;

use lexicon::*;
use suffix::{
    district_after_its_commune, doubled_trailing_place, place_suffix_start, suffix_places,
    unit_after_its_commune,
};

/// What kind of organisation a name suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKindHint {
    /// Hợp tác xã.
    Htx,
    /// Tổ hợp tác.
    Tht,
    /// Liên hiệp hợp tác xã.
    Lhhtx,
    /// Công ty, doanh nghiệp.
    Enterprise,
    /// A household (`hộ …`, `hộ kinh doanh …`) or a bare person's name.
    Household,
}

/// A parsed organisation name. All token lists hold folded words (see [`text::fold`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgName {
    /// The kind the name suggests, if any.
    pub kind: Option<OrgKindHint>,
    /// The legal form, expanded: `["hop", "tac", "xa"]` for `HTX`.
    pub legal_form_tokens: Vec<String>,
    /// Sector words, expanded: `["nong", "nghiep", "dich", "vu"]` for `NN DV`.
    pub sector_tokens: Vec<String>,
    /// The distinctive words, in order: places, products and anything unrecognised, with
    /// products in their canonical form (`trà` → `che`). What a matcher compares first.
    pub core_tokens: Vec<String>,
    /// The products named, one entry per product, canonical: `["che"]`, `["duoc lieu"]`.
    pub product_tokens: Vec<String>,
    /// `core_tokens` without the product words: places and other names.
    pub place_tokens: Vec<String>,
    /// The name looks like a person's (2–4 words, a Vietnamese family name first, no legal
    /// form, sector or product word).
    pub person_like: bool,
    /// Place words of a trailing ` - <place>` / `, <place>` / `(<place>)` suffix that names
    /// a unit of the reference lists (`HTX chè Phúc Than - Than Uyên` → `["than", "uyen"]`),
    /// folded. They say where the organisation is, not which one it is: they are kept out of
    /// `core_tokens`, `place_tokens` and `canonical`, and given here for a caller that wants
    /// them as location evidence. Empty when nothing distinctive would be left without them.
    pub suffix_place_tokens: Vec<String>,
    /// Words of `place_tokens` that a name with diacritics elsewhere spells in ASCII and
    /// that are also an ambiguous product word (`ca` in `htx nuôi ca Thu Lum`: `cá`, fish,
    /// typed without its marks, or a place `Ca`). Kept as places; a matcher may let them
    /// meet that product in another name.
    pub ascii_product_words: Vec<String>,
    /// [`text::fold`] of the input.
    pub folded: String,
    /// Legal form, sector and core words in their input order, abbreviations expanded,
    /// unit words (`xã`, `huyện`, `bản` before a village…) dropped: `HTX NN DV Ban Hon` →
    /// `hop tac xa nong nghiep dich vu ban hon`.
    pub canonical: String,
}

impl OrgName {
    /// Parses `name`; see [`parse`].
    pub fn parse(name: &str) -> OrgName {
        parse(name)
    }
}

// ---------------------------------------------------------------------------------------
// Parsing.

/// A word without a vowel is no Vietnamese syllable: an abbreviation, maybe glued. Long ones
/// are left alone (the split below backtracks).
fn is_vowel_less(s: &str) -> bool {
    (2..=16).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase())
        && !s
            .bytes()
            .any(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y'))
}

/// Splits a glued run of abbreviations (`htxnn` → `htx nn`); `None` if it is not one.
fn split_glued(s: &str) -> Option<Vec<&'static str>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    // Longest abbreviation first, with backtracking.
    let mut options: Vec<&'static str> = GLUEABLE
        .iter()
        .copied()
        .filter(|a| s.starts_with(a))
        .collect();
    options.sort_by_key(|a| std::cmp::Reverse(a.len()));
    for a in options {
        if let Some(mut rest) = split_glued(&s[a.len()..]) {
            rest.insert(0, a);
            return Some(rest);
        }
    }
    None
}

/// The words of `name`, with glued abbreviations split.
fn name_words(name: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut words = text::words(name).into_iter().peekable();
    while let Some(w) = words.next() {
        // `so61 15`: `số` typed in VNI (6 the circumflex, 1 the acute) before its number;
        // the glued digits are marks, not a second number
        let next_is_number = words
            .peek()
            .is_some_and(|n| n.raw.bytes().all(|b| b.is_ascii_digit()));
        if next_is_number && let Some(word) = vni_so(&w) {
            out.push(word);
            continue;
        }
        // a number glued to the word before it (`số5`, `so12`): two words
        if let Some((word, digits)) = split_trailing_number(&w) {
            out.push(word);
            out.push(digits);
            continue;
        }
        // a legal form glued to the word after it (`HTXNUOI`, `HTXche`, `HTXDịch`)
        if let Some((form, rest)) = split_legal_form(&w) {
            out.push(form);
            out.push(rest);
            continue;
        }
        if is_vowel_less(&w.folded)
            && !GLUEABLE.contains(&w.folded.as_str())
            && let Some(parts) = split_glued(&w.folded)
        {
            for p in parts {
                out.push(Word {
                    raw: p.to_owned(),
                    folded: p.to_owned(),
                    seg: w.seg,
                });
            }
            continue;
        }
        out.push(w);
    }
    out
}

/// `HTXnuôi` → `htx`, `nuôi`: a legal form glued to a word that is a syllable on its own
/// (no Vietnamese syllable starts with `htx` or `tht`).
fn split_legal_form(w: &Word) -> Option<(Word, Word)> {
    let form = ["lhhtx", "htx", "tht"]
        .into_iter()
        .find(|f| w.raw.starts_with(f) && w.raw.len() > f.len())?;
    let raw = &w.raw[form.len()..];
    let folded = text::fold_word(raw);
    if folded.len() < 2 || !text::is_syllable(&folded) {
        return None;
    }
    Some((
        Word {
            raw: form.to_owned(),
            folded: form.to_owned(),
            seg: w.seg,
        },
        Word {
            raw: raw.to_owned(),
            folded,
            seg: w.seg,
        },
    ))
}

/// `so61` → `so`: the word `số` typed without diacritics with VNI marks glued to it (digits
/// `1`–`9`, at most three), when a number follows it as a word of its own.
fn vni_so(w: &Word) -> Option<Word> {
    let letters = w.raw.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &w.raw[letters.len()..];
    (letters == "so" && !digits.is_empty() && digits.len() <= 3 && !digits.contains('0')).then(
        || Word {
            raw: letters.to_owned(),
            folded: letters.to_owned(),
            seg: w.seg,
        },
    )
}

/// `số5` → `số`, `5`: a word of letters with digits glued to its end.
fn split_trailing_number(w: &Word) -> Option<(Word, Word)> {
    let digits = w.raw.len() - w.raw.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let fdigits = w.folded.len()
        - w.folded
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .len();
    if digits == 0 || digits == w.raw.len() {
        return None;
    }
    let (raw, num) = w.raw.split_at(w.raw.len() - digits);
    if !raw.chars().all(char::is_alphabetic) {
        return None;
    }
    let folded = if fdigits == digits {
        w.folded[..w.folded.len() - digits].to_owned()
    } else {
        // typed without diacritics, the digits were read as VNI tone marks (`Ma5` is `Mạ`):
        // right, except after `so`, which a number follows (`so5` is `số 5`, never `sọ`)
        let f = text::fold(raw);
        if f != "so" {
            return None;
        }
        f
    };
    Some((
        Word {
            raw: raw.to_owned(),
            folded,
            seg: w.seg,
        },
        Word {
            raw: num.to_owned(),
            folded: num.to_owned(),
            seg: w.seg,
        },
    ))
}

fn matches_folded(words: &[Word], at: usize, phrase: &[String]) -> bool {
    at + phrase.len() <= words.len()
        && words[at..at + phrase.len()]
            .iter()
            .zip(phrase)
            .all(|(w, p)| w.folded == *p)
}

/// Whether `w` spells the word `raw` (folded `folded`): by its diacritics when it has any,
/// else by its folded form, unless the word is ambiguous in ASCII (`strict`), the input as a
/// whole has diacritics and the word was typed without marks (`gaf`, `gà` in Telex, is no
/// place word written bare).
fn spells(w: &Word, raw: &str, folded: &str, strict: bool, input_ascii: bool) -> bool {
    if w.is_ascii() {
        w.folded == folded && (!strict || input_ascii || w.typed_marks())
    } else {
        w.raw == raw
    }
}

fn match_product(
    words: &[Word],
    at: usize,
    input_ascii: bool,
) -> Option<(usize, &'static str, bool)> {
    for p in &lexicon().products {
        let n = p.raw.len();
        if at + n > words.len() {
            continue;
        }
        // A glued multi-word product ("macca") is one folded word.
        let all = (0..n).all(|k| {
            spells(
                &words[at + k],
                &p.raw[k],
                &p.folded[k],
                p.strict,
                input_ascii,
            )
        });
        if all {
            return Some((n, p.canonical, p.strict && words[at].is_ascii()));
        }
    }
    None
}

/// Whether a folded word is (the ASCII spelling of) a Vietnamese family name.
pub(crate) fn is_family_name_folded(w: &str) -> bool {
    lexicon().family_folded.iter().any(|f| f == w)
}

fn is_family_name(w: &Word) -> bool {
    let lex = lexicon();
    if w.is_ascii() {
        // In ASCII, "tan" may be Tẩn or Tân, "ho" Hồ or Hộ: accept, the other checks
        // (no legal form, no place, 2–4 words) carry the rest.
        lex.family_folded.contains(&w.folded)
    } else {
        lex.family.contains(&w.raw)
    }
}

/// Parses an organisation name. Never fails: an empty or unrecognisable name gives empty
/// lists and no kind.
///
/// ```
/// use hub_normalise::orgname::{parse, OrgKindHint};
/// let a = parse("HTX NN DV Ban Hon");
/// let b = parse("Hợp tác xã Nông nghiệp Dịch vụ Bản Hon");
/// assert_eq!(a.kind, Some(OrgKindHint::Htx));
/// assert_eq!(a.canonical, b.canonical);
/// assert_eq!(a.core_tokens, ["ban", "hon"]);
/// assert_eq!(parse("HTX chè Tả Lèng").product_tokens, ["che"]);
/// assert!(parse("Lò Văn Minh").person_like);
/// ```
pub fn parse(name: &str) -> OrgName {
    let words = name_words(name);
    let input_ascii = name.is_ascii();
    let mut parsed = parse_words(&words, input_ascii);
    // Trailing place suffixes, one segment at a time, while something distinctive is left.
    let mut cut = words.len();
    let mut suffix: Vec<String> = Vec::new();
    while let Some(start) = place_suffix_start(&words[..cut]) {
        let prefix = parse_words(&words[..start], input_ascii);
        let distinctive_left = prefix
            .place_tokens
            .iter()
            .any(|t| t.bytes().any(|b| b.is_ascii_alphabetic()));
        if !distinctive_left {
            break;
        }
        let mut here = suffix_places(&words[start..cut]);
        here.append(&mut suffix);
        suffix = here;
        parsed = prefix;
        cut = start;
    }
    // A district glued to the end after a commune of that district, or a post-reform unit
    // after one of its old communes, with no separator (`HTX Phúc Than Than Uyên`,
    // `HTX Pú Đao số 2 Lê Lợi`).
    if let Some(start) =
        district_after_its_commune(&words[..cut]).or_else(|| unit_after_its_commune(&words[..cut]))
    {
        let prefix = parse_words(&words[..start], input_ascii);
        if prefix
            .place_tokens
            .iter()
            .any(|t| t.bytes().any(|b| b.is_ascii_alphabetic()))
        {
            let mut here = suffix_places(&words[start..cut]);
            here.append(&mut suffix);
            suffix = here;
            parsed = prefix;
            cut = start;
        }
    }
    // The place written twice in a row, the second time as where the organisation is
    // (`HTX thảo quả Tá Bạ Tá Bạ - Mường Tè`): the second is a suffix.
    if let Some(start) = doubled_trailing_place(&words[..cut]) {
        let mut here = suffix_places(&words[start..cut]);
        here.append(&mut suffix);
        suffix = here;
        parsed = parse_words(&words[..start], input_ascii);
    }
    parsed.suffix_place_tokens = suffix;
    parsed.folded = text::fold(name);
    parsed
}

/// Whether a legal-form, sector, product or place phrase starts at `at`.
fn org_word_at(words: &[Word], at: usize, input_ascii: bool) -> bool {
    let lex = lexicon();
    lex.legal
        .iter()
        .any(|(p, _, _)| matches_folded(words, at, &p.words))
        || lex
            .sectors
            .iter()
            .any(|(p, _, _)| matches_folded(words, at, &p.words))
        || lex.places.iter().any(|p| matches_folded(words, at, p))
        || match_product(words, at, input_ascii).is_some()
}

fn parse_words(words: &[Word], input_ascii: bool) -> OrgName {
    let mut r = Reader::new(words, input_ascii);
    while r.i < words.len() {
        let taken = r.take_household()
            || r.take_group()
            || r.take_legal_form()
            || r.take_place()
            || r.take_sector()
            || r.take_product()
            || r.take_stop_word();
        if !taken {
            r.take_name_word();
        }
    }
    r.finish()
}

/// A name read word by word, left to right: what each part of it was taken as so far.
struct Reader<'w> {
    words: &'w [Word],
    input_ascii: bool,
    /// The next word to read.
    i: usize,
    kind: Option<OrgKindHint>,
    legal_form_tokens: Vec<String>,
    core_tokens: Vec<String>,
    product_tokens: Vec<String>,
    place_tokens: Vec<String>,
    ascii_product_words: Vec<String>,
    canonical: Vec<String>,
    /// The input words behind `core_tokens` (products as written), and the first of them.
    core_source: Vec<String>,
    first_core: Option<&'w Word>,
    /// Sector phrases (rank, expansion), and where in `canonical` the first one stood.
    sectors_found: Vec<(usize, &'static str)>,
    sector_at: Option<usize>,
    /// The last word taken was a place or other name word (not a legal, sector or product
    /// word).
    last_was_name: bool,
}

impl<'w> Reader<'w> {
    fn new(words: &'w [Word], input_ascii: bool) -> Self {
        Reader {
            words,
            input_ascii,
            i: 0,
            kind: None,
            legal_form_tokens: Vec::new(),
            core_tokens: Vec::new(),
            product_tokens: Vec::new(),
            place_tokens: Vec::new(),
            ascii_product_words: Vec::new(),
            canonical: Vec::new(),
            core_source: Vec::new(),
            first_core: None,
            sectors_found: Vec::new(),
            sector_at: None,
            last_was_name: false,
        }
    }

    fn push_legal_form(&mut self, expansion: &str) {
        for w in expansion.split(' ') {
            self.legal_form_tokens.push(w.to_owned());
            self.canonical.push(w.to_owned());
        }
    }

    /// Whether a legal form of the lexicon starts the name.
    fn legal_form_first(&self) -> bool {
        lexicon()
            .legal
            .iter()
            .any(|(p, _, _)| matches_folded(self.words, 0, &p.words))
    }

    /// A household: "Hộ …" (with its diacritics), or "Ho ong/ba …" in ASCII.
    fn take_household(&mut self) -> bool {
        if self.i != 0 || self.kind.is_some() {
            return false;
        }
        let words = self.words;
        let w = &words[0];
        let next_is_honorific = words
            .get(1)
            .is_some_and(|n| matches!(n.folded.as_str(), "ong" | "ba" | "anh" | "chi"));
        if !(w.raw == "hộ" || (w.raw == "ho" && next_is_honorific)) || self.legal_form_first() {
            return false;
        }
        self.kind = Some(OrgKindHint::Household);
        self.legal_form_tokens.push("ho".to_owned());
        self.canonical.push("ho".to_owned());
        self.i += 1;
        // "Hộ ông …", "Hộ bà …"
        if words.get(self.i).is_some_and(|n| {
            matches!(n.raw.as_str(), "ông" | "bà" | "anh" | "chị")
                || (n.is_ascii() && matches!(n.raw.as_str(), "ong" | "ba" | "anh" | "chi"))
        }) {
            self.i += 1;
        }
        true
    }

    /// "Tổ …" (a cooperative group: Tổ SX, Tổ chè …), not "Tổ 3" (a residential group) nor
    /// "Tô Văn …" (a family name): with its diacritics, or in ASCII before a word of an
    /// organisation's name.
    fn take_group(&mut self) -> bool {
        let words = self.words;
        if !(self.i == 0
            && self.kind.is_none()
            && words[0].folded == "to"
            && words
                .get(1)
                .is_some_and(|n| !n.folded.bytes().all(|b| b.is_ascii_digit()))
            && !self.legal_form_first()
            && (words[0].raw == "tổ"
                || (words[0].is_ascii() && org_word_at(words, 1, self.input_ascii))))
        {
            return false;
        }
        self.kind = Some(OrgKindHint::Tht);
        self.push_legal_form("to hop tac");
        self.i += 1;
        // "Tổ SX", "Tổ sản xuất", "Tổ HT": the words say what kind of group it is (the legal
        // form), not what it does
        let folded = |k: usize| words.get(k).map(|w| w.folded.as_str());
        match (folded(self.i), folded(self.i + 1)) {
            (Some("sx" | "ht"), _) => self.i += 1,
            (Some("san"), Some("xuat")) | (Some("hop"), Some("tac")) => self.i += 2,
            _ => {}
        }
        true
    }

    fn take_legal_form(&mut self) -> bool {
        let i = self.i;
        let Some((p, e, k)) = lexicon()
            .legal
            .iter()
            .find(|(p, _, _)| matches_folded(self.words, i, &p.words))
            // "Liên hiệp" without "HTX" names a union only first (not in "Hội Liên hiệp
            // Phụ nữ", the women's union)
            .filter(|(p, _, _)| i == 0 || !LEADING_ONLY.contains(&p.words.join(" ").as_str()))
        else {
            return false;
        };
        if self.kind.is_none() {
            self.kind = Some(*k);
        }
        self.push_legal_form(e);
        self.last_was_name = false;
        self.i += p.words.len();
        true
    }

    fn take_place(&mut self) -> bool {
        let i = self.i;
        let Some(p) = lexicon()
            .places
            .iter()
            .find(|p| matches_folded(self.words, i, p))
        else {
            return false;
        };
        for w in p.iter() {
            self.core_tokens.push(w.clone());
            self.place_tokens.push(w.clone());
            self.canonical.push(w.clone());
        }
        self.core_source.extend(p.iter().cloned());
        self.first_core = self.first_core.or(Some(&self.words[i]));
        self.last_was_name = true;
        self.i += p.len();
        true
    }

    /// Abbreviations are ASCII; a spelled-out word with diacritics is one too. Placed in
    /// canonical order at the end ([`Reader::finish`]).
    fn take_sector(&mut self) -> bool {
        let i = self.i;
        let Some((p, e, rank)) = lexicon()
            .sectors
            .iter()
            .find(|(p, _, _)| matches_folded(self.words, i, &p.words))
        else {
            return false;
        };
        self.sectors_found.push((*rank, *e));
        self.sector_at.get_or_insert(self.canonical.len());
        self.last_was_name = false;
        self.i += p.words.len();
        true
    }

    fn take_product(&mut self) -> bool {
        let (words, i) = (self.words, self.i);
        // An ambiguous product word in ASCII right after a name word of the same segment is
        // more likely the rest of that name (`Si Heo`: Sì Heo, not pigs).
        let after_name_word = i > 0 && self.last_was_name && words[i - 1].seg == words[i].seg;
        let Some((n, canon, _)) = match_product(words, i, self.input_ascii)
            .filter(|(_, _, ambiguous)| !(*ambiguous && after_name_word))
        else {
            return false;
        };
        self.product_tokens.push(canon.to_owned());
        for w in canon.split(' ') {
            self.core_tokens.push(w.to_owned());
            self.canonical.push(w.to_owned());
        }
        self.core_source
            .extend(words[i..i + n].iter().map(|w| w.folded.clone()));
        self.first_core = self.first_core.or(Some(&words[i]));
        self.last_was_name = false;
        self.i += n;
        true
    }

    fn take_stop_word(&mut self) -> bool {
        let (words, i) = (self.words, self.i);
        // "Tô" (a family name) first is not the unit word "tổ"
        let family_to = i == 0
            && words[0].folded == "to"
            && words[0].raw != "tổ"
            && words
                .get(1)
                .is_some_and(|n| n.folded.bytes().any(|b| b.is_ascii_alphabetic()));
        let Some(p) = lexicon()
            .stop
            .iter()
            .find(|p| matches_folded(words, i, &p.words))
            .filter(|_| !family_to)
        else {
            return false;
        };
        self.i += p.words.len();
        true
    }

    /// Any other word: a place or other distinctive word of the name.
    fn take_name_word(&mut self) {
        let w = &self.words[self.i];
        if !self.input_ascii
            && w.is_ascii()
            && let Some((1, canon, true)) = match_product(self.words, self.i, true)
            && canon == w.folded
        {
            self.ascii_product_words.push(w.folded.clone());
        }
        self.last_was_name = true;
        self.core_tokens.push(w.folded.clone());
        self.place_tokens.push(w.folded.clone());
        self.canonical.push(w.folded.clone());
        self.core_source.push(w.folded.clone());
        self.first_core = self.first_core.or(Some(w));
        self.i += 1;
    }

    /// Sector words in one order, each phrase once, where the first one stood; and whether
    /// the name is a person's.
    fn finish(mut self) -> OrgName {
        self.sectors_found.sort_unstable();
        self.sectors_found.dedup();
        let sector_tokens: Vec<String> = self
            .sectors_found
            .iter()
            .flat_map(|(_, e)| e.split(' ').map(str::to_owned))
            .collect();
        if let Some(at) = self.sector_at {
            self.canonical.splice(at..at, sector_tokens.iter().cloned());
        }
        // Person-like: 2–4 words, a family name first, no legal form but "hộ", no sector
        // word, and not a place. A product word may be a given name ("Sùng A Dê"): it counts
        // as one.
        let person_like = self.legal_form_tokens.iter().all(|t| t == "ho")
            && sector_tokens.is_empty()
            && (2..=4).contains(&self.core_source.len())
            && self
                .core_source
                .iter()
                .all(|t| t.chars().all(char::is_alphabetic))
            && !lexicon()
                .places
                .iter()
                .any(|p| self.core_source.starts_with(p))
            && self.first_core.is_some_and(is_family_name);
        if person_like {
            self.kind = self.kind.or(Some(OrgKindHint::Household));
            self.product_tokens.clear();
            self.canonical.clone_from(&self.legal_form_tokens);
            self.canonical.extend(self.core_source.iter().cloned());
            self.core_tokens.clone_from(&self.core_source);
            self.place_tokens = self.core_source;
        }
        OrgName {
            kind: self.kind,
            legal_form_tokens: self.legal_form_tokens,
            sector_tokens,
            core_tokens: self.core_tokens,
            product_tokens: self.product_tokens,
            place_tokens: self.place_tokens,
            person_like,
            suffix_place_tokens: Vec::new(),
            ascii_product_words: self.ascii_product_words,
            folded: String::new(),
            canonical: self.canonical.join(" "),
        }
    }
}

/// [`parse`]`(name).canonical`: the name folded with abbreviations expanded.
///
/// ```
/// use hub_normalise::orgname::expand;
/// assert_eq!(expand("H.T.X SX-KD-DV chè Tả Lèng"), "hop tac xa san xuat kinh doanh dich vu che ta leng");
/// ```
pub fn expand(name: &str) -> String {
    parse(name).canonical
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_specs_examples_agree() {
        let registry = parse("Hợp tác xã Nông nghiệp Dịch vụ Bản Hon");
        let loan = parse("HTX NN DV Ban Hon");
        let ntm = parse("HTX Bản Hon");
        for n in [&registry, &loan, &ntm] {
            assert_eq!(n.kind, Some(OrgKindHint::Htx));
            assert_eq!(n.legal_form_tokens, v(&["hop", "tac", "xa"]));
            assert_eq!(n.core_tokens, v(&["ban", "hon"]));
            assert_eq!(n.place_tokens, v(&["ban", "hon"]));
            assert!(n.product_tokens.is_empty());
            assert!(!n.person_like);
        }
        assert_eq!(registry.sector_tokens, v(&["nong", "nghiep", "dich", "vu"]));
        assert_eq!(loan.sector_tokens, registry.sector_tokens);
        assert!(ntm.sector_tokens.is_empty());
        assert_eq!(loan.canonical, "hop tac xa nong nghiep dich vu ban hon");
        assert_eq!(registry.canonical, loan.canonical);
        assert_eq!(loan.folded, "htx nn dv ban hon");
        assert_eq!(registry.folded, "hop tac xa nong nghiep dich vu ban hon");
    }

    #[test]
    fn abbreviations_in_every_spelling() {
        let want = "hop tac xa nong nghiep dich vu ban hon";
        for s in [
            "HTX NN DV Bản Hon",
            "htx nn dv ban hon",
            "Htx Nn Dv BAN HON",
            "H.T.X N.N D.V Bản Hon",
            "HTX. NN. DV. Bản Hon",
            "HTX NN-DV Bản Hon",
            "HTX NN&DV Bản Hon",
            "HTX NN và DV Bản Hon",
            "HTXNN DV Bản Hon",
            "HTX NNDV Bản Hon",
            "  HTX   NN  DV   Bản  Hon ",
            "HỢP TÁC XÃ NÔNG NGHIỆP DỊCH VỤ BẢN HON",
            "Hop tac xa Nong nghiep Dich vu Ban Hon",
            "HTX Nông nghiệp DV xã Bản Hon",
        ] {
            assert_eq!(parse(s).canonical, want, "{s:?}");
        }
    }

    #[test]
    fn every_sector_abbreviation_expands() {
        for (abbr, full) in [
            ("NN", "nong nghiep"),
            ("DV", "dich vu"),
            ("SX", "san xuat"),
            ("TM", "thuong mai"),
            ("KD", "kinh doanh"),
            ("CN", "chan nuoi"),
            ("NLN", "nong lam nghiep"),
            ("TTCN", "tieu thu cong nghiep"),
            ("XD", "xay dung"),
            ("VT", "van tai"),
            ("DL", "du lich"),
            ("TH", "tong hop"),
        ] {
            let a = parse(&format!("HTX {abbr} Tả Lèng"));
            let b = parse(&format!("Hợp tác xã {full} Tả Lèng"));
            assert_eq!(a.sector_tokens.join(" "), full, "{abbr}");
            assert_eq!(a.canonical, b.canonical, "{abbr}");
            assert_eq!(a.core_tokens, v(&["ta", "leng"]), "{abbr}");
            let dotted: String = abbr.chars().flat_map(|c| [c, '.']).collect();
            assert_eq!(
                parse(&format!("HTX {dotted} Tả Lèng")).canonical,
                a.canonical
            );
        }
        let glued = parse("HTX SXKD-TMDV Nậm Xe");
        assert_eq!(
            glued.sector_tokens.join(" "),
            "san xuat kinh doanh thuong mai dich vu"
        );
        assert_eq!(glued.core_tokens, v(&["nam", "xe"]));
    }

    #[test]
    fn legal_forms_and_kinds() {
        let k = |s: &str| parse(s).kind;
        assert_eq!(k("HTX Bản Hon"), Some(OrgKindHint::Htx));
        assert_eq!(k("Hợp tác xã chè Tả Lèng"), Some(OrgKindHint::Htx));
        assert_eq!(k("THT chăn nuôi Nà Tăm"), Some(OrgKindHint::Tht));
        assert_eq!(k("Tổ hợp tác nuôi ong Hồ Thầu"), Some(OrgKindHint::Tht));
        assert_eq!(k("T.H.T rau sạch Sơn Bình"), Some(OrgKindHint::Tht));
        assert_eq!(k("Tổ HT sản xuất lúa Nậm Tăm"), Some(OrgKindHint::Tht));
        assert_eq!(
            parse("To HT trong che Nung Nang").canonical,
            parse("Tổ hợp tác trồng chè Nùng Nàng").canonical
        );
        assert_eq!(k("LHHTX Lai Châu"), Some(OrgKindHint::Lhhtx));
        assert_eq!(k("LH HTX Lai Châu"), Some(OrgKindHint::Lhhtx));
        assert_eq!(k("Liên hiệp HTX Lai Châu"), Some(OrgKindHint::Lhhtx));
        assert_eq!(
            k("Liên hiệp hợp tác xã nông nghiệp Lai Châu"),
            Some(OrgKindHint::Lhhtx)
        );
        assert_eq!(
            k("Liên hiệp các hợp tác xã Tam Đường"),
            Some(OrgKindHint::Lhhtx)
        );
        assert_eq!(
            k("Công ty TNHH MTV chè Tam Đường"),
            Some(OrgKindHint::Enterprise)
        );
        assert_eq!(k("Cty CP chè Than Uyên"), Some(OrgKindHint::Enterprise));
        assert_eq!(k("Hộ kinh doanh Lò Văn Minh"), Some(OrgKindHint::Household));
        assert_eq!(k("Hộ ông Lò Văn Minh"), Some(OrgKindHint::Household));
        assert_eq!(k("Ho ong Lo Van Minh"), Some(OrgKindHint::Household));
        assert_eq!(k("Lò Văn Minh"), Some(OrgKindHint::Household));
        assert_eq!(k("Bản Hon"), None);
        assert_eq!(k(""), None);
        let l = parse("LH HTX Lai Châu");
        assert_eq!(
            l.legal_form_tokens,
            v(&["lien", "hiep", "hop", "tac", "xa"])
        );
        assert_eq!(l.core_tokens, v(&["lai", "chau"]));
        assert_eq!(
            parse("THT Nà Tăm").legal_form_tokens,
            v(&["to", "hop", "tac"])
        );
    }

    #[test]
    fn products_are_their_own_class() {
        let n = parse("HTX chè Tả Lèng");
        assert_eq!(n.product_tokens, v(&["che"]));
        assert_eq!(n.core_tokens, v(&["che", "ta", "leng"]));
        assert_eq!(n.place_tokens, v(&["ta", "leng"]));
        assert_eq!(parse("HTX che Ta Leng").product_tokens, v(&["che"]));
        assert_eq!(parse("HTX trà Tả Lèng").core_tokens, n.core_tokens);

        let n = parse("HTX dược liệu Sìn Hồ");
        assert_eq!(n.product_tokens, v(&["duoc lieu"]));
        assert_eq!(n.place_tokens, v(&["sin", "ho"]));
        let n = parse("HTX Mắc ca Tam Đường");
        assert_eq!(n.product_tokens, v(&["mac ca"]));
        assert_eq!(parse("HTX Macca Tam Duong").product_tokens, v(&["mac ca"]));
        let n = parse("HTX thảo quả, sâm Lai Châu Mường Tè");
        assert_eq!(n.product_tokens, v(&["thao qua", "sam"]));
        assert_eq!(n.place_tokens, v(&["lai", "chau", "muong", "te"]));
        let n = parse("HTX chăn nuôi lợn, gà, bò Nậm Tăm");
        assert_eq!(n.sector_tokens, v(&["chan", "nuoi"]));
        assert_eq!(n.product_tokens, v(&["lon", "ga", "bo"]));
        assert_eq!(n.place_tokens, v(&["nam", "tam"]));
        let n = parse("THT nuôi cá, trồng rau, nấm Bình Lư");
        assert_eq!(n.product_tokens, v(&["ca", "rau", "nam"]));
        let n = parse("HTX lúa gạo, quế, chuối, cao su, dê, ong Than Uyên");
        assert_eq!(
            n.product_tokens,
            v(&["lua", "gao", "que", "chuoi", "cao su", "de", "ong"])
        );
        // "trồng", "nuôi": activities, said or left out, never a distinctive word
        let n = parse("THT trồng mắc ca Lả Mường số 2");
        assert!(!n.place_tokens.contains(&"trong".to_owned()), "{n:?}");
        assert_eq!(n.sector_tokens, v(&["trong"]));
        let n = parse("Tổ hợp tác nuôi cá lồng Tủa Sín Chải");
        assert!(!n.place_tokens.contains(&"nuoi".to_owned()), "{n:?}");
        // in ASCII, "To" before an activity is the group ("Tổ"), not a word of the name
        assert_eq!(
            parse("To trong mac ca La Muong so 2").kind,
            Some(OrgKindHint::Tht)
        );
        assert_eq!(
            parse("To trong mac ca La Muong so 2").place_tokens,
            parse("Tổ SX mắc ca Lả Mường số 2").place_tokens
        );
        // "chế biến" is a sector, the "chè" after it a product
        let n = parse("HTX chế biến chè Tân Uyên");
        assert_eq!(n.sector_tokens, v(&["che", "bien"]));
        assert_eq!(n.product_tokens, v(&["che"]));
    }

    #[test]
    fn places_are_not_mistaken_for_products() {
        // dê (goat) in Sà Dề Phìn, bò (cattle) in Bản Bo, cá (fish) in Mù Cả,
        // sâm (ginseng) in Pu Sam Cáp, nấm (mushroom) in Nậm Xe.
        for (s, place) in [
            ("HTX Sà Dề Phìn", "sa de phin"),
            ("HTX Bản Bo", "ban bo"),
            ("HTX Mù Cả", "mu ca"),
            ("HTX Pu Sam Cáp", "pu sam cap"),
            ("HTX Nậm Xe", "nam xe"),
            ("HTX NN Nam Xe", "nam xe"),
        ] {
            let n = parse(s);
            assert!(n.product_tokens.is_empty(), "{s}: {n:?}");
            assert_eq!(n.place_tokens.join(" "), place, "{s}");
        }
        // diacritics tell nấm from Nậm, and an ASCII "nam" in a name with diacritics is
        // not trusted as a product
        assert_eq!(parse("HTX nấm Nậm Khum").product_tokens, v(&["nam"]));
        assert!(parse("HTX Nậm Khum").product_tokens.is_empty());
        assert!(parse("HTX Nam Khum Tân Uyên").product_tokens.is_empty());
        // in an all-ASCII name it is
        assert_eq!(parse("HTX nam huong Tan Uyen").product_tokens, v(&["nam"]));
    }

    #[test]
    fn unit_and_village_words_are_dropped() {
        let n = parse("HTX NN xã Bản Hon, huyện Tam Đường, tỉnh Lai Châu");
        assert_eq!(n.place_tokens, v(&["ban", "hon"]));
        assert_eq!(n.suffix_place_tokens, v(&["tam", "duong", "lai", "chau"]));
        let n = parse("THT bản Nà Khum");
        assert_eq!(n.core_tokens, v(&["na", "khum"]));
        let n = parse("HTX thôn 3 Bình Lư");
        assert_eq!(n.core_tokens, v(&["3", "binh", "lu"]));
    }

    #[test]
    fn person_like_names() {
        for s in [
            "Lò Văn Minh",
            "Lo Van Minh",
            "LÒ VĂN MINH",
            "Giàng A Páo",
            "Tẩn Láo Lở",
            "Vàng Thị Mai",
            "Sùng A Dê",
            "Nguyễn Thị Thu Hà",
            "Trần Hưng",
            "Đèo Văn Ọt",
            "Lường Thị Xuân",
            "Chảo Láo Sử",
            "Phàn Lở Mẩy",
            "Hộ ông Lò Văn Minh",
        ] {
            let n = parse(s);
            assert!(n.person_like, "{s}: {n:?}");
            assert_eq!(n.kind, Some(OrgKindHint::Household), "{s}");
        }
        for s in [
            "HTX Lò Văn Minh",
            "Bản Hon",
            "Tân Uyên",
            "Tan Uyen",
            "Vàng San",
            "Lê Lợi",
            "Hồ Thầu",
            "Lò Văn Minh Bản Hon Tam Đường",
            "Minh",
            "Tân Phong",
            "Nậm Xe",
            "Vàng A 2",
        ] {
            assert!(!parse(s).person_like, "{s}: {:?}", parse(s));
        }
        // a given name that is also a product stays a name
        let n = parse("Sùng A Dê");
        assert!(n.product_tokens.is_empty());
        assert_eq!(n.core_tokens, v(&["sung", "a", "de"]));
        assert_eq!(n.canonical, "sung a de");
        assert_eq!(parse("Hộ ông Lò Văn Heo").canonical, "ho lo van heo");
        // Tân is not a family name, Tẩn is
        assert!(!parse("Tân Văn Minh").person_like);
        assert!(parse("Tẩn Văn Minh").person_like);
    }

    #[test]
    fn degenerate_inputs() {
        for s in ["", "   ", "...", "HTX", "-"] {
            let n = parse(s);
            assert!(n.core_tokens.is_empty(), "{s:?}");
            assert!(!n.person_like);
        }
        assert_eq!(parse("HTX").kind, Some(OrgKindHint::Htx));
        assert_eq!(parse("HTX số 1").core_tokens, v(&["1"]));
        // a number glued to `số` is the same number
        for glued in [
            "Tổ hợp tác trồng chè Nậm Mở số5",
            "To hop tac trong che Nam Mo so5",
        ] {
            assert_eq!(
                parse(glued).core_tokens,
                parse("Tổ hợp tác trồng chè Nậm Mở số 5").core_tokens,
                "{glued}"
            );
        }
        assert_eq!(
            parse("HTX Dịch vụ Tổng hợp Huổi Luông số12").core_tokens,
            parse("HTX Dịch vụ Tổng hợp Huổi Luông số 12").core_tokens
        );
        // `số` typed in VNI (`so61`, `so16`, `so6`) before its number: one number, the one
        // that follows; at the end, the glued digits stay the number
        let fifteen = parse("HTX Dịch vụ Tổng hợp Tủa Sín Chải số 15").core_tokens;
        for typed in [
            "HTX Dich vu Tong hop Tua Sins Chai so61 15",
            "HTX Dich vu Tong hop Tua Sin Chai so16 15",
            "HTX Dich vu Tong hop Tua Sin Chai so6 15",
        ] {
            assert_eq!(parse(typed).core_tokens, fifteen, "{typed}");
        }
        assert_eq!(
            parse("HTX Dich vu Tong hop Tua Sin Chai so15").core_tokens,
            fifteen
        );
        assert_eq!(OrgName::parse("HTX Bản Hon"), parse("HTX Bản Hon"));
        assert_eq!(
            serde_json::to_value(OrgKindHint::Lhhtx).unwrap(),
            serde_json::json!("lhhtx")
        );
    }

    #[test]
    fn glued_abbreviations_split_only_when_they_are_abbreviations() {
        assert_eq!(split_glued("htxnn"), Some(vec!["htx", "nn"]));
        assert_eq!(split_glued("sxkddv"), Some(vec!["sx", "kd", "dv"]));
        assert_eq!(split_glued("lhhtx"), Some(vec!["lhhtx"]));
        assert_eq!(split_glued("xyz"), None);
        assert!(is_vowel_less("htxnn"));
        assert!(!is_vowel_less("hon"));
        assert!(!is_vowel_less("cty"));
        assert!(!is_vowel_less(&"th".repeat(100)));
        let long = format!("HTX {} Bản Hon", "TH".repeat(500));
        assert_eq!(parse(&long).core_tokens.len(), 3);
        // an unknown vowel-less word stays as it is
        assert_eq!(
            parse("HTX QRS Bản Hon").core_tokens,
            v(&["qrs", "ban", "hon"])
        );
    }

    #[test]
    fn legal_forms_in_every_spelling() {
        let tht = [
            "Tổ chè Tả Lèng",
            "Tổ SX chè Tả Lèng",
            "Tổ HT chè Tả Lèng",
            "THT chè Tả Lèng",
            "T.H.T chè Tả Lèng",
            "Tổ hợp tác chè Tả Lèng",
            "TỔ HỢP TÁC CHÈ TẢ LÈNG",
            "To SX che Ta Leng",
            "To HT che Ta Leng",
            "To che Ta Leng",
            "Toor hopwj tacs chef Ta Leng",
        ];
        for s in tht {
            let n = parse(s);
            assert_eq!(n.kind, Some(OrgKindHint::Tht), "{s}: {n:?}");
            assert_eq!(n.legal_form_tokens, v(&["to", "hop", "tac"]), "{s}");
            assert_eq!(n.core_tokens, v(&["che", "ta", "leng"]), "{s}");
        }
        // "TS" is thủy sản (aquaculture), as in "HTX NN & TS"
        assert_eq!(
            parse("HTX TS Nậm Cha").canonical,
            parse("Hợp tác xã Thủy sản Nậm Cha").canonical
        );
        // "SX" after "Tổ" is part of the legal form (a production group), not a sector the
        // registry's "Tổ hợp tác chè Tả Lèng" would lack
        assert!(parse("Tổ SX chè Tả Lèng").sector_tokens.is_empty());
        let htx = [
            "HTX chè Tả Lèng",
            "H.T.X chè Tả Lèng",
            "HTX. chè Tả Lèng",
            "Hop tac xa che Ta Leng",
            "hợp tác xã chè Tả Lèng",
            "Hopj tacs xax chef Tar Lefng",
            // two neighbouring letters of the abbreviation swapped
            "HXT chè Tả Lèng",
            "THX chè Tả Lèng",
        ];
        for s in htx {
            let n = parse(s);
            assert_eq!(n.kind, Some(OrgKindHint::Htx), "{s}: {n:?}");
            assert_eq!(n.core_tokens, v(&["che", "ta", "leng"]), "{s}");
        }
        // "Tổ SX" / "Tổ sản xuất" / "Tổ HT": the legal form, not a sector
        for s in [
            "Tổ SX chè Bản Hon",
            "To SX che Ban Hon",
            "Tổ sản xuất chè Bản Hon",
            "Tổ HT chè Bản Hon",
        ] {
            let n = parse(s);
            assert_eq!(n.kind, Some(OrgKindHint::Tht), "{s}");
            assert!(n.sector_tokens.is_empty(), "{s}: {:?}", n.sector_tokens);
        }
        // not a group: an address's "tổ 3", a family name "Tô"
        assert_eq!(parse("Tổ 3 Tân Phong").kind, None);
        assert!(parse("Tô Văn Minh").person_like);
        assert!(parse("To Van Minh").person_like);
    }

    #[test]
    fn unions_of_cooperatives_in_every_spelling() {
        for s in [
            "LHHTX Than Uyên",
            "L.H.H.T.X Than Uyên",
            "LH HTX Than Uyên",
            "LH.HTX Than Uyên",
            "LH-HTX Than Uyên",
            "Liên hiệp HTX Than Uyên",
            "Lien hiep HTX Than Uyen",
            "LIÊN HIỆP HTX THAN UYÊN",
            "Liên hiệp Hợp tác xã Than Uyên",
            "Liên hiệp các hợp tác xã Than Uyên",
            "Liên hiệp các HTX Than Uyên",
            "LH các HTX Than Uyên",
            "Liên hiệp hợp tác Than Uyên",
            "Liên hiệp Than Uyên",
            "Lieen hieepj HTX Than Uyeen",
        ] {
            let n = parse(s);
            assert_eq!(n.kind, Some(OrgKindHint::Lhhtx), "{s}: {n:?}");
            assert_eq!(
                n.legal_form_tokens,
                v(&["lien", "hiep", "hop", "tac", "xa"]),
                "{s}"
            );
            assert_eq!(n.core_tokens, v(&["than", "uyen"]), "{s}");
            assert_eq!(n.canonical, "lien hiep hop tac xa than uyen", "{s}");
        }
        // the women's union is no union of cooperatives
        let n = parse("Hội Liên hiệp Phụ nữ xã Bản Hon");
        assert_ne!(n.kind, Some(OrgKindHint::Lhhtx));
        // a union with sectors: still a union
        let n = parse("Liên hiệp HTX nông nghiệp dịch vụ Than Uyên");
        assert_eq!(n.kind, Some(OrgKindHint::Lhhtx));
        assert_eq!(n.sector_tokens, v(&["nong", "nghiep", "dich", "vu"]));
    }

    #[test]
    fn sector_words_in_any_order_and_with_any_joiner() {
        let want = parse("HTX NN DV Bản Hon");
        for s in [
            "HTX DV NN Bản Hon",
            "HTX NN và DV Bản Hon",
            "HTX DV và NN Bản Hon",
            "HTX NN & DV Bản Hon",
            "HTX NN vaf DV Bản Hon",
            "HTX Dịch vụ Nông nghiệp Bản Hon",
            "HTX dịch vụ và nông nghiệp Bản Hon",
            "HTX NN-DV Bản Hon",
            "HTX DV-NN Bản Hon",
            "HTX NN DV NN Bản Hon",
            "HTX DV, NN Bản Hon",
        ] {
            let n = parse(s);
            assert_eq!(n.sector_tokens, want.sector_tokens, "{s}");
            assert_eq!(n.core_tokens, want.core_tokens, "{s}");
            assert_eq!(n.canonical, want.canonical, "{s}");
            assert_eq!(n.kind, want.kind, "{s}");
        }
        let a = parse("HTX SX-KD chè Tả Lèng");
        let b = parse("HTX kinh doanh và sản xuất chè Tả Lèng");
        let c = parse("HTX SXKD chè Tả Lèng");
        assert_eq!(a.sector_tokens, v(&["san", "xuat", "kinh", "doanh"]));
        assert_eq!(a.canonical, b.canonical);
        assert_eq!(a.canonical, c.canonical);
        assert_eq!(a.core_tokens, v(&["che", "ta", "leng"]));
    }

    #[test]
    fn telex_and_vni_slips_read_as_meant() {
        let meant = parse("HTX Sì Heo");
        assert_eq!(meant.core_tokens, v(&["si", "heo"]));
        for s in [
            "HTX Sif Heo",
            "HTX Si2 Heo",
            "HTX Sir Heo",
            "htx SIF heo",
            "HTX Si Heo",
        ] {
            assert_eq!(parse(s).core_tokens, meant.core_tokens, "{s}");
        }
        assert_eq!(parse("HTX Namj Ma").core_tokens, v(&["nam", "ma"]));
        // syllables glued at their capitals, VNI marks in them
        assert_eq!(
            parse("HTX Vang MaChai3").core_tokens,
            v(&["vang", "ma", "chai"])
        );
        // a legal form glued to the next word
        for s in [
            "HTXNUOI CA Cu Nha La",
            "HTXnuôi cá Cư Nhà La",
            "htxNuoi ca Cu Nha La",
        ] {
            let n = parse(s);
            assert_eq!(n.kind, Some(OrgKindHint::Htx), "{s}");
            assert_eq!(n.canonical, parse("HTX nuôi cá Cư Nhà La").canonical, "{s}");
        }
        assert_eq!(parse("HTXDịch vụ Lả Mường").kind, Some(OrgKindHint::Htx));
        assert_eq!(parse("THT Haam Lếch").core_tokens, v(&["ham", "lech"]));
        let n = parse("HTX Thao qau Sin Ho");
        assert_eq!(n.product_tokens, v(&["thao qua"]));
        // a product word typed with its mark (`gaf` is `gà`) amid diacritics is the product;
        // written bare there, it may be a place word
        let n = parse("HTX CN gaf Ma Ly Pho  số 3,");
        assert_eq!(n.product_tokens, v(&["ga"]));
        assert_eq!(
            n.canonical,
            parse("HTX chăn nuôi gà Ma Ly Pho số 3").canonical
        );
        assert!(
            parse("HTX nuôi ga Ma Ly Pho số 3")
                .product_tokens
                .is_empty()
        );
        // NFD, non-breaking and double spaces, partial capitals
        use unicode_normalization::UnicodeNormalization;
        let nfd: String = "Hợp tác xã Nông nghiệp Bản Hon".nfd().collect();
        let want = parse("HTX NN Bản Hon");
        assert_eq!(parse(&nfd).canonical, want.canonical);
        assert_eq!(
            parse("hTx\u{00A0}\u{00A0}nN  BẢn   hON").canonical,
            want.canonical
        );
    }

    #[test]
    fn place_suffixes_are_set_apart() {
        for (s, core, suffix) in [
            (
                "HTX chè Phúc Than - Than Uyên",
                &["che", "phuc", "than"][..],
                &["than", "uyen"][..],
            ),
            (
                "HTX chè Phuc Than - Than Uyen",
                &["che", "phuc", "than"],
                &["than", "uyen"],
            ),
            ("HTX Nậm Tăm, Sìn Hồ", &["nam", "tam"], &["sin", "ho"]),
            ("HTX Nam Tam, Sin Ho", &["nam", "tam"], &["sin", "ho"]),
            ("HTX Hua Bun - Nam Nhun", &["hua", "bun"], &["nam", "nhun"]),
            (
                "HTX NN Bản Hon (huyện Tam Đường)",
                &["ban", "hon"],
                &["tam", "duong"],
            ),
            (
                "HTX Bản Hon - H.Tam Đường - Lai Châu",
                &["ban", "hon"],
                &["tam", "duong", "lai", "chau"],
            ),
            ("HTX Bản Hon, xã Bản Hon", &["ban", "hon"], &["ban", "hon"]),
            ("HTX Hoa Sen - Tân Uyên", &["hoa", "sen"], &["tan", "uyen"]),
        ] {
            let n = parse(s);
            assert_eq!(n.core_tokens, v(core), "{s}: {n:?}");
            assert_eq!(n.suffix_place_tokens, v(suffix), "{s}");
            assert!(n.canonical.ends_with(&core.join(" ")), "{s}");
        }
        assert_eq!(
            parse("HTX Nậm Tăm, Sìn Hồ").canonical,
            parse("HTX Nậm Tăm").canonical
        );
        // kept when nothing distinctive would be left, or when it is not only a place
        for (s, core) in [
            ("HTX Sìn Hồ", &["sin", "ho"][..]),
            ("HTX NN - Sìn Hồ", &["sin", "ho"]),
            ("HTX chè, Tả Lèng", &["che", "ta", "leng"]),
            ("HTX Tân Uyên", &["tan", "uyen"]),
            ("HTX Bản Hon - chè", &["ban", "hon", "che"]),
            ("HTX Hoa Sen - Hoa Ban", &["hoa", "sen", "hoa"]),
            ("HTX Nậm Tăm Tam Đường", &["nam", "tam", "tam", "duong"]),
            ("HTX Mường Tè", &["muong", "te"]),
        ] {
            let n = parse(s);
            assert_eq!(n.core_tokens, v(core), "{s}: {n:?}");
            assert!(n.suffix_place_tokens.is_empty(), "{s}");
        }
        // a district glued after one of its communes
        for (s, core, suffix) in [
            (
                "HTX Phúc Than Than Uyên",
                &["phuc", "than"][..],
                &["than", "uyen"][..],
            ),
            (
                "HTX chè Ban Hon Tam Duong",
                &["che", "ban", "hon"],
                &["tam", "duong"],
            ),
            (
                "HTX Bản Hon Tam Đường, Lai Châu",
                &["ban", "hon"],
                &["tam", "duong", "lai", "chau"],
            ),
            // with the organisation's number between commune and district
            (
                "HTX SX va TM Sa De Phin so 2 Sin Ho",
                &["sa", "de", "phin", "2"],
                &["sin", "ho"],
            ),
            (
                "HTX Bản Hon 3 Tam Đường",
                &["ban", "hon", "3"],
                &["tam", "duong"],
            ),
            // the commune written twice, the second time before its district
            (
                "HTX thảo quả Tá Bạ Tá Bạ - Mường Tè",
                &["thao", "qua", "ta", "ba"],
                &["ta", "ba", "muong", "te"],
            ),
            (
                "HTX thao qua Ta Ba Ta Ba",
                &["thao", "qua", "ta", "ba"],
                &["ta", "ba"],
            ),
        ] {
            let n = parse(s);
            assert_eq!(n.core_tokens, v(core), "{s}: {n:?}");
            assert_eq!(n.suffix_place_tokens, v(suffix), "{s}");
        }
        // a number before a district the commune is not in: the district is part of the name
        let n = parse("HTX Bản Hon số 2 Sìn Hồ");
        assert!(n.suffix_place_tokens.is_empty(), "{n:?}");
        // the post-reform unit glued after one of its old communes (Pú Đao is part of Lê Lợi
        // since 2025), with or without the number between, is where it is, not its name
        for (s, core) in [
            (
                "HTX DV Tổng hợp Pú Đao số 2 Lê Lợi",
                &["pu", "dao", "2"][..],
            ),
            ("HTX chè Pú Đao Lê Lợi", &["che", "pu", "dao"]),
        ] {
            let n = parse(s);
            assert_eq!(n.core_tokens, v(core), "{s}: {n:?}");
            assert_eq!(n.suffix_place_tokens, v(&["le", "loi"]), "{s}");
        }
        // a commune the unit did not take in: both places are the name
        let n = parse("HTX Bản Hon Lê Lợi");
        assert!(n.suffix_place_tokens.is_empty(), "{n:?}");
        // a household borrower with its place: a person again
        let n = parse("Lò Văn Minh, Tam Đường");
        assert!(n.person_like, "{n:?}");
        assert_eq!(n.suffix_place_tokens, v(&["tam", "duong"]));
        assert_eq!(n.folded, "lo van minh tam duong");
    }
}
