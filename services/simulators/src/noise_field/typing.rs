//! The text-level slips (no diacritics, Telex and VNI slips, swapped letters, case, spaces,
//! punctuation, NFD) and their rates per context.

use rand::Rng;
use rand::seq::IndexedRandom;
use unicode_normalization::UnicodeNormalization;

use super::names::pick_weighted;
use crate::vocab::fold;

/// Rates of the text-level classes for one context.
pub(super) struct TextRates {
    pub(super) folded: f64,
    pub(super) half_folded: f64,
    pub(super) slip_per_word: f64,
    pub(super) swap_letters: f64,
    pub(super) upper: f64,
    pub(super) lower: f64,
    pub(super) partial_caps: f64,
    pub(super) run_together: f64,
    pub(super) double_space: f64,
    pub(super) nbsp: f64,
    pub(super) edge_space: f64,
    pub(super) trailing_punct: f64,
    pub(super) nfd: f64,
}

pub(super) const LOAN_TEXT: TextRates = TextRates {
    folded: 0.40,
    half_folded: 0.05,
    slip_per_word: 0.05,
    swap_letters: 0.02,
    upper: 0.09,
    lower: 0.07,
    partial_caps: 0.07,
    run_together: 0.04,
    double_space: 0.07,
    nbsp: 0.04,
    edge_space: 0.09,
    trailing_punct: 0.04,
    nfd: 0.05,
};

pub(super) const NTM_TEXT: TextRates = TextRates {
    folded: 0.15,
    half_folded: 0.0,
    slip_per_word: 0.04,
    swap_letters: 0.01,
    upper: 0.03,
    lower: 0.03,
    partial_caps: 0.04,
    run_together: 0.02,
    double_space: 0.04,
    nbsp: 0.02,
    edge_space: 0.04,
    trailing_punct: 0.02,
    nfd: 0.03,
};

const TONES_TELEX: [(char, char, char); 5] = [
    ('\u{0300}', 'f', '2'),
    ('\u{0301}', 's', '1'),
    ('\u{0309}', 'r', '3'),
    ('\u{0303}', 'x', '4'),
    ('\u{0323}', 'j', '5'),
];

/// A word with diacritics as someone typing with the input method switched off leaves it:
/// the tone letter only (`Sì` → `Sif`, `Nậm` → `Namj`), the vowel mark only (`Hâm` →
/// `Haam`), the full Telex sequence (`Nậm` → `Naamj`), or VNI digits (`Sì` → `Si2`).
pub fn telex_slip(rng: &mut impl Rng, word: &str) -> String {
    let style = pick_weighted(
        rng,
        &[("tone", 45), ("mark", 25), ("full", 20), ("vni", 10)],
    );
    let mut base = String::new();
    let mut marks = String::new();
    let mut tone: Option<(char, char)> = None;
    for c in word.nfd() {
        match c {
            '\u{0302}' => {
                // circumflex: â ê ô = aa ee oo (VNI 6)
                let last = base.chars().last().unwrap_or('a');
                marks.push(last);
                if style != "tone" && style != "vni" {
                    base.push(last.to_ascii_lowercase());
                } else if style == "vni" {
                    base.push('6');
                }
            }
            '\u{0306}' | '\u{031b}' => {
                // breve (ă = aw, VNI 8), horn (ơ ư = ow uw, VNI 7)
                marks.push('w');
                if style != "tone" && style != "vni" {
                    base.push('w');
                } else if style == "vni" {
                    base.push(if c == '\u{0306}' { '8' } else { '7' });
                }
            }
            c if TONES_TELEX.iter().any(|(m, _, _)| *m == c) => {
                tone = TONES_TELEX
                    .iter()
                    .find(|(m, _, _)| *m == c)
                    .map(|(_, t, v)| (*t, *v));
            }
            'đ' | 'Đ' => {
                base.push(if c == 'đ' { 'd' } else { 'D' });
                if style != "tone" {
                    base.push(if style == "vni" { '9' } else { 'd' });
                }
            }
            other => base.push(other),
        }
    }
    let out = match (style, tone) {
        ("tone" | "full", Some((t, _))) => format!("{base}{t}"),
        ("vni", Some((_, v))) => format!("{base}{v}"),
        ("mark", _) if marks.is_empty() => match tone {
            // nothing to double: the tone letter is what is left
            Some((t, _)) => format!("{base}{t}"),
            None => base.clone(),
        },
        _ => base,
    };
    if out == fold(word) {
        // nothing to slip on (no diacritics): the word as typed
        return word.to_owned();
    }
    out
}

