//! Personal data for the roles that need it: representatives' names and phones, and
//! household borrowers' names and tax codes (a household's tax code is a person's), reach
//! reviewers and admins as they are, and viewers masked ([`hub_normalise::mask`]).
//!
//! [`mask_personal`] walks any JSON an upstream service returned (golden records, source
//! records, review items, dead-letter bodies) and masks the values of personal fields by
//! their key, wherever they sit: so a new field named like one of these is masked too.
//! Owns no I/O.

use hub_normalise::mask::{mask_name, mask_phone};
use serde_json::Value;

/// Keys whose string values are phones.
fn is_phone_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("phone") || k == "tel" || k == "sdt" || k.contains("dien_thoai") || k == "mobile"
}

/// Keys whose values are persons' names (or a person object).
fn is_person_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("representative")
        || k.contains("legal_rep")
        || k.contains("dai_dien")
        || k == "full_name"
        || k == "contact_name"
        || k == "director"
}

/// A tax code shown only by its last three characters: `*******456`.
pub fn mask_code(code: &str) -> String {
    let chars: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    let keep = if chars.len() > 6 { 3 } else { 0 };
    let mut out: String =
        std::iter::repeat_n('*', chars.len().saturating_sub(keep).max(3)).collect();
    out.extend(&chars[chars.len() - keep..]);
    out
}

/// An object describing a household borrower (`borrower_type: household`, in a loan or in
/// its raw record).
fn is_household(map: &serde_json::Map<String, Value>) -> bool {
    ["borrower_type", "loai_khach_hang", "customer_type"]
        .iter()
        .filter_map(|k| map.get(*k).and_then(Value::as_str))
        .any(|t| {
            let t = t.trim().to_lowercase();
            t == "household" || t == "ho_gia_dinh" || t == "hộ gia đình"
        })
}

fn is_tax_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("tax_code") || k == "mst" || k == "ma_so_thue"
}

/// Masks a household borrower's names and tax codes (the object `borrower`, or the fields
/// beside `borrower_type`).
fn mask_household(map: &mut serde_json::Map<String, Value>) {
    for (k, v) in map.iter_mut() {
        let lk = k.to_ascii_lowercase();
        if lk == "borrower" {
            if let Value::Object(b) = v {
                for (bk, bv) in b.iter_mut() {
                    let lbk = bk.to_ascii_lowercase();
                    if lbk.contains("name") {
                        mask_strings(bv, &mask_name);
                    } else if is_tax_key(&lbk) {
                        mask_strings(bv, &mask_code);
                    }
                }
            } else {
                mask_strings(v, &mask_name);
            }
        } else if lk == "borrower_name" || lk == "name" {
            mask_strings(v, &mask_name);
        } else if is_tax_key(&lk) {
            mask_strings(v, &mask_code);
        }
    }
}

/// Masks personal values in `value`, in place.
pub fn mask_personal(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if is_household(map) {
                mask_household(map);
            }
            for (k, v) in map.iter_mut() {
                if is_phone_key(k) {
                    mask_strings(v, &mask_phone);
                } else if is_person_key(k) {
                    match v {
                        // a person object: its name and phone
                        Value::Object(_) => mask_person(v),
                        other => mask_strings(other, &mask_name),
                    }
                } else {
                    mask_personal(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_personal),
        _ => {}
    }
}

fn mask_person(v: &mut Value) {
    if let Value::Object(map) = v {
        for (k, v) in map.iter_mut() {
            if is_phone_key(k) {
                mask_strings(v, &mask_phone);
            } else if k == "full_name" || k == "name" || is_person_key(k) {
                mask_strings(v, &mask_name);
            } else {
                mask_personal(v);
            }
        }
    }
}

fn mask_strings(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|i| mask_strings(i, f)),
        Value::Object(map) => map.values_mut().for_each(|i| mask_strings(i, f)),
        _ => {}
    }
}

/// Masks a dead letter's body (JSON, or text that may hold a phone): viewers see its shape,
/// not its personal data.
pub fn mask_body(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(mut v) => {
            mask_personal(&mut v);
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        Err(_) => "(not JSON: hidden from viewers, may hold personal data)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_names_and_phones_wherever_they_are() {
        let mut v = json!({
            "name": "HTX Nông nghiệp Tân Uyên",
            "representative": {"full_name": "Lò Văn Minh", "phone": "+84912345678"},
            "records": [{"borrower": {"name": "HTX Tân Uyên", "legal_rep": "Tòng Thị Hoa", "phone": "0912 345 678"}},
                        {"raw": {"representative": "Lò Văn Minh"}}],
        });
        mask_personal(&mut v);
        assert_eq!(
            v["name"], "HTX Nông nghiệp Tân Uyên",
            "organisation names are not personal"
        );
        assert_eq!(v["representative"]["full_name"], "L** V** M***");
        assert_eq!(v["representative"]["phone"], "+849******78");
        assert_eq!(v["records"][0]["borrower"]["name"], "HTX Tân Uyên");
        assert_eq!(v["records"][0]["borrower"]["legal_rep"], "T*** T** H**");
        assert!(!v.to_string().contains("345"), "{v}");
        assert_eq!(v["records"][1]["raw"]["representative"], "L** V** M***");
    }

    #[test]
    fn household_borrowers_are_masked_cooperatives_are_not() {
        let mut v = json!({"items": [
            {"borrower": {"name": "Lò Văn Minh", "tax_code": "8012345678", "address": "Bản Hon"},
             "borrower_type": "household",
             "meta": {"raw": {"borrower": {"name": "Lo Van Minh", "tax_code": "801-234-5678"},
                              "borrower_type": "household"}}},
            {"borrower": {"name": "HTX Tân Uyên", "tax_code": "6200123456"},
             "borrower_type": "cooperative"},
        ]});
        mask_personal(&mut v);
        let h = &v["items"][0];
        assert_eq!(h["borrower"]["name"], "L** V** M***");
        assert_eq!(h["borrower"]["tax_code"], "*******678");
        assert_eq!(h["meta"]["raw"]["borrower"]["name"], "L** V** M***");
        assert!(
            !v.to_string().contains("8012345678") && !v.to_string().contains("Minh"),
            "{v}"
        );
        assert_eq!(v["items"][1]["borrower"]["name"], "HTX Tân Uyên");
        assert_eq!(v["items"][1]["borrower"]["tax_code"], "6200123456");
        assert_eq!(mask_code("12"), "***");
    }

    #[test]
    fn bodies_that_are_not_json_are_hidden() {
        assert!(!mask_body("call 0912345678").contains("0912"));
        assert!(mask_body(r#"{"phone":"0912345678"}"#).contains("******"));
    }
}
