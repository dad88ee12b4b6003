//! The lexicon names are read with: legal forms, sector words, products, family names, stop
//! words and the place names of the loaded provinces ([`crate::address::place_phrases`]),
//! built once. Owns the word lists; parses nothing (that is the parent module's).

use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

use super::OrgKindHint;
use super::suffix::SUFFIX_FILLER;
use crate::text;

/// Legal forms: folded phrase, expansion, kind.
pub(super) const LEGAL_FORMS: &[(&str, &str, OrgKindHint)] = &[
    (
        "lien hiep cac hop tac xa",
        "lien hiep hop tac xa",
        OrgKindHint::Lhhtx,
    ),
    (
        "lien hiep hop tac xa",
        "lien hiep hop tac xa",
        OrgKindHint::Lhhtx,
    ),
    (
        "lien hiep cac htx",
        "lien hiep hop tac xa",
        OrgKindHint::Lhhtx,
    ),
    ("lien hiep htx", "lien hiep hop tac xa", OrgKindHint::Lhhtx),
    ("lh hop tac xa", "lien hiep hop tac xa", OrgKindHint::Lhhtx),
    ("lh htx", "lien hiep hop tac xa", OrgKindHint::Lhhtx),
    ("lhhtx", "lien hiep hop tac xa", OrgKindHint::Lhhtx),
    ("lh cac htx", "lien hiep hop tac xa", OrgKindHint::Lhhtx),
    (
        "lien hiep hop tac",
        "lien hiep hop tac xa",
        OrgKindHint::Lhhtx,
    ),
    // "Liên hiệp" alone still names a union (of cooperatives, in this hub's data)
    ("lien hiep", "lien hiep hop tac xa", OrgKindHint::Lhhtx),
    ("hop tac xa", "hop tac xa", OrgKindHint::Htx),
    ("htx", "hop tac xa", OrgKindHint::Htx),
    // two neighbouring letters typed swapped
    ("hxt", "hop tac xa", OrgKindHint::Htx),
    ("thx", "hop tac xa", OrgKindHint::Htx),
    ("to hop tac", "to hop tac", OrgKindHint::Tht),
    ("to ht", "to hop tac", OrgKindHint::Tht),
    ("tht", "to hop tac", OrgKindHint::Tht),
    (
        "cong ty co phan",
        "cong ty co phan",
        OrgKindHint::Enterprise,
    ),
    ("ctcp", "cong ty co phan", OrgKindHint::Enterprise),
    ("cong ty", "cong ty", OrgKindHint::Enterprise),
    ("cty", "cong ty", OrgKindHint::Enterprise),
    (
        "doanh nghiep tu nhan",
        "doanh nghiep tu nhan",
        OrgKindHint::Enterprise,
    ),
    ("dntn", "doanh nghiep tu nhan", OrgKindHint::Enterprise),
    (
        "trach nhiem huu han",
        "trach nhiem huu han",
        OrgKindHint::Enterprise,
    ),
    ("tnhh", "trach nhiem huu han", OrgKindHint::Enterprise),
    ("mot thanh vien", "mot thanh vien", OrgKindHint::Enterprise),
    ("mtv", "mot thanh vien", OrgKindHint::Enterprise),
    ("co phan", "co phan", OrgKindHint::Enterprise),
    ("ho kinh doanh", "ho kinh doanh", OrgKindHint::Household),
    ("hkd", "ho kinh doanh", OrgKindHint::Household),
    ("ho gia dinh", "ho gia dinh", OrgKindHint::Household),
];

/// Legal forms that count only as the first words of a name.
pub(super) const LEADING_ONLY: &[&str] = &["lien hiep", "lien hiep hop tac"];