fn has_diacritics(word: &str) -> bool {
    fold(word) != word
}

pub(super) fn double_a_space(rng: &mut impl Rng, s: &str) -> String {
    let spaces: Vec<usize> = s.match_indices(' ').map(|(i, _)| i).collect();
    let mut out = s.to_owned();
    if let Some(&i) = spaces.choose(rng) {
        out.insert(i, ' ');
    }
    out
}

fn flip_case(word: &str) -> String {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    if first.is_uppercase() {
        word.to_lowercase()
    } else {
        first.to_uppercase().chain(chars).collect()
    }
}

/// Diacritics, slips, case, words run together, swapped letters, spaces and NFD, at `rates`.
pub(super) fn text_noise(rng: &mut impl Rng, s: &str, rates: &TextRates) -> String {
    let words: Vec<String> = s.split(' ').map(str::to_owned).collect();
    // diacritics: kept, dropped (with slips), or dropped in half the words
    let r: f64 = rng.random();
    let mode = if r < rates.folded {
        1
    } else if r < rates.folded + rates.half_folded {
        2
    } else {
        0
    };
    let mut words: Vec<String> = words
        .into_iter()
        .map(|w| {
            let fold_it = match mode {
                1 => true,
                2 => rng.random_bool(0.5),
                _ => false,
            };
            if fold_it && has_diacritics(&w) && rng.random_bool(rates.slip_per_word) {
                telex_slip(rng, &w)
            } else if fold_it {
                fold(&w)
            } else if mode == 0 && has_diacritics(&w) && rng.random_bool(rates.slip_per_word / 16.0)
            {
                // a slip inside otherwise well-typed text: "Haam Lếch"
                telex_slip(rng, &w)
            } else {
                w
            }
        })
        .collect();
    if rng.random_bool(rates.swap_letters) {
        let long: Vec<usize> = (0..words.len())
            .filter(|&i| words[i].chars().count() >= 3)
            .collect();
        if let Some(&i) = long.choose(rng) {
            let mut cs: Vec<char> = words[i].chars().collect();
            let j = rng.random_range(1..cs.len() - 1);
            cs.swap(j, j + 1);
            words[i] = cs.into_iter().collect();
        }
    }
    let r: f64 = rng.random();
    if r < rates.upper {
        words = words.iter().map(|w| w.to_uppercase()).collect();
    } else if r < rates.upper + rates.lower {
        words = words.iter().map(|w| w.to_lowercase()).collect();
    } else if r < rates.upper + rates.lower + rates.partial_caps {
        words = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i > 0 && rng.random_bool(0.35) {
                    flip_case(w)
                } else {
                    w.clone()
                }
            })
            .collect();
    }
    let mut out = if words.len() > 1 && rng.random_bool(rates.run_together) {
        // "HTXNN DV …" after an abbreviated form, else two syllables of the place
        let at = if words[0].chars().all(|c| c.is_uppercase() || c == '.') {
            0
        } else {
            words.len() - 2
        };
        let mut v = words.clone();
        let joined = format!("{}{}", v[at], v[at + 1]);
        v.splice(at..at + 2, [joined]);
        v.join(" ")
    } else {
        words.join(" ")
    };
    if rng.random_bool(rates.double_space) {
        out = double_a_space(rng, &out);
    }
    if rng.random_bool(rates.nbsp) {
        let spaces: Vec<usize> = out.match_indices(' ').map(|(i, _)| i).collect();
        if let Some(&i) = spaces.choose(rng) {
            out.replace_range(i..i + 1, "\u{a0}");
        }
    }
    if rng.random_bool(rates.trailing_punct) {
        out.push(if rng.random_bool(0.75) { '.' } else { ',' });
    }
    if rng.random_bool(rates.edge_space) {
        if rng.random_bool(0.4) {
            out.insert(0, ' ');
        } else {
            out.push(' ');
        }
    }
    if rng.random_bool(rates.nfd) {
        out = out.nfd().collect();
    }
    out
}
