//! Vocabulary of the generated world: Lai Châu's ethnic personal names, village names,
//! products and the words cooperatives are named with, plus the small text helpers the
//! generator and the noise functions need (diacritic folding, bare unit names).
//!
//! Owns words only; no randomness policy beyond "pick one of these".

use rand::Rng;
use rand::seq::IndexedRandom;
use unicode_normalization::UnicodeNormalization;

/// A product line: the word used in legal names, the phrase a THT is named with, and loan
/// purposes that fit it.
#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// As in "Hợp tác xã chè Tả Lèng".
    pub word: &'static str,
    /// As in "Tổ hợp tác trồng chè Tả Lèng".
    pub tht_phrase: &'static str,
    /// Loan purposes.
    pub purposes: &'static [&'static str],
    /// Livestock or fish (named with "Chăn nuôi"/"Thủy sản" rather than "Nông nghiệp").
    pub animal: bool,
}

pub const PRODUCTS: &[Product] = &[
    Product {
        word: "chè",
        tht_phrase: "trồng chè",
        purposes: &["Mua máy sấy chè", "Mua máy vò chè", "Mở rộng vùng chè"],
        animal: false,
    },
    Product {
        word: "lúa gạo",
        tht_phrase: "sản xuất lúa",
        purposes: &[
            "Mua máy gặt đập liên hợp",
            "Mua giống lúa",
            "Xây dựng kho bảo quản",
        ],
        animal: false,
    },
    Product {
        word: "dược liệu",
        tht_phrase: "trồng dược liệu",
        purposes: &["Mua giống cây dược liệu", "Xây dựng nhà sơ chế dược liệu"],
        animal: false,
    },
    Product {
        word: "thảo quả",
        tht_phrase: "trồng thảo quả",
        purposes: &["Mua lò sấy thảo quả", "Mở rộng vùng trồng thảo quả"],
        animal: false,
    },
    Product {
        word: "mắc ca",
        tht_phrase: "trồng mắc ca",
        purposes: &["Mở rộng vùng trồng mắc ca", "Mua máy tách vỏ mắc ca"],
        animal: false,
    },
    Product {
        word: "cá",
        tht_phrase: "nuôi cá lồng",
        purposes: &["Mua cá giống", "Làm lồng nuôi cá", "Mua thức ăn thủy sản"],
        animal: true,
    },
    Product {
        word: "rau",
        tht_phrase: "trồng rau an toàn",
        purposes: &["Xây dựng nhà lưới trồng rau", "Mua hệ thống tưới nhỏ giọt"],
        animal: false,
    },
    Product {
        word: "quế",
        tht_phrase: "trồng quế",
        purposes: &["Mua giống quế", "Xây dựng lò chưng cất tinh dầu quế"],
        animal: false,
    },
    Product {
        word: "chuối",
        tht_phrase: "trồng chuối",
        purposes: &["Mua giống chuối cấy mô", "Mua phân bón"],
        animal: false,
    },
    Product {
        word: "gà",
        tht_phrase: "chăn nuôi gà",
        purposes: &["Xây dựng chuồng trại chăn nuôi", "Mua gà giống"],
        animal: true,
    },
    Product {
        word: "lợn đen",
        tht_phrase: "chăn nuôi lợn đen",
        purposes: &["Xây dựng chuồng trại chăn nuôi", "Mua lợn giống"],
        animal: true,
    },
    Product {
        word: "sâm",
        tht_phrase: "trồng sâm",
        purposes: &["Mua giống sâm Lai Châu", "Làm nhà lưới trồng sâm"],
        animal: false,
    },
    Product {
        word: "dong riềng",
        tht_phrase: "trồng dong riềng",
        purposes: &["Mua máy làm miến dong", "Xây dựng xưởng chế biến"],
        animal: false,
    },
    Product {
        word: "mận",
        tht_phrase: "trồng mận tam hoa",
        purposes: &["Mua giống mận", "Mua kho lạnh bảo quản quả"],
        animal: false,
    },
];

