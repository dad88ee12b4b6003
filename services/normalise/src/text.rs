//! Text folding: the one definition of "the same letters" used everywhere in the hub.
//!
//! This module owns:
//! - [`fold`] / [`fold_into`]: Unicode-aware folding of Vietnamese text for comparison. Input
//!   may be NFC (precomposed, the usual form), NFD (decomposed, as some Mac and web forms
//!   produce) or a mix; both give the same output. Diacritics are stripped (`đ`/`Đ` → `d`),
//!   letters are lower-cased, everything that is not a letter or a digit becomes a space, and
//!   runs of white space collapse to one space with none at either end.
//! - [`tokens`]: the words of the folded text.
//! - [`lower_nfc`]: the same clean-up but *keeping* diacritics (NFC, lower case), for the rare
//!   places where diacritics break a tie (Nậm Cha vs Nậm Chà).
//! - [`edit_distance`]: optimal-string-alignment (Damerau–Levenshtein with adjacent
//!   transpositions) over chars, shared by the other modules.
//!
//! - [`is_syllable`]: whether a folded ASCII word can be a Vietnamese syllable (onset,
//!   vowel cluster, final consonant), the test every repair below is gated on.
//! - [`repair_word`] / [`fold_typed`]: undoing Telex and VNI typing slips left in words typed
//!   without diacritics (`Sif` → `si`, `Namj` → `nam`, `Haam` → `ham`, `Na5m` → `nam`,
//!   `qau` → `qua`). Only an ASCII word that is *not* a valid syllable is touched, and only
//!   when the repair gives one, so genuine words (`xoong`, `Noong`) and abbreviations
//!   (`HTX`, `SX`) stay as written. [`words`] applies it to every ASCII word, so the parsers
//!   of this crate (organisation names, addresses, person names) all see the repaired form;
//!   [`fold`] itself stays a pure folding.
//! - [`unswap_word`]: two neighbouring letters swapped in a word written with diacritics
//!   (`Nmậ` → `Nậm`, `Thươgn` → `Thương`): a word that is no syllable is put back when
//!   exactly one swap makes it one. [`words`] applies it to every such word.
//!
//! `fold` runs over millions of names, so it does a single pass, allocates only the output
//! string (or nothing at all with [`fold_into`] and a reused buffer), and maps the Vietnamese
//! letters through a table instead of a general decomposition.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Folds `input` for comparison: diacritics stripped, lower case, punctuation to space,
/// white space collapsed and trimmed.
///
/// ```
/// use hub_normalise::text::fold;
/// assert_eq!(fold("  Hợp tác xã  NN-DV Bản Hon. "), "hop tac xa nn dv ban hon");
/// assert_eq!(fold("Đèo Văn Ọt"), "deo van ot");
/// ```
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    fold_into(input, &mut out);
    out
}

/// Like [`fold`], but writes into `out` (cleared first) so that a caller folding many
/// strings can reuse one buffer and allocate nothing.
pub fn fold_into(input: &str, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    for c in input.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                if pending_space {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    pending_space = false;
                }
                out.push(c.to_ascii_lowercase());
            } else {
                pending_space = true;
            }
            continue;
        }
        match fold_char(c) {
            Folded::Mark => {}
            Folded::Sep => pending_space = true,
            Folded::One(b) => {
                if pending_space {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    pending_space = false;
                }
                out.push(b);
            }
            Folded::Lower(b) => {
                if pending_space {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    pending_space = false;
                }
                for l in b.to_lowercase() {
                    if !is_combining_mark(l) {
                        out.push(l);
                    }
                }
            }
        }
    }
}

/// The words of [`fold`]`(input)`.
///
/// ```
/// use hub_normalise::text::tokens;
/// assert_eq!(tokens("HTX Chè Tả Lèng"), ["htx", "che", "ta", "leng"]);
/// ```
pub fn tokens(input: &str) -> Vec<String> {
    fold(input)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// NFC, lower case, punctuation to space, white space collapsed; diacritics kept.
///
/// ```
/// use hub_normalise::text::lower_nfc;
/// assert_eq!(lower_nfc("Xã  NẬM-CHÀ"), "xã nậm chà");
/// ```
pub fn lower_nfc(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for c in input.nfc() {
        if c.is_alphanumeric() || is_combining_mark(c) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            for l in c.to_lowercase() {
                out.push(l);
            }
        } else {
            pending_space = true;
        }
    }
    out
}

/// Whether `input` carries any Vietnamese diacritic (or other non-ASCII letter).
pub fn has_diacritics(input: &str) -> bool {
    !input.is_ascii()
}

