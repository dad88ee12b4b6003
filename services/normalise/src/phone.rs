//! Vietnamese phone numbers.
//!
//! This module owns [`to_e164`]: any way a Vietnamese number is written (`0912 345 678`,
//! `+84 912.345.678`, `84-912-345-678`, `0084912345678`, `(+84) 0912345678`, the landline
//! `0213 3876 543`, a mobile that lost its leading zero in a spreadsheet `912345678`, or a
//! pre-2018 eleven-digit mobile `01662345678`) becomes E.164, `+84` followed by the national
//! significant number. Anything that is not a plausible Vietnamese number is `None`.
//!
//! Plausible means: a mobile of 9 significant digits starting 3, 5, 7, 8 or 9, or a landline
//! of 10 significant digits starting 2 (area code 2xx, e.g. 213 for Lai Châu). Service
//! numbers (1800…, 1900…) and short codes are not personal phones and are `None`.

/// The pre-2018 11-digit mobile prefixes (without the leading 0) and their 10-digit
/// replacements (without the leading 0), as switched by the Ministry in 2018.
const OLD_MOBILE_PREFIXES: &[(&str, &str)] = &[
    ("120", "70"),
    ("121", "79"),
    ("122", "77"),
    ("126", "76"),
    ("128", "78"),
    ("123", "83"),
    ("124", "84"),
    ("125", "85"),
    ("127", "81"),
    ("129", "82"),
    ("162", "32"),
    ("163", "33"),
    ("164", "34"),
    ("165", "35"),
    ("166", "36"),
    ("167", "37"),
    ("168", "38"),
    ("169", "39"),
    ("186", "56"),
    ("188", "58"),
    ("199", "59"),
];

/// A Vietnamese number in E.164 (`+84…`), or `None` when `raw` is not a plausible one.
///
/// Where several numbers are given (`0912345678 / 0987654321`) the first plausible one is
/// taken. A label before a colon (`ĐT: …`, `Tel: …`) is ignored; any other letter makes the
/// input implausible.
///
/// ```
/// use hub_normalise::phone::to_e164;
/// assert_eq!(to_e164("+84 912 345 678").as_deref(), Some("+84912345678"));
/// assert_eq!(to_e164("0213.3876.543").as_deref(), Some("+842133876543"));
/// assert_eq!(to_e164("12345"), None);
/// ```
pub fn to_e164(raw: &str) -> Option<String> {
    // Drop a label ("ĐT:", "Tel:", "SĐT :").
    let body = match raw.rfind(':') {
        Some(i)
            if raw[..i]
                .chars()
                .all(|c| c.is_alphabetic() || c.is_whitespace()) =>
        {
            &raw[i + 1..]
        }
        _ => raw,
    };
    body.split([',', ';', '/', '|']).find_map(one_number)
}

fn one_number(part: &str) -> Option<String> {
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for c in part.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '.' | '-' | '(' | ')' | '\u{00A0}' | '\t' => {}
            _ => return None,
        }
    }
    // The national significant number, as typed.
    let nsn: &str = if plus {
        digits.strip_prefix("84")?
    } else if let Some(rest) = digits.strip_prefix("0084") {
        rest
    } else if let Some(rest) = digits
        .strip_prefix("84")
        .filter(|r| r.len() >= 9 && digits.len() >= 11)
    {
        // 84 + 9 (mobile) or 84 + 10 (landline). A 10-digit national number starting 084 has
        // its leading zero and is handled below.
        rest
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest
    } else if digits.len() == 9 {
        // A mobile that lost its leading zero (spreadsheets).
        &digits
    } else {
        return None;
    };
    // "+84 (0) 912…" and "+84 0912…": a trunk zero after the country code.
    let nsn = nsn.strip_prefix('0').unwrap_or(nsn);
    let nsn = upgrade_old_mobile(nsn);
    let first = nsn.as_bytes().first().copied()?;
    // Mobile: 9 digits starting 3/5/7/8/9. Landline: 10 digits, area code 2xx.
    let plausible = matches!(
        (nsn.len(), first),
        (9, b'3' | b'5' | b'7' | b'8' | b'9') | (10, b'2')
    );
    plausible.then(|| format!("+84{nsn}"))
}

