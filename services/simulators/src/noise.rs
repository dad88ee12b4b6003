//! How people type: the loan officer's borrower names, tax codes, addresses and phones, and
//! the commune's short names in NTM reports. Each function takes the true value and returns
//! one plausible rendering of it, as the specs describe (abbreviations, missing diacritics,
//! odd spacing and case, mistyped or missing tax codes, any phone format).
//!
//! Owns the noise only; which record gets which noise is the generator's business.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::vocab::{self, fold};

const SECTOR_ABBREVIATIONS: &[(&str, &str)] = &[
    ("Nông nghiệp", "NN"),
    ("nông nghiệp", "NN"),
    ("Dịch vụ", "DV"),
    ("dịch vụ", "DV"),
    ("Thương mại", "TM"),
    ("thương mại", "TM"),
    ("Sản xuất", "SX"),
    ("sản xuất", "SX"),
    ("Kinh doanh", "KD"),
    ("kinh doanh", "KD"),
    ("Tổng hợp", "TH"),
];

/// The borrower name a loan officer types for an organisation's legal name.
pub fn borrower_name(rng: &mut impl Rng, legal: &str) -> String {
    let mut s = legal.to_owned();
    if rng.random_bool(0.85) {
        let htx = *["HTX", "HTX", "HTX", "H.T.X", "Htx"]
            .choose(rng)
            .unwrap_or(&"HTX");
        s = s
            .replace("Liên hiệp Hợp tác xã", "LH HTX")
            .replace("Hợp tác xã", htx)
            .replace("hợp tác xã", htx);
        let tht = *["THT", "Tổ HT", "THT"].choose(rng).unwrap_or(&"THT");
        s = s.replace("Tổ hợp tác", tht);
    }
    if rng.random_bool(0.6) {
        for (long, short) in SECTOR_ABBREVIATIONS {
            if rng.random_bool(0.8) {
                s = s.replace(long, short);
            }
        }
    }
    if rng.random_bool(0.45) {
        s = fold(&s);
    }
    s = recase(rng, &s);
    respace(rng, &s)
}

/// A person's name as typed (diacritics and case vary).
pub fn person_as_typed(rng: &mut impl Rng, name: &str) -> String {
    let mut s = name.to_owned();
    if rng.random_bool(0.4) {
        s = fold(&s);
    }
    if rng.random_bool(0.1) {
        s = s.to_uppercase();
    }
    s
}

fn recase(rng: &mut impl Rng, s: &str) -> String {
    let r: f64 = rng.random();
    if r < 0.15 {
        s.to_uppercase()
    } else if r < 0.25 {
        s.to_lowercase()
    } else {
        s.to_owned()
    }
}

fn respace(rng: &mut impl Rng, s: &str) -> String {
    let mut out = s.to_owned();
    if rng.random_bool(0.25) {
        // double one of the spaces
        let spaces: Vec<usize> = out.match_indices(' ').map(|(i, _)| i).collect();
        if let Some(&i) = spaces.choose(rng) {
            out.insert(i, ' ');
        }
    }
    if rng.random_bool(0.1) {
        out = format!(" {out}");
    }
    if rng.random_bool(0.1) {
        out.push(' ');
    }
    if rng.random_bool(0.05) {
        out = out.replacen("HTX ", "HTX.", 1);
    }
    out
}

/// The tax code as the loan file has it, from the true registration code: often exact, may
/// be missing, have one digit wrong or missing, or carry spaces or dashes.
pub fn tax_code(rng: &mut impl Rng, code: Option<&str>) -> Option<String> {
    let code = code?;
    let digits: Vec<char> = code.chars().collect();
    if digits.len() < 4 || !digits.iter().all(char::is_ascii_digit) {
        return Some(code.to_owned());
    }
    let r: f64 = rng.random();
    if r < 0.5 {
        Some(code.to_owned())
    } else if r < 0.65 {
        None
    } else if r < 0.75 {
        let i = rng.random_range(0..digits.len());
        let mut d = digits.clone();
        let old = d[i].to_digit(10).unwrap_or(0);
        let new = (old + rng.random_range(1..10)) % 10;
        d[i] = char::from_digit(new, 10).unwrap_or('0');
        Some(d.into_iter().collect())
    } else if r < 0.83 {
        let i = rng.random_range(0..digits.len());
        let mut d = digits.clone();
        d.remove(i);
        Some(d.into_iter().collect())
    } else {
        let s: String = digits.iter().collect();
        let (a, b) = s.split_at(4.min(s.len()));
        let (b1, b2) = b.split_at(3.min(b.len()));
        let variants = [
            format!("{a} {b1} {b2}"),
            format!("{a}-{b1}{b2}"),
            format!(
                "{}-{}-{}",
                &s[..3.min(s.len())],
                &s[3.min(s.len())..6.min(s.len())],
                &s[6.min(s.len())..]
            ),
            format!(" {s} "),
        ];
        variants.choose(rng).cloned()
    }
}