/// Optimal-string-alignment distance over chars: insertions, deletions, substitutions and
/// transpositions of two adjacent chars each cost one.
///
/// ```
/// use hub_normalise::text::edit_distance;
/// assert_eq!(edit_distance("6200123456", "6200132456"), 1); // transposition
/// assert_eq!(edit_distance("6200123456", "620012345"), 1); // one missing
/// ```
pub fn edit_distance(a: &str, b: &str) -> usize {
    const N: usize = 64;
    let (na, nb) = (a.chars().count(), b.chars().count());
    if na <= N && nb <= N {
        // Short inputs (names, codes) stay on the stack.
        let mut abuf = ['\0'; N];
        let mut bbuf = ['\0'; N];
        for (slot, c) in abuf.iter_mut().zip(a.chars()) {
            *slot = c;
        }
        for (slot, c) in bbuf.iter_mut().zip(b.chars()) {
            *slot = c;
        }
        let mut rows = [[0usize; N + 1]; 3];
        let [r0, r1, r2] = &mut rows;
        osa(&abuf[..na], &bbuf[..nb], r0, r1, r2)
    } else {
        let av: Vec<char> = a.chars().collect();
        let bv: Vec<char> = b.chars().collect();
        let (mut r0, mut r1, mut r2) = (vec![0; nb + 1], vec![0; nb + 1], vec![0; nb + 1]);
        osa(&av, &bv, &mut r0, &mut r1, &mut r2)
    }
}

/// Rows must each hold at least `b.len() + 1` cells.
fn osa<'r>(
    a: &[char],
    b: &[char],
    mut prev2: &'r mut [usize],
    mut prev: &'r mut [usize],
    mut cur: &'r mut [usize],
) -> usize {
    let (n, m) = (a.len(), b.len());
    if n == 0 {
        return m;
    }
    if m == 0 {
        return n;
    }
    for (j, cell) in prev.iter_mut().enumerate().take(m + 1) {
        *cell = j;
    }
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        // Rotate: prev2 <- prev <- cur <- (old prev2, to be overwritten).
        let old_prev2 = prev2;
        prev2 = prev;
        prev = cur;
        cur = old_prev2;
    }
    prev[m]
}

/// `1 - distance / longer length`, in `[0, 1]`; two empty strings are identical.
pub fn edit_similarity(a: &str, b: &str) -> f64 {
    let longer = a.chars().count().max(b.chars().count());
    if longer == 0 {
        return 1.0;
    }
    1.0 - edit_distance(a, b) as f64 / longer as f64
}

// ---------------------------------------------------------------------------------------
// Vietnamese syllables, and Telex / VNI slips.

/// Onsets of a Vietnamese syllable, folded, longest first (`gi` and `qu` also tried as
/// `g`/`q` + vowel by the caller's loop; `đ` folds to `d`).
const ONSETS: &[&[u8]] = &[
    b"ngh", b"ng", b"nh", b"ch", b"gh", b"gi", b"kh", b"ph", b"th", b"tr", b"qu", b"b", b"c", b"d",
    b"g", b"h", b"k", b"l", b"m", b"n", b"p", b"r", b"s", b"t", b"v", b"x", b"",
];

/// Vowel clusters (folded) that end the syllable: no final consonant after them.
const OPEN_CLUSTERS: &[&[u8]] = &[
    b"ai", b"ao", b"au", b"ay", b"eo", b"eu", b"ia", b"iu", b"oi", b"ui", b"uu", b"ieu", b"yeu",
    b"oai", b"oay", b"oeo", b"uoi", b"uou", b"uya", b"uyu", b"uay", b"oao",
];
/// Vowel clusters (folded) that need a final consonant (`tiên`, `yên`, `chuyện`).
const CLOSED_CLUSTERS: &[&[u8]] = &[b"ie", b"ye", b"uye"];
/// Vowel clusters (folded) with or without a final consonant (`ua`: `mua`, and `uâ` in
/// `xuất`, `tuần`).
const FREE_CLUSTERS: &[&[u8]] = &[
    b"a", b"e", b"i", b"o", b"u", b"y", b"oa", b"oe", b"ue", b"uy", b"uo", b"ua",
];
/// Final consonants.
const CODAS: &[&[u8]] = &[b"", b"c", b"ch", b"m", b"n", b"ng", b"nh", b"p", b"t"];
/// The few genuine words spelled with `oo` (`xoong`, `boong`, `soóc`, the place `Noong
/// Hẻo`): anywhere else `oo` is Telex for `ô`.
const OO_WORDS: &[&str] = &[
    "xoong", "boong", "coong", "goong", "loong", "toong", "noong", "soong", "moong", "mooc",
    "sooc", "cooc", "rooc", "kooc",
];

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