/// Village (bản) names of the kind found in Lai Châu.
pub const VILLAGES: &[&str] = &[
    "Nà Khương",
    "Pa Pe",
    "Sì Thâu Chải",
    "Hô Be",
    "Phiêng Ló",
    "Lao Chải",
    "Sin Chải",
    "Thèn Thầu",
    "Nậm Đích",
    "Nà Hừ",
    "Hua Pầu",
    "Nà Ít",
    "Đông Pao",
    "Chu Va",
    "Cốc Phát",
    "Na Bo",
    "Nà Sẳng",
    "Pắc Pạ",
    "Hô Ta",
    "Tả Chải",
    "Ma Sao Phìn",
    "Nậm Sì Lường",
    "Mường Cấu",
    "Hua Cuông",
    "Nà Khoang",
    "Lả Mường",
    "Pá Khôm",
    "Co Muông",
    "Phiêng Pẳn",
    "Huổi Bắc",
    "Nà Phát",
    "Chiềng Khay",
    "Nậm Mở",
    "Pá Pha",
    "Khoang Thèn",
    "Ngải Thầu",
    "Cư Nhà La",
    "Hồng Quảng",
    "Gia Khâu",
    "Sang Ngài",
    "Pờ Ngài",
    "Seo Lèng",
    "Sùng Chô",
    "Nà Cang",
    "Phiêng Phát",
];

/// One ethnic group's naming pattern.
struct NamePattern {
    surnames: &'static [&'static str],
    male_middle: &'static [&'static str],
    female_middle: &'static [&'static str],
    male_given: &'static [&'static str],
    female_given: &'static [&'static str],
    weight: u32,
}

const NAME_PATTERNS: &[NamePattern] = &[
    // Thái
    NamePattern {
        surnames: &["Lò", "Lường", "Tao", "Vì", "Cầm", "Điêu", "Hoàng"],
        male_middle: &["Văn"],
        female_middle: &["Thị"],
        male_given: &[
            "Minh", "Ún", "Sơn", "Pánh", "Thắng", "Chiến", "Xôm", "Inh", "Khăm", "Lả",
        ],
        female_given: &["Xuân", "Hương", "Ban", "Chăm", "Pọm", "Ỏm", "Lả", "Mai"],
        weight: 30,
    },
    // H'Mông
    NamePattern {
        surnames: &["Giàng", "Vàng", "Thào", "Sùng", "Lý", "Hầu", "Mùa", "Lầu"],
        male_middle: &["A", "Seo", "A", "Văn"],
        female_middle: &["Thị", "Thị", "Seo"],
        male_given: &[
            "Páo", "Chử", "Sình", "Chứ", "Dế", "Lử", "Súa", "Tủa", "Vàng", "Pó",
        ],
        female_given: &["Mỷ", "Sua", "Dở", "Mai", "Chá", "Dua", "Pàng"],
        weight: 28,
    },
    // Dao
    NamePattern {
        surnames: &["Tẩn", "Lý", "Chảo", "Phàn", "Đặng"],
        male_middle: &["Láo", "Văn", "A", "Kin"],
        female_middle: &["Thị", "Lở"],
        male_given: &["Lở", "Sử", "Kiều", "Chản", "Phù", "Quẩy", "Vảng"],
        female_given: &["Mẩy", "Dung", "Xuân", "Mảy", "Phây", "Mùi"],
        weight: 14,
    },
    // Kinh
    NamePattern {
        surnames: &["Nguyễn", "Trần", "Lê", "Phạm", "Đỗ", "Hà", "Bùi"],
        male_middle: &["Văn", "Đức", "Quang", "Minh"],
        female_middle: &["Thị", "Thu", "Thanh"],
        male_given: &["Hùng", "Tùng", "Dũng", "Hải", "Thành", "Bình", "Quân"],
        female_given: &["Lan", "Hoa", "Hằng", "Nga", "Thảo", "Huyền"],
        weight: 14,
    },
    // Hà Nhì
    NamePattern {
        surnames: &["Chu", "Pờ", "Lỳ", "Lò", "Phu"],
        male_middle: &["Gạ", "Mé", "A", "Xé"],
        female_middle: &["Mò", "Thị", "Xá"],
        male_given: &["Xá", "Chừ", "Hừ", "Phì", "Gió"],
        female_given: &["Mé", "Xe", "Chà", "Mò"],
        weight: 7,
    },
    // Giáy
    NamePattern {
        surnames: &["Hoàng", "Lù", "Vương", "Sầm"],
        male_middle: &["Văn", "Seo"],
        female_middle: &["Thị"],
        male_given: &["Chiến", "Cương", "Pao", "Tân"],
        female_given: &["Thu", "Lan", "Sen"],
        weight: 7,
    },
];

