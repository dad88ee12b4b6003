//! Masking personal data (representatives' names and phones) before it reaches a log.
//!
//! This module owns:
//! - [`mask_name`]: `"Lò Văn Minh"` → `"L** V** M***"`: the first letter of each word, then
//!   at least two stars (so short names do not give their length away).
//! - [`mask_phone`]: `"+84912345678"` → `"+849******78"`: country code, first and last two
//!   digits kept. Any Vietnamese format is normalised first; what is not a phone keeps only
//!   its last two digits.
//! - [`Masked`]: a wrapper whose `Display` and `Debug` print the masked form, for tracing
//!   fields: `tracing::info!(rep = %Masked::name(&rep), phone = ?Masked::phone(&p))`.
//!
//! Masking is for logs and error messages, not for pseudonymisation: it is not reversible
//! but neither is it a secure hash.

use std::borrow::Cow;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::phone;

/// Masks a person's name: each word keeps its first letter, the rest becomes at least two
/// stars.
///
/// ```
/// use hub_normalise::mask::mask_name;
/// assert_eq!(mask_name("Lò Văn Minh"), "L** V** M***");
/// ```
pub fn mask_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let mut chars = word.nfc();
        if let Some(first) = chars.next() {
            out.push(first);
            let rest = chars.count().max(2);
            out.extend(std::iter::repeat_n('*', rest));
        }
    }
    out
}

/// Masks a phone number: E.164 with the first and the last two digits of the subscriber
/// number kept. A value that is not a Vietnamese number keeps only its last two digits.
///
/// ```
/// use hub_normalise::mask::mask_phone;
/// assert_eq!(mask_phone("+84912345678"), "+849******78");
/// assert_eq!(mask_phone("0912 345 678"), "+849******78");
/// ```
pub fn mask_phone(raw: &str) -> String {
    if let Some(e164) = phone::to_e164(raw) {
        // "+84" then the national significant number (9 or 10 ASCII digits).
        let nsn = &e164[3..];
        let n = nsn.len();
        let mut out = String::with_capacity(e164.len());
        out.push_str("+84");
        out.push_str(&nsn[..1]);
        out.extend(std::iter::repeat_n('*', n - 3));
        out.push_str(&nsn[n - 2..]);
        return out;
    }
    let digits: Vec<char> = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 4 {
        let mut out = String::from("***");
        out.extend(&digits[digits.len() - 2..]);
        out
    } else {
        "***".to_owned()
    }
}

/// How a [`Masked`] value is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    /// [`mask_name`].
    Name,
    /// [`mask_phone`].
    Phone,
    /// [`mask_phone`] when the value reads as a phone number, else [`mask_name`].
    Auto,
    /// Everything hidden: `***`.
    Redacted,
}

/// Something that can be shown masked: strings, and `Option`s and references of them.
pub trait MaskSource {
    /// The text to mask, or `None` for an absent value.
    fn mask_text(&self) -> Option<Cow<'_, str>>;
}

impl MaskSource for str {
    fn mask_text(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
}

impl MaskSource for String {
    fn mask_text(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
}

impl MaskSource for Cow<'_, str> {
    fn mask_text(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
}

impl<T: MaskSource + ?Sized> MaskSource for &T {
    fn mask_text(&self) -> Option<Cow<'_, str>> {
        (**self).mask_text()
    }
}

impl<T: MaskSource> MaskSource for Option<T> {
    fn mask_text(&self) -> Option<Cow<'_, str>> {
        self.as_ref().and_then(MaskSource::mask_text)
    }
}

/// A value that prints masked, with `Display` and `Debug` alike; an absent value prints as
/// `-`. The unmasked value stays reachable through [`Masked::inner`] for code that needs it.
///
/// ```
/// use hub_normalise::mask::Masked;
/// let rep = Some("Lò Văn Minh".to_owned());
/// assert_eq!(format!("{}", Masked::name(&rep)), "L** V** M***");
/// assert_eq!(format!("{:?}", Masked::phone("0912345678")), "\"+849******78\"");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Masked<T> {
    value: T,
    kind: MaskKind,
}