fn valid_rhyme(r: &[u8]) -> bool {
    let v = r.iter().take_while(|b| is_vowel(**b)).count();
    let (cluster, coda) = r.split_at(v);
    if cluster.is_empty() || !CODAS.contains(&coda) {
        return false;
    }
    if cluster == b"oo" {
        return matches!(coda, b"ng" | b"c");
    }
    if OPEN_CLUSTERS.contains(&cluster) {
        coda.is_empty()
    } else if CLOSED_CLUSTERS.contains(&cluster) {
        !coda.is_empty()
    } else {
        FREE_CLUSTERS.contains(&cluster)
    }
}

/// Whether `word` (folded: lower-case ASCII letters) can be a Vietnamese syllable: an
/// onset, a vowel cluster, and a final consonant that fit together. Words of the
/// province's place names and of Vietnamese person names all are; abbreviations (`htx`,
/// `sx`), Telex leftovers (`sif`, `namj`, `haam`) and most foreign words are not.
///
/// ```
/// use hub_normalise::text::is_syllable;
/// assert!(is_syllable("nguyen") && is_syllable("xoong") && is_syllable("quynh"));
/// assert!(!is_syllable("sif") && !is_syllable("haam") && !is_syllable("htx"));
/// ```
pub fn is_syllable(word: &str) -> bool {
    let b = word.as_bytes();
    if b.is_empty() || b.len() > 8 || !b.iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    if b.windows(2).any(|w| w == b"oo") && !OO_WORDS.contains(&word) {
        return false;
    }
    ONSETS
        .iter()
        .any(|o| b.starts_with(o) && valid_rhyme(&b[o.len()..]))
}

