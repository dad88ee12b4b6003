//! Representatives, tax codes and addresses as the field writes them.

use chrono::NaiveDate;
use hub_normalise::reference::Reference;
use rand::Rng;
use rand::seq::IndexedRandom;

use super::names::{new_commune_name, pick_weighted};
use super::{Context, REFORM};
use crate::noise;
use crate::vocab::{self, fold};

/// A person's name as typed: orders and parts (`Văn Minh`, `Lò Minh`, `Minh Lò Văn`),
/// honorifics, diacritics and case.
pub fn person(rng: &mut impl Rng, name: &str, ctx: Context) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let (fold_p, upper_p, weights): (f64, f64, [u32; 5]) = match ctx {
        Context::Loan => (0.30, 0.06, [72, 7, 7, 4, 5]),
        Context::Ntm => (0.15, 0.03, [84, 5, 5, 2, 3]),
    };
    let mut s = if words.len() >= 3 {
        let (surname, middle, given) = (
            words[0],
            words[1..words.len() - 1].join(" "),
            words[words.len() - 1],
        );
        let items = [
            ("full", weights[0]),
            ("middle_given", weights[1]),
            ("surname_given", weights[2]),
            ("given_first", weights[3]),
            ("honorific", weights[4]),
        ];
        match pick_weighted(rng, &items) {
            "middle_given" => format!("{middle} {given}"),
            "surname_given" => format!("{surname} {given}"),
            "given_first" => format!("{given} {surname} {middle}"),
            "honorific" => {
                let title = if middle.contains("Thị") {
                    "Bà"
                } else {
                    "Ông"
                };
                format!("{title} {name}")
            }
            _ => words.join(" "),
        }
    } else {
        name.to_owned()
    };
    if rng.random_bool(fold_p) {
        s = fold(&s);
    }
    if rng.random_bool(upper_p) {
        s = s.to_uppercase();
    }
    s
}

/// The tax code as the loan file has it: exact, missing, two adjacent digits swapped, one
/// digit wrong or missing, formatted, or with a branch suffix.
pub fn tax_code(rng: &mut impl Rng, code: Option<&str>) -> Option<String> {
    let code = code?;
    let digits: Vec<char> = code.chars().collect();
    if digits.len() < 4 || !digits.iter().all(char::is_ascii_digit) {
        return Some(code.to_owned());
    }
    let swapped = |rng: &mut dyn FnMut(usize) -> usize| {
        // positions where the neighbours differ, so that the swap changes the code
        let at: Vec<usize> = (0..digits.len() - 1)
            .filter(|&i| digits[i] != digits[i + 1])
            .collect();
        if at.is_empty() {
            return None;
        }
        let i = at[rng(at.len())];
        let mut d = digits.clone();
        d.swap(i, i + 1);
        Some(d.into_iter().collect::<String>())
    };
    let choice = pick_weighted(
        rng,
        &[
            ("exact", 52),
            ("missing", 16),
            ("swap", 12),
            ("wrong", 4),
            ("drop", 4),
            ("format", 10),
            ("branch", 2),
        ],
    );
    match choice {
        "missing" => None,
        "swap" => {
            let mut pick = |n: usize| rng.random_range(0..n);
            Some(swapped(&mut pick).unwrap_or_else(|| code.to_owned()))
        }
        "wrong" => {
            let i = rng.random_range(0..digits.len());
            let mut d = digits.clone();
            let old = d[i].to_digit(10).unwrap_or(0);
            d[i] = char::from_digit((old + rng.random_range(1..10)) % 10, 10).unwrap_or('0');
            Some(d.into_iter().collect())
        }
        "drop" => {
            let mut d = digits.clone();
            d.remove(rng.random_range(0..d.len()));
            Some(d.into_iter().collect())
        }
        "format" => {
            let (a, b) = code.split_at(4.min(code.len()));
            let (b1, b2) = b.split_at(3.min(b.len()));
            let variants = [
                format!("{a} {b1} {b2}"),
                format!("{a}-{b1}-{b2}"),
                format!("{a}.{b1}.{b2}"),
                format!("'{code}"),
                format!("MST: {code}"),
                format!(" {code} "),
            ];
            variants.choose(rng).cloned()
        }
        "branch" => Some(format!("{code}-001")),
        _ => Some(code.to_owned()),
    }
}

/// A borrower's address. Typed on or after the reform it names the new commune (and no
/// district, which no longer exists) three times in four, sometimes with the old one beside
/// it; before, it reads as the classic model's addresses.
pub fn address(rng: &mut impl Rng, village: &str, commune_code: &str, on: NaiveDate) -> String {
    if on >= REFORM
        && rng.random_bool(0.75)
        && let Some(new) = new_commune_name(commune_code)
    {
        let reference = Reference::get();
        let old = reference
            .commune_2024(commune_code)
            .map(|c| vocab::bare_commune(&c.commune_name).to_owned());
        let words = rng.random_bool(0.6);
        let mut parts: Vec<String> = Vec::new();
        if rng.random_bool(0.7) {
            parts.push(if words {
                format!("bản {village}")
            } else {
                village.to_owned()
            });
        }
        let word = if new_is_ward(commune_code) {
            "phường"
        } else {
            "xã"
        };
        match old {
            Some(old) if old != new && rng.random_bool(0.08) => {
                parts.push(format!("xã {old} (nay là {word} {new})"));
            }
            _ => parts.push(if words {
                format!("{word} {new}")
            } else {
                new.clone()
            }),
        }
        if rng.random_bool(0.6) {
            parts.push(if words {
                "tỉnh Lai Châu".to_owned()
            } else {
                "Lai Châu".to_owned()
            });
        }
        let sep = *[", ", ", ", " - ", ","].choose(rng).unwrap_or(&", ");
        let mut s = parts.join(sep);
        if rng.random_bool(0.45) {
            s = fold(&s);
        }
        if rng.random_bool(0.08) {
            s = s.to_uppercase();
        }
        return s;
    }
    noise::address(rng, village, commune_code)
}

fn new_is_ward(commune_code: &str) -> bool {
    let reference = Reference::get();
    reference
        .new_unit_of(commune_code)
        .and_then(|new| {
            reference
                .communes_2025
                .iter()
                .find(|c| c.commune_code == new)
        })
        .is_some_and(|c| c.commune_name.starts_with("Phường"))
}