/// Sector words: folded phrase (spelled out or abbreviated), expansion.
pub(super) const SECTORS: &[(&str, &str)] = &[
    // The order of this table is also the order of sector words in `canonical` (so that
    // `NN DV` and `DV NN` agree); a longer phrase comes before a shorter one it starts with.
    ("nong lam nghiep", "nong lam nghiep"),
    ("nln", "nong lam nghiep"),
    ("tieu thu cong nghiep", "tieu thu cong nghiep"),
    ("ttcn", "tieu thu cong nghiep"),
    ("thu cong my nghe", "thu cong my nghe"),
    ("nong nghiep", "nong nghiep"),
    ("nn", "nong nghiep"),
    ("lam nghiep", "lam nghiep"),
    ("chan nuoi", "chan nuoi"),
    ("cn", "chan nuoi"),
    // what a group does, written out or left out by whoever typed the name (`THT trồng mắc
    // ca`, `Tổ SX mắc ca`): an activity, not a distinctive word
    ("nuoi trong", "nuoi trong"),
    ("nuoi", "nuoi"),
    ("trong trot", "trong trot"),
    ("trong", "trong"),
    ("san xuat", "san xuat"),
    ("sx", "san xuat"),
    ("kinh doanh", "kinh doanh"),
    ("kd", "kinh doanh"),
    ("thuong mai", "thuong mai"),
    ("tm", "thuong mai"),
    ("dich vu", "dich vu"),
    ("dv", "dich vu"),
    ("xay dung", "xay dung"),
    ("xd", "xay dung"),
    ("van tai", "van tai"),
    ("vt", "van tai"),
    ("du lich", "du lich"),
    ("dl", "du lich"),
    ("tong hop", "tong hop"),
    ("th", "tong hop"),
    ("che bien", "che bien"),
    ("tieu thu", "tieu thu"),
    ("nong san", "nong san"),
    ("lam san", "lam san"),
    ("thuy san", "thuy san"),
    ("ts", "thuy san"),
    ("moi truong", "moi truong"),
    ("cong nghe cao", "cong nghe cao"),
    ("nuoc sach", "nuoc sach"),
    ("huu co", "huu co"),
    ("an toan", "an toan"),
    ("phat trien", "phat trien"),
    ("da nganh", "da nganh"),
    ("nganh nghe", "nganh nghe"),
    ("nong thon", "nong thon"),
    ("xuat nhap khau", "xuat nhap khau"),
    ("sach", "sach"),
];

/// Products: spelled forms with diacritics (lower case; a `|` separates alternatives),
/// canonical folded name, and whether an ASCII spelling is too ambiguous to trust when the
/// rest of the input has diacritics (`nam` may be `nấm` or `Nậm`, `ca` `cá` or `Cả`).
pub(super) const PRODUCTS: &[(&str, &str, bool)] = &[
    ("chè|trà", "che", false),
    ("lúa", "lua", false),
    ("gạo", "gao", false),
    ("ngô", "ngo", true),
    ("sắn", "san", true),
    ("dược liệu", "duoc lieu", false),
    ("thảo dược", "duoc lieu", false),
    ("thảo quả", "thao qua", false),
    ("tam thất", "tam that", false),
    ("sâm", "sam", true),
    ("mắc ca|mác ca|macca|mắcca|maca", "mac ca", false),
    ("quế", "que", true),
    ("cao su", "cao su", false),
    ("chuối", "chuoi", false),
    ("cam", "cam", true),
    ("bưởi", "buoi", false),
    ("xoài", "xoai", false),
    ("mận", "man", true),
    ("dứa", "dua", true),
    ("chanh leo", "chanh leo", false),
    ("sơn tra", "son tra", false),
    ("dong riềng", "dong rieng", false),
    ("cây ăn quả|cây ăn trái", "cay an qua", false),
    ("rau", "rau", false),
    ("nấm", "nam", true),
    ("cá", "ca", true),
    ("tôm", "tom", false),
    ("gà", "ga", true),
    ("vịt", "vit", false),
    ("lợn|heo", "lon", true),
    ("bò", "bo", true),
    ("trâu", "trau", false),
    ("dê", "de", true),
    ("mật ong|ong", "ong", false),
    ("đậu tương", "dau tuong", false),
    ("lạc", "lac", true),
    ("mía", "mia", false),
];