/// The syllable a folded ASCII word was meant to be, when it carries a Telex or VNI typing
/// slip; `None` when the word is fine as it is or no repair makes it a syllable.
///
/// - VNI: digits `1`–`9` after the first letter are marks (`Si2` → `si`, `Na6m5` → `nam`,
///   `d9` for `đ`); numbers and codes that start with a digit stay.
/// - Telex: a tone key (`s f r x j`, or `z`) after the first vowel (`Sif` → `si`, `Namj`
///   → `nam`, `Sifn` → `sin`), doubled vowels for the circumflex (`Haam` → `ham`, `Hoongf`
///   → `hong`), `dd` for `đ`, `w` for the horn and breve (`Muwowngf` → `muong`).
/// - `q` without its `u` next to it (`qau` → `qua`).
///
/// ```
/// use hub_normalise::text::repair_word;
/// assert_eq!(repair_word("sif").as_deref(), Some("si"));
/// assert_eq!(repair_word("namj").as_deref(), Some("nam"));
/// assert_eq!(repair_word("haam").as_deref(), Some("ham"));
/// assert_eq!(repair_word("nam"), None); // already a syllable
/// assert_eq!(repair_word("htx"), None); // an abbreviation
/// ```
pub fn repair_word(word: &str) -> Option<String> {
    let b = word.as_bytes();
    if b.len() < 2
        || b.len() > 14
        || !b[0].is_ascii_lowercase()
        || !b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        || is_syllable(word)
    {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    if b.iter().any(u8::is_ascii_digit) {
        // VNI: marks as digits after letters.
        let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
        if digits > 3 || b.contains(&b'0') {
            return None;
        }
        out.extend(b.iter().filter(|c| c.is_ascii_lowercase()));
        if out.len() < 2 {
            return None;
        }
    } else {
        out.extend_from_slice(b);
        // q without u: "qau" → "qua"
        if out[0] == b'q'
            && out.get(1) != Some(&b'u')
            && let Some(p) = out.iter().position(|c| *c == b'u')
        {
            out.remove(p);
            out.insert(1, b'u');
        }
        // dd → đ
        if out.starts_with(b"dd") {
            out.remove(0);
        }
        // w: the horn or breve of a vowel before it (uw, ow, aw, or typed at the end: hopw),
        // ư on its own (tw, nhw)
        let mut i = 0;
        while i < out.len() {
            if out[i] == b'w' {
                if out[..i].iter().any(|c| matches!(c, b'a' | b'o' | b'u')) {
                    out.remove(i);
                    continue;
                }
                out[i] = b'u';
            }
            i += 1;
        }
        // tone keys after the first vowel
        if let Some(first_vowel) = out.iter().position(|c| is_vowel(*c)) {
            let mut k = first_vowel + 1;
            while k < out.len() {
                if matches!(out[k], b's' | b'f' | b'r' | b'x' | b'j' | b'z') {
                    out.remove(k);
                } else {
                    k += 1;
                }
            }
        }
        // doubled vowels: circumflex (aa, ee, oo), unless a genuine oo word
        let mut k = 1;
        while k < out.len() {
            let c = out[k];
            if c == out[k - 1] && matches!(c, b'a' | b'e' | b'o') {
                let keep_oo =
                    c == b'o' && std::str::from_utf8(&out).is_ok_and(|w| OO_WORDS.contains(&w));
                if !keep_oo {
                    out.remove(k);
                    continue;
                }
            }
            k += 1;
        }
    }
    let candidate = String::from_utf8(out).ok()?;
    (candidate != word && is_syllable(&candidate)).then_some(candidate)
}

/// Whether the tone mark of `word` (NFC, lower case; `folded` is its [`fold`]) may sit on a
/// syllable with its final consonant: one closed by `p`, `t`, `c` or `ch` takes only the
/// acute or the dot below (`ếch`, never `èch`).
fn tone_fits(word: &str, folded: &str) -> bool {
    let stopped = [b"p".as_slice(), b"t", b"c", b"ch"]
        .iter()
        .any(|c| folded.as_bytes().ends_with(c));
    !stopped
        || !word
            .nfd()
            .any(|m| matches!(m, '\u{0300}' | '\u{0303}' | '\u{0309}'))
}

/// The word `raw` (NFC, lower case) was meant to be, when two neighbouring letters of it were
/// swapped: `None` unless it is written with diacritics, is no Vietnamese syllable, and
/// exactly one swap makes it one (its tone mark fitting: [`tone_fits`]). Letters only, three
/// to eight of them. A word typed without diacritics is left alone: abbreviations are (`Cty`
/// is no `cyt`), and the matcher pairs such slips itself.
///
/// ```
/// use hub_normalise::text::unswap_word;
/// assert_eq!(unswap_word("nmậ").as_deref(), Some("nậm"));
/// assert_eq!(unswap_word("thươgn").as_deref(), Some("thương"));
/// assert_eq!(unswap_word("nậm"), None); // already a syllable
/// assert_eq!(unswap_word("cty"), None); // no diacritics: an abbreviation, maybe
/// ```
pub fn unswap_word(raw: &str) -> Option<String> {
    let chars: Vec<char> = raw.chars().collect();
    if raw.is_ascii()
        || !(3..=8).contains(&chars.len())
        || !chars.iter().all(|c| c.is_alphabetic())
        || is_syllable(&fold(raw))
    {
        return None;
    }
    let mut found = None;
    for i in 0..chars.len() - 1 {
        if chars[i] == chars[i + 1] {
            continue;
        }
        let mut c = chars.clone();
        c.swap(i, i + 1);
        let candidate: String = c.into_iter().collect();
        let folded = fold(&candidate);
        if is_syllable(&folded) && tone_fits(&candidate, &folded) {
            if found.is_some() {
                return None;
            }
            found = Some(candidate);
        }
    }
    found
}

/// [`fold`], with every word typed without diacritics [`repair_word`]ed: the comparison
/// form of text that may carry Telex or VNI slips. Dotted abbreviations are glued as in the
/// parsers (`H.T.X` → `htx`).
///
/// ```
/// use hub_normalise::text::fold_typed;
/// assert_eq!(fold_typed("HTX Sif Heo"), "htx si heo");
/// assert_eq!(fold_typed("Haam Lếch"), "ham lech");
/// assert_eq!(fold_typed("Namj Ma"), "nam ma");
/// ```
pub fn fold_typed(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for w in words(input) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.folded);
    }
    out
}

/// What one non-ASCII char folds to.
enum Folded {
    /// A combining mark: dropped.
    Mark,
    /// Not a letter or digit: a word separator.
    Sep,
    /// Already a lower-case ASCII letter.
    One(char),
    /// A base letter still to lower-case.
    Lower(char),
}