impl<T> Masked<T> {
    /// Wraps `value`, to be masked as `kind`.
    pub fn new(value: T, kind: MaskKind) -> Self {
        Masked { value, kind }
    }
    /// Wraps a person's name.
    pub fn name(value: T) -> Self {
        Self::new(value, MaskKind::Name)
    }
    /// Wraps a phone number.
    pub fn phone(value: T) -> Self {
        Self::new(value, MaskKind::Phone)
    }
    /// Wraps a value that is a phone or a name, decided on the value.
    pub fn auto(value: T) -> Self {
        Self::new(value, MaskKind::Auto)
    }
    /// Wraps a value to be hidden entirely.
    pub fn redacted(value: T) -> Self {
        Self::new(value, MaskKind::Redacted)
    }
    /// The unmasked value.
    pub fn inner(&self) -> &T {
        &self.value
    }
    /// The unmasked value, unwrapped.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: MaskSource> Masked<T> {
    /// The masked text (`-` for an absent value).
    pub fn masked(&self) -> String {
        let Some(text) = self.value.mask_text() else {
            return "-".to_owned();
        };
        match self.kind {
            MaskKind::Name => mask_name(&text),
            MaskKind::Phone => mask_phone(&text),
            MaskKind::Redacted => "***".to_owned(),
            MaskKind::Auto => {
                if looks_like_phone(&text) {
                    mask_phone(&text)
                } else {
                    mask_name(&text)
                }
            }
        }
    }
}

fn looks_like_phone(s: &str) -> bool {
    if phone::to_e164(s).is_some() {
        return true;
    }
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    digits >= 6 && digits > letters
}

impl<T: MaskSource> fmt::Display for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl<T: MaskSource> fmt::Debug for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value.mask_text() {
            Some(_) => write!(f, "{:?}", self.masked()),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_initials_only() {
        assert_eq!(mask_name("Lò Văn Minh"), "L** V** M***");
        assert_eq!(mask_name("Giàng A Páo"), "G**** A** P**");
        assert_eq!(mask_name("Đèo Thị Hường"), "Đ** T** H****");
        assert_eq!(mask_name("  Tẩn   Láo  Lở "), "T** L** L**");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("   "), "");
        // NFD input: the initial keeps its diacritic as one char, and marks are not counted
        let nfd: String = "Lò Văn Minh".nfd().collect();
        assert_eq!(mask_name(&nfd), "L** V** M***");
        let nfd: String = "Ẩn".nfd().collect();
        assert_eq!(mask_name(&nfd), "Ẩ**");
    }

    #[test]
    fn masked_name_hides_every_letter_but_initials() {
        let m = mask_name("Nguyễn Thị Hoa");
        for hidden in ["guy", "hị", "oa"] {
            assert!(!m.contains(hidden), "{m}");
        }
    }

    #[test]
    fn phones_keep_first_and_last_two() {
        assert_eq!(mask_phone("+84912345678"), "+849******78");
        assert_eq!(mask_phone("0912.345.678"), "+849******78");
        assert_eq!(mask_phone("84-912-345-678"), "+849******78");
        assert_eq!(mask_phone("0213 3876 543"), "+842*******43");
        assert_eq!(mask_phone("12345"), "***45");
        assert_eq!(mask_phone("+1 202 555 0143"), "***43");
        assert_eq!(mask_phone("12"), "***");
        assert_eq!(mask_phone(""), "***");
        assert!(!mask_phone("0912345678").contains("345"));
    }

    #[test]
    fn masked_wrapper_masks_display_and_debug() {
        let name = "Lò Văn Minh".to_owned();
        let m = Masked::name(&name);
        assert_eq!(m.to_string(), "L** V** M***");
        assert_eq!(format!("{m:?}"), "\"L** V** M***\"");
        assert_eq!(m.inner(), &&name);
        assert!(!format!("{m} {m:?} {m:#?}").contains("Minh"));

        let p = Masked::phone("+84 912 345 678");
        assert_eq!(p.to_string(), "+849******78");
        assert_eq!(format!("{p:?}"), "\"+849******78\"");

        let none: Option<String> = None;
        assert_eq!(Masked::name(&none).to_string(), "-");
        assert_eq!(format!("{:?}", Masked::name(&none)), "None");
        let some = Some("Lò Văn Minh");
        assert_eq!(Masked::name(some).to_string(), "L** V** M***");

        assert_eq!(Masked::auto("0912345678").to_string(), "+849******78");
        assert_eq!(Masked::auto("Lò Văn Minh").to_string(), "L** V** M***");
        assert_eq!(Masked::redacted("anything").to_string(), "***");
        assert_eq!(Masked::name(Cow::Borrowed("Lò A")).into_inner(), "Lò A");
    }

    #[test]
    fn masked_inside_a_struct_debug() {
        #[derive(Debug)]
        #[allow(dead_code)] // read through Debug only
        struct Rep<'a> {
            name: Masked<&'a str>,
            phone: Masked<&'a str>,
        }
        let r = Rep {
            name: Masked::name("Lò Văn Minh"),
            phone: Masked::phone("0912345678"),
        };
        let s = format!("{r:?}");
        assert!(!s.contains("Minh") && !s.contains("345"), "{s}");
        assert!(s.contains("L** V** M***"));
    }
}