/// A free-text address from a village and a commune code: names with or without
/// diacritics, with or without the words xã/huyện/tỉnh, in varying order of detail.
pub fn address(rng: &mut impl Rng, village: &str, commune_code: &str) -> String {
    let reference = hub_normalise::reference::Reference::get();
    let Some(c) = reference.commune_2024(commune_code) else {
        return village.to_owned();
    };
    let commune = vocab::bare_commune(&c.commune_name);
    let district = vocab::bare_district(&c.district_name);
    let words = rng.random_bool(0.5);
    let mut parts: Vec<String> = Vec::new();
    if rng.random_bool(0.7) {
        parts.push(if words {
            format!("bản {village}")
        } else {
            village.to_owned()
        });
    }
    parts.push(if words {
        format!("{} {commune}", vocab::commune_word(&c.commune_kind))
    } else {
        commune.to_owned()
    });
    if rng.random_bool(0.85) {
        parts.push(if words {
            format!("{} {district}", vocab::district_word(&c.district_name))
        } else {
            district.to_owned()
        });
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
    if rng.random_bool(0.1) {
        s = s.to_uppercase();
    }
    s
}

/// The registry's well-formed address: `Bản Hon, xã Bản Hon, huyện Tam Đường, tỉnh Lai Châu`.
pub fn registry_address(village: &str, commune_code: &str) -> String {
    let reference = hub_normalise::reference::Reference::get();
    let Some(c) = reference.commune_2024(commune_code) else {
        return village.to_owned();
    };
    let place = if c.commune_kind == "xã" {
        format!("Bản {village}")
    } else {
        format!("Tổ {}", village.len() % 9 + 1)
    };
    format!(
        "{place}, {} {}, {} {}, tỉnh Lai Châu",
        vocab::commune_word(&c.commune_kind),
        vocab::bare_commune(&c.commune_name),
        vocab::district_word(&c.district_name),
        vocab::bare_district(&c.district_name)
    )
}

/// A domestic mobile number (`0912345678`) in one of the formats Vietnamese files use.
pub fn phone_as_typed(rng: &mut impl Rng, domestic: &str) -> String {
    let rest = domestic.strip_prefix('0').unwrap_or(domestic);
    if rest.len() != 9 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return domestic.to_owned();
    }
    let (a, b, c) = (&rest[..3], &rest[3..6], &rest[6..]);
    let variants = [
        domestic.to_owned(),
        format!("0{a} {b} {c}"),
        format!("0{a}.{b}.{c}"),
        format!("+84 {a} {b} {c}"),
        format!("+84{rest}"),
        format!("84-{a}-{b}-{c}"),
        format!("(+84) {rest}"),
        format!("84{rest}"),
    ];
    variants
        .choose(rng)
        .cloned()
        .unwrap_or_else(|| domestic.to_owned())
}

/// Short-form candidates for a cooperative's name in a commune's NTM report, most specific
/// first: the legal name with the form abbreviated, then form + product + place, then form +
/// place alone (only when `place_unique`).
pub fn ntm_short_forms(legal: &str, product: &str, place: &str, place_unique: bool) -> Vec<String> {
    let prefix = if legal.starts_with("Tổ hợp tác") {
        "THT"
    } else if legal.starts_with("Liên hiệp") {
        "LHHTX"
    } else {
        "HTX"
    };
    let rest = legal
        .strip_prefix("Liên hiệp Hợp tác xã ")
        .or_else(|| legal.strip_prefix("Hợp tác xã "))
        .or_else(|| legal.strip_prefix("Tổ hợp tác "))
        .unwrap_or(legal);
    let mut out = vec![format!("{prefix} {rest}")];
    if legal.contains(product) {
        out.push(format!("{prefix} {product} {place}"));
    }
    if place_unique {
        out.push(format!("{prefix} {place}"));
    }
    let mut abbreviated = format!("{prefix} {rest}");
    for (long, short) in SECTOR_ABBREVIATIONS {
        abbreviated = abbreviated.replace(long, short);
    }
    if abbreviated != out[0] {
        out.push(abbreviated);
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn tax_code_noise_stays_close_to_the_truth() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            if let Some(t) = tax_code(&mut rng, Some("6200123456")) {
                let digits: String = t.chars().filter(char::is_ascii_digit).collect();
                assert!(digits.len() == 10 || digits.len() == 9, "{t}");
            }
        }
    }

    #[test]
    fn phone_formats_keep_the_digits() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..50 {
            let p = phone_as_typed(&mut rng, "0912345678");
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            assert!(digits == "0912345678" || digits == "84912345678", "{p}");
        }
    }

    #[test]
    fn short_forms() {
        let f = ntm_short_forms("Hợp tác xã chè Tả Lèng", "chè", "Tả Lèng", true);
        assert_eq!(f, vec!["HTX chè Tả Lèng", "HTX Tả Lèng"]);
        let f = ntm_short_forms(
            "Hợp tác xã Nông nghiệp Dịch vụ Bản Hon",
            "chè",
            "Bản Hon",
            true,
        );
        assert_eq!(
            f,
            vec![
                "HTX Nông nghiệp Dịch vụ Bản Hon",
                "HTX Bản Hon",
                "HTX NN DV Bản Hon"
            ]
        );
    }
}