fn fold_char(c: char) -> Folded {
    let cp = c as u32;
    // Latin Extended Additional, U+1EA0..=U+1EF9: the Vietnamese letters with two marks or a
    // dot below, in upper/lower pairs grouped by base letter.
    if (0x1EA0..=0x1EF9).contains(&cp) {
        let pair = (cp - 0x1EA0) / 2;
        let base = match pair {
            0..12 => 'a',
            12..20 => 'e',
            20..22 => 'i',
            22..34 => 'o',
            34..41 => 'u',
            _ => 'y',
        };
        return Folded::One(base);
    }
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ă' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ă' => {
            Folded::One('a')
        }
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => Folded::One('e'),
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' => Folded::One('i'),
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ơ' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ơ' => {
            Folded::One('o')
        }
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ư' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ũ' | 'Ư' => {
            Folded::One('u')
        }
        'ý' | 'ÿ' | 'Ý' => Folded::One('y'),
        // đ has no decomposition; Ð/ð (eth) is a common look-alike typed for Đ.
        'đ' | 'Đ' | 'ð' | 'Ð' => Folded::One('d'),
        _ if is_combining_mark(c) => Folded::Mark,
        _ if c.is_alphanumeric() => {
            let mut base = c;
            let mut first = true;
            decompose_canonical(c, |d| {
                if first {
                    base = d;
                    first = false;
                }
            });
            Folded::Lower(base)
        }
        _ => Folded::Sep,
    }
}

/// A word of an input, in three forms, with the index of the comma-separated segment it sits
/// in. Used by the parsers of this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// NFC, lower case, diacritics kept.
    pub raw: String,
    /// [`fold`]ed.
    pub folded: String,
    /// Segment index: segments are separated by `, ; / | ( ) -` and line breaks.
    pub seg: usize,
}

impl Word {
    pub fn is_ascii(&self) -> bool {
        self.raw.is_ascii()
    }

    /// Typed in ASCII with Telex or VNI marks that [`repair_word`] read (`gaf` is `gà`): the
    /// typist meant a word with diacritics, not one that has none.
    pub fn typed_marks(&self) -> bool {
        self.is_ascii() && self.raw != self.folded
    }
}

/// A word's comparison form: [`fold`]ed, and [`repair_word`]ed when typed in ASCII.
pub(crate) fn fold_word(raw: &str) -> String {
    let folded = fold(raw);
    if raw.is_ascii()
        && let Some(repaired) = repair_word(&folded)
    {
        return repaired;
    }
    folded
}

/// A word written with its syllables glued and capitalised (`MaChai3`, `NậmTăm`) split at
/// its capitals (`humps`: byte offsets in the lower-cased `word`), when every part is a
/// Vietnamese syllable (after [`repair_word`]) and the whole is none; otherwise the word
/// whole (`iPhone`, and `MuOng`, a capital typed amiss in `Muong`).
fn camel_parts<'w>(word: &'w str, humps: &[usize]) -> Vec<&'w str> {
    if humps.is_empty() || is_syllable(&fold_word(word)) {
        return vec![word];
    }
    let mut parts = Vec::with_capacity(humps.len() + 1);
    let mut start = 0;
    for &h in humps.iter().chain(std::iter::once(&word.len())) {
        parts.push(&word[start..h]);
        start = h;
    }
    let all_syllables = parts.iter().all(|p| {
        let f = fold_word(p);
        f.len() >= 2 && is_syllable(&f)
    });
    if all_syllables { parts } else { vec![word] }
}