/// A plausible full name of someone from one of the province's ethnic groups.
pub fn person_name(rng: &mut impl Rng) -> String {
    let total: u32 = NAME_PATTERNS.iter().map(|p| p.weight).sum();
    let mut pick = rng.random_range(0..total);
    let mut pattern = &NAME_PATTERNS[0];
    for p in NAME_PATTERNS {
        if pick < p.weight {
            pattern = p;
            break;
        }
        pick -= p.weight;
    }
    let male = rng.random_bool(0.6);
    let surname = pick_str(rng, pattern.surnames);
    let (middle, given) = if male {
        (
            pick_str(rng, pattern.male_middle),
            pick_str(rng, pattern.male_given),
        )
    } else {
        (
            pick_str(rng, pattern.female_middle),
            pick_str(rng, pattern.female_given),
        )
    };
    format!("{surname} {middle} {given}")
}

/// Mobile prefixes in use in Viet Nam (three digits, leading 0).
const MOBILE_PREFIXES: &[&str] = &[
    "091", "094", "088", "083", "084", "085", "081", "082", "097", "098", "096", "086", "032",
    "033", "034", "035", "036", "037", "038", "039", "070", "076", "077", "078", "079", "056",
    "058",
];

/// A Vietnamese mobile number in its domestic form, `0` and nine digits.
pub fn phone(rng: &mut impl Rng) -> String {
    let prefix = pick_str(rng, MOBILE_PREFIXES);
    format!("{prefix}{:07}", rng.random_range(0..10_000_000u32))
}

/// One element of a non-empty constant list.
pub fn pick_str(rng: &mut impl Rng, list: &[&'static str]) -> &'static str {
    list.choose(rng).copied().unwrap_or("")
}

/// Removes Vietnamese diacritics: `Bản Hon` → `Ban Hon`, `Đoàn` → `Doan`.
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !('\u{0300}'..='\u{036f}').contains(c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

/// A commune's name without its kind: `Xã Bản Hon` → `Bản Hon`.
pub fn bare_commune(name: &str) -> &str {
    for prefix in ["Xã ", "Phường ", "Thị trấn "] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest;
        }
    }
    name
}

/// A district's name without its kind: `Huyện Tam Đường` → `Tam Đường`.
pub fn bare_district(name: &str) -> &str {
    for prefix in ["Huyện ", "Thành phố ", "Thị xã "] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest;
        }
    }
    name
}

/// The lower-case word a commune's kind is written with in an address (`xã`, `phường`,
/// `thị trấn`), from the reference's `commune_kind`.
pub fn commune_word(kind: &str) -> &str {
    match kind {
        "phường" => "phường",
        "thị trấn" => "thị trấn",
        _ => "xã",
    }
}

/// The lower-case word a district is written with in an address.
pub fn district_word(name: &str) -> &'static str {
    if name.starts_with("Thành phố") {
        "thành phố"
    } else {
        "huyện"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn folding_and_bare_names() {
        assert_eq!(
            fold("Hợp tác xã Nông nghiệp Đoàn Kết"),
            "Hop tac xa Nong nghiep Doan Ket"
        );
        assert_eq!(bare_commune("Xã Bản Hon"), "Bản Hon");
        assert_eq!(bare_commune("Thị trấn Tam Đường"), "Tam Đường");
        assert_eq!(bare_district("Thành phố Lai Châu"), "Lai Châu");
    }

    #[test]
    fn names_and_phones_look_right() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let n = person_name(&mut rng);
            assert_eq!(n.split(' ').count(), 3, "{n}");
            let p = phone(&mut rng);
            assert_eq!(p.len(), 10);
            assert!(p.starts_with('0') && p.chars().all(|c| c.is_ascii_digit()));
        }
    }
}