/// Vietnamese family names, with diacritics.
pub(super) const FAMILY_NAMES: &[&str] = &[
    "nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "phan", "vũ", "võ", "đặng", "bùi", "đỗ",
    "hồ", "ngô", "dương", "lý", "lò", "giàng", "tẩn", "vàng", "sùng", "tòng", "lường", "lương",
    "đèo", "chảo", "phàn", "lù", "thào", "mùa", "hầu", "cứ", "lầu", "pờ", "chang", "lồ", "hảng",
    "tráng", "khoàng", "quàng", "cầm", "điêu", "lèo", "mào", "ma", "hà", "đinh", "đào", "trịnh",
    "mai", "tạ", "lưu", "vi", "nông", "sần", "lìu", "chẻo", "phùng", "triệu", "chu", "lại", "tao",
    "sìn", "hờ", "lỳ", "ly", "vừ", "mã", "tô", "thái", "đoàn", "kiều", "quách", "khổng", "san",
    "ló", "pàn", "lỳ", "thèn", "chìn", "hạng",
];

/// Words dropped from names: unit words, conjunctions, honorifics.
pub(super) const STOP_WORDS: &[&str] = &[
    "va",
    "cac",
    "cua",
    "tai",
    "so",
    "xa",
    "phuong",
    "thi tran",
    "tt",
    "huyen",
    "tinh",
    "thanh pho",
    "tp",
    "thon",
    "ban",
    "khu",
    "xom",
    "doi",
    "to",
    "nhom",
];

/// Abbreviations that may be glued together (`HTXNN`, `SXKD`).
pub(super) const GLUEABLE: &[&str] = &[
    "lhhtx", "htx", "tht", "lh", "hkd", "dntn", "tnhh", "mtv", "ctcp", "nln", "ttcn", "nn", "dv",
    "sx", "tm", "kd", "cn", "xd", "vt", "dl", "th",
];

pub(super) struct Phrase {
    pub(super) words: Vec<String>,
}

pub(super) struct ProductForm {
    /// Lower-case NFC words with diacritics.
    pub(super) raw: Vec<String>,
    /// Folded words.
    pub(super) folded: Vec<String>,
    pub(super) canonical: &'static str,
    pub(super) strict: bool,
}

pub(super) struct Lexicon {
    pub(super) legal: Vec<(Phrase, &'static str, OrgKindHint)>,
    /// Phrase, expansion, rank of the expansion (its first row in [`SECTORS`]).
    pub(super) sectors: Vec<(Phrase, &'static str, usize)>,
    pub(super) products: Vec<ProductForm>,
    pub(super) places: Vec<&'static [String]>,
    pub(super) stop: Vec<Phrase>,
    pub(super) suffix_filler: Vec<Phrase>,
    pub(super) family: Vec<String>,
    pub(super) family_folded: Vec<String>,
}

pub(super) fn phrase(s: &str) -> Phrase {
    Phrase {
        words: s.split(' ').map(str::to_owned).collect(),
    }
}

pub(super) fn lexicon() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(|| {
        let mut products = Vec::new();
        for (forms, canonical, strict) in PRODUCTS {
            for form in forms.split('|') {
                let raw: Vec<String> = form
                    .nfc()
                    .collect::<String>()
                    .split(' ')
                    .map(str::to_owned)
                    .collect();
                let folded = raw.iter().map(|w| text::fold(w)).collect();
                products.push(ProductForm {
                    raw,
                    folded,
                    canonical,
                    strict: *strict,
                });
            }
        }
        // longest phrases first, so that "che bien" wins over "che"
        products.sort_by_key(|p| std::cmp::Reverse(p.folded.len()));
        let mut places: Vec<&'static [String]> = crate::address::place_phrases().collect();
        places.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Lexicon {
            legal: LEGAL_FORMS
                .iter()
                .map(|(p, e, k)| (phrase(p), *e, *k))
                .collect(),
            sectors: SECTORS
                .iter()
                .map(|(p, e)| {
                    let rank = SECTORS.iter().position(|(_, e2)| e2 == e).unwrap_or(0);
                    (phrase(p), *e, rank)
                })
                .collect(),
            products,
            places,
            stop: STOP_WORDS.iter().map(|s| phrase(s)).collect(),
            suffix_filler: SUFFIX_FILLER.iter().map(|s| phrase(s)).collect(),
            family: FAMILY_NAMES.iter().map(|f| f.nfc().collect()).collect(),
            family_folded: FAMILY_NAMES.iter().map(|f| text::fold(f)).collect(),
        }
    })
}