/// Splits `input` into [`Word`]s. Runs of two or more one-letter ASCII words joined by dots
/// alone are glued together, so that dotted abbreviations read as one word (`H.T.X` → `htx`,
/// `T.T` → `tt`; but `H. Tam Đường` keeps its lone `h`).
pub(crate) fn words(input: &str) -> Vec<Word> {
    // (word, joined to the previous word by dots only)
    let mut out: Vec<(Word, bool)> = Vec::new();
    let mut seg = 0usize;
    let mut cur = String::new();
    // byte offsets in `cur` where a capital follows a small letter (`MaChai3`)
    let mut humps: Vec<usize> = Vec::new();
    let mut prev_lower = false;
    let mut dots_only = true;
    let mut flush = |cur: &mut String, humps: &mut Vec<usize>, seg: usize, dots_only: &mut bool| {
        if !cur.is_empty() {
            let parts = camel_parts(cur, humps);
            for (k, part) in parts.iter().enumerate() {
                let mut raw = (*part).to_owned();
                let mut folded = fold_word(part);
                if !is_syllable(&folded)
                    && let Some(meant) = unswap_word(part)
                {
                    folded = fold(&meant);
                    raw = meant;
                }
                if !folded.is_empty() {
                    let w = Word { raw, folded, seg };
                    out.push((w, *dots_only && k == 0));
                }
            }
            cur.clear();
            humps.clear();
            *dots_only = true;
        }
    };
    for c in input.nfc() {
        if c.is_alphanumeric() || is_combining_mark(c) {
            if c.is_uppercase() && prev_lower {
                humps.push(cur.len());
            }
            if !is_combining_mark(c) {
                prev_lower = c.is_lowercase();
            }
            for l in c.to_lowercase() {
                cur.push(l);
            }
        } else {
            prev_lower = false;
            flush(&mut cur, &mut humps, seg, &mut dots_only);
            if c != '.' {
                dots_only = false;
            }
            if matches!(
                c,
                ',' | ';' | '/' | '|' | '(' | ')' | '-' | '–' | '—' | '\n' | '\r' | '\\'
            ) {
                seg += 1;
            }
        }
    }
    flush(&mut cur, &mut humps, seg, &mut dots_only);
    // Glue dotted abbreviations.
    let single = |w: &Word| w.raw.len() == 1 && w.raw.is_ascii();
    let mut glued: Vec<Word> = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if single(&out[i].0) {
            let mut j = i + 1;
            while j < out.len() && single(&out[j].0) && out[j].1 && out[j].0.seg == out[i].0.seg {
                j += 1;
            }
            if j - i >= 2 {
                let raw: String = out[i..j].iter().map(|(w, _)| w.raw.as_str()).collect();
                glued.push(Word {
                    folded: raw.clone(),
                    raw,
                    seg: out[i].0.seg,
                });
                i = j;
                continue;
            }
        }
        glued.push(out[i].0.clone());
        i += 1;
    }
    glued
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn folds_vietnamese_names() {
        assert_eq!(
            fold("Hợp tác xã Nông nghiệp Dịch vụ Bản Hon"),
            "hop tac xa nong nghiep dich vu ban hon"
        );
        assert_eq!(fold("Lò Văn Minh"), "lo van minh");
        assert_eq!(fold("ĐOÀN KẾT"), "doan ket");
        assert_eq!(fold("Đèo Thị Hường"), "deo thi huong");
        assert_eq!(fold("Xã Pa ủ"), "xa pa u");
        assert_eq!(fold("Phăng Sô Lin"), "phang so lin");
        assert_eq!(fold("Tủa Sín Chải"), "tua sin chai");
        assert_eq!(fold("Sì Lở Lầu"), "si lo lau");
        assert_eq!(fold("Nậm Cuổi"), "nam cuoi");
        assert_eq!(fold("Huổi Luông"), "huoi luong");
        assert_eq!(fold("Mù Cả"), "mu ca");
        assert_eq!(fold("thuỷ sản / thủy sản"), "thuy san thuy san");
        assert_eq!(fold("Ỳ Ỵ Ỷ Ỹ ỳ ỵ ỷ ỹ"), "y y y y y y y y");
    }

    #[test]
    fn nfd_and_nfc_fold_alike() {
        for s in [
            "Hợp tác xã Nông nghiệp Dịch vụ Bản Hon",
            "Xã Nậm Chà, huyện Nậm Nhùn",
            "Giàng Seo Phử",
            "Tẩn Láo Lở",
            "Phường Đoàn Kết",
            "Ưng Ửng Ữ Ự ờ",
        ] {
            let nfd: String = s.nfd().collect();
            assert_ne!(nfd, s);
            assert_eq!(fold(&nfd), fold(s), "{s}");
            let nfc: String = s.nfc().collect();
            assert_eq!(fold(&nfc), fold(s));
        }
    }

    #[test]
    fn table_agrees_with_unicode_decomposition() {
        // The fast table for U+1EA0..U+1EF9 and the explicit Latin-1 arms must give what
        // a general decomposition gives.
        let ranges = [0x00C0u32..=0x00FF, 0x0100..=0x01B0, 0x1EA0..=0x1EF9];
        for r in ranges {
            for cp in r {
                let Some(c) = char::from_u32(cp) else {
                    continue;
                };
                if !c.is_alphabetic() || matches!(c, 'đ' | 'Đ' | 'ð' | 'Ð') {
                    continue;
                }
                let general: String = c
                    .to_string()
                    .nfd()
                    .filter(|d| !is_combining_mark(*d))
                    .flat_map(char::to_lowercase)
                    .collect();
                assert_eq!(fold(&c.to_string()), general, "U+{cp:04X} {c}");
            }
        }
    }

    #[test]
    fn punctuation_and_white_space() {
        assert_eq!(fold(""), "");
        assert_eq!(fold("   "), "");
        assert_eq!(fold("..,;"), "");
        assert_eq!(fold("H.T.X"), "h t x");
        assert_eq!(fold("HTX\tNN\u{00A0}DV\n  Bản   Hon"), "htx nn dv ban hon");
        assert_eq!(fold("(Lai Châu)"), "lai chau");
        assert_eq!(fold("Số 12, tổ 3"), "so 12 to 3");
        assert_eq!(fold("\"Chè\" & 'Rau'"), "che rau");
    }

    #[test]
    fn fold_into_reuses_the_buffer() {
        let mut buf = String::with_capacity(64);
        fold_into("Lò Văn Minh", &mut buf);
        assert_eq!(buf, "lo van minh");
        let cap = buf.capacity();
        fold_into("Giàng A Páo", &mut buf);
        assert_eq!(buf, "giang a pao");
        assert_eq!(buf.capacity(), cap);
    }

    #[test]
    fn tokens_split_on_folded_spaces() {
        assert_eq!(
            tokens("HTX  NN-DV  Bản Hon"),
            ["htx", "nn", "dv", "ban", "hon"]
        );
        assert!(tokens("  - ").is_empty());
    }

    #[test]
    fn lower_nfc_keeps_diacritics() {
        let nfd: String = "Nậm Chà".nfd().collect();
        assert_eq!(lower_nfc(&nfd), "nậm chà");
        assert_eq!(lower_nfc(" XÃ  BẢN HON, "), "xã bản hon");
        assert!(has_diacritics("Bản Hon"));
        assert!(!has_diacritics("Ban Hon"));
    }

    #[test]
    fn edit_distance_counts_digits_and_letters() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("6200123456", "6200123456"), 0);
        assert_eq!(edit_distance("6200123456", "6200123457"), 1);
        assert_eq!(edit_distance("6200123456", "6201023456"), 1);
        assert_eq!(edit_distance("6200123456", "62001234567"), 1);
        assert_eq!(edit_distance("minh", "manh"), 1);
        assert_eq!(edit_distance("lò", "lo"), 1);
        let long_a = "a".repeat(100);
        let long_b = format!("{}b", "a".repeat(99));
        assert_eq!(edit_distance(&long_a, &long_b), 1);
        assert!((edit_similarity("minh", "manh") - 0.75).abs() < 1e-9);
        assert_eq!(edit_similarity("", ""), 1.0);
    }

    #[test]
    fn words_keep_segments_and_glue_dotted_abbreviations() {
        let w = words("H.T.X N.N Bản Hon, T.T Tam Đường - Lai Châu");
        let f: Vec<(&str, usize)> = w.iter().map(|w| (w.folded.as_str(), w.seg)).collect();
        assert_eq!(
            f,
            [
                ("htx", 0),
                ("nn", 0),
                ("ban", 0),
                ("hon", 0),
                ("tt", 1),
                ("tam", 1),
                ("duong", 1),
                ("lai", 2),
                ("chau", 2)
            ]
        );
        assert_eq!(w[2].raw, "bản");
        assert!(!w[2].is_ascii());
        // a lone initial stays alone
        let w = words("H. Tam Đường");
        assert_eq!(w[0].folded, "h");
    }

    #[test]
    fn syllables_glued_at_their_capitals_are_split() {
        let folded = |s: &str| -> Vec<String> { words(s).into_iter().map(|w| w.folded).collect() };
        assert_eq!(folded("Vang MaChai3"), ["vang", "ma", "chai"]);
        assert_eq!(folded("HTX NậmTăm"), ["htx", "nam", "tam"]);
        assert_eq!(words("NậmTăm")[0].raw, "nậm");
        // not syllables: the word stays whole
        assert_eq!(folded("iPhone"), ["iphone"]);
        // capitals only, or a capital after a capital: no split
        assert_eq!(folded("HTXNN"), ["htxnn"]);
        assert_eq!(folded("Nậm Tăm"), ["nam", "tam"]);
        // a whole that is a syllable: a capital typed amiss
        assert_eq!(folded("MuOng"), ["muong"]);
    }

    #[test]
    fn syllables_of_the_province_and_of_names_are_valid() {
        let r = crate::reference::Reference::get();
        let mut names: Vec<&str> = Vec::new();
        for c in &r.communes_2024 {
            names.push(&c.commune_name);
            names.push(&c.district_name);
        }
        for c in &r.communes_2025 {
            names.push(&c.commune_name);
        }
        for (_, alt) in crate::address::ALTERNATIVE_SPELLINGS {
            names.push(alt);
        }
        names.extend([
            "Nguyễn Thị Thu Hà Quỳnh Huỳnh Nghiêm Khuyến Giàng Seo Phử Tẩn Láo Lở Chảo",
            "Hợp tác xã nông nghiệp dịch vụ chè dược liệu thảo quả xoong boong Noong Hẻo",
            "Khuya Người Nguyễn Chuyện Quyết Thuở Giếng Gì Ngoéo Tiểu Yêu Oải Khoắng",
            "Sản xuất Tuần Luật Chuẩn Khuất Mua Của",
        ]);
        for n in names {
            for w in tokens(n) {
                assert!(is_syllable(&w), "{w} in {n}");
                assert_eq!(repair_word(&w), None, "{w} in {n}");
            }
        }
    }

    #[test]
    fn neighbouring_letters_swapped_are_put_back() {
        for (typed, meant) in [
            ("nmậ", "nậm"),
            ("thươgn", "thương"),
            ("lnợ", "lợn"),
            ("mưnờg", "mường"),
            // `èch` is no syllable either: a grave tone never closes on `ch`
            ("cèh", "chè"),
        ] {
            assert_eq!(unswap_word(typed).as_deref(), Some(meant), "{typed}");
        }
        // syllables, abbreviations, numbers and long words stay as written
        for w in ["nậm", "htx", "cty", "nma", "mihn", "2", "nậmkhaoxã", "hòn"] {
            assert_eq!(unswap_word(w), None, "{w}");
        }
        assert_eq!(
            fold_typed("HTX SX và Thươgn mại lnợ đen Nmậ Sỏ"),
            "htx sx va thuong mai lon den nam so"
        );
    }

    #[test]
    fn telex_slips_are_repaired() {
        for (typed, meant) in [
            ("sif", "si"),
            ("sir", "si"),
            ("namj", "nam"),
            ("haam", "ham"),
            ("qau", "qua"),
            ("quar", "qua"),
            ("thaor", "thao"),
            ("vaf", "va"),
            ("hoon", "hon"),
            ("hoongf", "hong"),
            ("sifn", "sin"),
            ("ddoanf", "doan"),
            ("muwowngf", "muong"),
            ("muowngf", "muong"),
            ("lees", "le"),
            ("chaaus", "chau"),
            ("nguyeenx", "nguyen"),
            ("tw", "tu"),
            ("hawng", "hang"),
            ("lamz", "lam"),
            ("hopwj", "hop"),
            ("nhw", "nhu"),
            // `uâ` before a final consonant
            ("xuaat", "xuat"),
            ("tuaanf", "tuan"),
        ] {
            assert_eq!(repair_word(typed).as_deref(), Some(meant), "{typed}");
        }
    }

    #[test]
    fn vni_slips_are_repaired() {
        for (typed, meant) in [
            ("si2", "si"),
            ("na5m", "nam"),
            ("nam5", "nam"),
            ("na6m5", "nam"),
            ("d9oa2n", "doan"),
            ("muo7ng2", "muong"),
        ] {
            assert_eq!(repair_word(typed).as_deref(), Some(meant), "{typed}");
        }
        // numbers and codes stay
        for w in ["3", "12", "a2", "b12", "k3", "x10", "so10", "2a", "ab1234"] {
            assert_eq!(repair_word(w), None, "{w}");
        }
    }

    #[test]
    fn genuine_words_and_abbreviations_are_left_alone() {
        for w in [
            "htx", "tht", "lhhtx", "sx", "kd", "dv", "nn", "tnhh", "mtv", "ctcp", "cty", "hkd",
            "dntn", "ubnd", "xoong", "boong", "noong", "nam", "si", "heo", "qua", "green", "farm",
            "tours", "organic", "macca", "x", "",
        ] {
            assert_eq!(repair_word(w), None, "{w}");
        }
        assert!(!is_syllable("HTX"));
        assert!(!is_syllable(&"a".repeat(20)));
    }

    #[test]
    fn typed_text_folds_to_what_was_meant() {
        assert_eq!(fold_typed("HTX Sif Heo"), fold("HTX Sì Heo"));
        assert_eq!(fold_typed("Namj Ma"), fold("Nậm Mạ"));
        assert_eq!(fold_typed("Haam Lếch"), "ham lech");
        assert_eq!(fold_typed("Thao qau"), "thao qua");
        assert_eq!(fold_typed("nAmJ\u{00A0}\u{00A0}mA"), "nam ma");
        assert_eq!(fold_typed("H.T.X  Sif  Heo"), "htx si heo");
        // only ASCII words: a word with diacritics is taken as typed
        assert_eq!(fold_typed("Sìs"), "sis");
        let w = words("HTX Sif Heo");
        assert_eq!(w[1].raw, "sif");
        assert_eq!(w[1].folded, "si");
    }
}