fn upgrade_old_mobile(nsn: &str) -> std::borrow::Cow<'_, str> {
    if nsn.len() == 10 && nsn.starts_with('1') {
        for (old, new) in OLD_MOBILE_PREFIXES {
            if let Some(rest) = nsn.strip_prefix(old) {
                return format!("{new}{rest}").into();
            }
        }
    }
    nsn.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Option<String> {
        to_e164(s)
    }

    #[test]
    fn mobile_in_every_format() {
        let want = Some("+84912345678".to_owned());
        for s in [
            "0912345678",
            "0912 345 678",
            "0912.345.678",
            "0912-345-678",
            "091 234 5678",
            "+84912345678",
            "+84 912 345 678",
            "+84-912-345-678",
            "+84 (0) 912 345 678",
            "+840912345678",
            "84912345678",
            "84-912-345-678",
            "84 912 345 678",
            "0084912345678",
            "0084 912 345 678",
            "(+84) 912345678",
            "912345678",
            " 0912345678 ",
            "0912\u{00A0}345\u{00A0}678",
            "ĐT: 0912345678",
            "SĐT : 0912 345 678",
            "Tel:+84912345678",
            "0912345678 / 0987654321",
            "0912345678; 0987654321",
        ] {
            assert_eq!(e(s), want, "{s:?}");
        }
    }

    #[test]
    fn other_mobile_prefixes() {
        assert_eq!(e("0345678901").as_deref(), Some("+84345678901")); // Viettel 03x
        assert_eq!(e("0523456789").as_deref(), Some("+84523456789")); // 05x
        assert_eq!(e("0701234567").as_deref(), Some("+84701234567")); // 07x
        assert_eq!(e("0845123456").as_deref(), Some("+84845123456")); // 084: not a country code
        assert_eq!(e("0868123456").as_deref(), Some("+84868123456"));
        assert_eq!(e("84845123456").as_deref(), Some("+84845123456"));
        assert_eq!(e("845123456").as_deref(), Some("+84845123456")); // lost its 0
    }

    #[test]
    fn landlines() {
        assert_eq!(e("0213 3876 543").as_deref(), Some("+842133876543")); // Lai Châu
        assert_eq!(e("0213.3876543").as_deref(), Some("+842133876543"));
        assert_eq!(e("(0213) 3 876 543").as_deref(), Some("+842133876543"));
        assert_eq!(e("+84 213 3876 543").as_deref(), Some("+842133876543"));
        assert_eq!(e("842133876543").as_deref(), Some("+842133876543"));
        assert_eq!(e("024 3825 1234").as_deref(), Some("+842438251234")); // Hà Nội
    }

    #[test]
    fn old_eleven_digit_mobiles_are_upgraded() {
        assert_eq!(e("01662345678").as_deref(), Some("+84362345678"));
        assert_eq!(e("0123 456 7890").as_deref(), Some("+84834567890"));
        assert_eq!(e("+84 1662345678").as_deref(), Some("+84362345678"));
    }

    #[test]
    fn implausible_numbers_are_none() {
        for s in [
            "",
            "N/A",
            "không có",
            "12345",
            "091234567",   // 9 digits with trunk zero: one missing
            "09123456789", // one too many
            "+1 202 555 0143",
            "+86 138 0013 8000",
            "1800 1091", // service number
            "19001234",
            "0112345678", // no such prefix
            "0612345678", // no 06 mobiles
            "0912345678abc",
            "gọi anh Minh",
            "+",
            "++84912345678",
        ] {
            assert_eq!(e(s), None, "{s:?}");
        }
    }
}
