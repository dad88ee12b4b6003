//! Every public function takes any string without panicking, and folding is stable.

use hub_normalise::{address, datetime, mask, orgname, person, phone, taxcode, text};

/// A small deterministic generator (xorshift), so the test needs no extra crate.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "HTX",
    "H.T.X",
    "NN",
    "dv",
    "Bản",
    "Hon",
    "xã",
    "huyện",
    "Tam Đường",
    "Nậm",
    "Chà",
    "Mường Tè",
    "thị trấn",
    "TT",
    "Lò",
    "Văn",
    "Minh",
    "chè",
    "dê",
    "Sà Dề Phìn",
    "bản",
    "Lai Châu",
    ",",
    ".",
    "-",
    "/",
    "(",
    ")",
    " ",
    "  ",
    "\t",
    "\n",
    "0",
    "9",
    "+84",
    "0084",
    "84",
    "0912",
    "345",
    "678",
    "N/A",
    "31/02/2024",
    "02/07/2024",
    "2024-07-02 10:11:12",
    ":",
    "\u{0300}",
    "\u{0323}",
    "\u{00A0}",
    "Ð",
    "ǅ",
    "İ",
    "ß",
    "🙂",
    "中文",
    "\u{200B}",
    "ﬁ",
    "Ⅻ",
    "ŉ",
    "Ω",
    "thhtxnn",
    "lhhtx",
    "LH",
    "Can Hồ",
    "Hua Bum",
    "hộ",
    "ông",
    "Tẩn",
    "tt.",
    "x.",
    "h.",
    "tp",
    "tỉnh",
    "Sif",
    "Namj",
    "Haam",
    "qau",
    "Na5m",
    "vaf",
    "dd",
    "w",
    "Tổ",
    "Liên hiệp",
    "Khun Há",
    "xoong",
];

fn check_all(s: &str) {
    let f = text::fold(s);
    assert_eq!(text::fold(&f), f, "fold is idempotent on {s:?}");
    assert!(
        !f.starts_with(' ') && !f.ends_with(' ') && !f.contains("  "),
        "{s:?} → {f:?}"
    );
    assert_eq!(text::tokens(s).join(" "), f);
    let _ = text::lower_nfc(s);
    let short: String = s.chars().take(200).collect();
    let _ = text::edit_distance(&short, &f);
    let o = orgname::parse(s);
    assert_eq!(o.folded, f);
    for t in o.core_tokens.iter().chain(&o.suffix_place_tokens) {
        assert!(!t.is_empty() && !t.contains(' '), "{s:?}: {t:?}");
    }
    let _ = address::resolve(s);
    let _ = address::candidates(s);
    let _ = address::resolve_district(s);
    let _ = address::resolve_commune_in_district(s, s);
    let _ = address::resolve_commune_in_district(s, "Huyện Tam Đường");
    let _ = address::district_code_by_name(s);
    let _ = address::unit_2025_by_name(s);
    let _ = address::resolve_2025(s);
    let _ = text::fold_typed(s);
    let _ = text::is_syllable(s);
    let _ = text::repair_word(s);
    let _ = taxcode::near_miss(s, "6200123456");
    let _ = taxcode::near_miss(s, s);
    let _ = taxcode::clean(s);
    let _ = taxcode::check(s);
    let _ = taxcode::distance(s, "6200123456");
    if let Some(p) = phone::to_e164(s) {
        assert!(
            p.starts_with("+84") && p[1..].bytes().all(|b| b.is_ascii_digit()),
            "{p}"
        );
        assert_eq!(
            phone::to_e164(&p).as_deref(),
            Some(p.as_str()),
            "E.164 is a fixed point"
        );
    }
    let _ = datetime::parse_dmy(s);
    let _ = datetime::local_vn(s);
    let _ = mask::mask_name(s);
    let _ = mask::mask_phone(s);
    let _ = mask::Masked::auto(s).to_string();
    let _ = person::normalise(s);
    let sim = person::similarity(s, "Lò Văn Minh");
    assert!((0.0..=1.0).contains(&sim), "{sim}");
}

#[test]
fn random_inputs_do_not_panic() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..1500 {
        let n = (g.next() % 12) as usize;
        let s: String = (0..n).map(|_| g.pick(PIECES)).collect();
        check_all(&s);
        let spaced: Vec<&str> = (0..n).map(|_| g.pick(PIECES)).collect();
        check_all(&spaced.join(" "));
    }
}

#[test]
fn edge_inputs_do_not_panic() {
    for s in [
        "",
        " ",
        "\u{0300}",
        "\u{0300}\u{0301}a",
        &"a".repeat(10_000),
        &"Bản Hon, ".repeat(500),
        &"9".repeat(1000),
        &"th".repeat(5000),
        "+",
        "++",
        "/",
        "//",
        "0/0/0",
        "99/99/9999",
        "9999-99-99 99:99:99",
    ] {
        check_all(s);
    }
}
