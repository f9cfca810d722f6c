//! The demo city: the districts and counties of Tianshui (天水市, division prefix 6205), their
//! market-supervision bureaus, trades, names and people.
//!
//! Names are made from common parts (a brand, a trade word, a legal-form suffix), so they read
//! like the register's without naming any real business. Identity-card numbers have the real
//! structure (division, birth date, sequence, ISO 7064 check) but are drawn at random; they are
//! demo personal data and live only behind commitments, like real data would.

use chrono::NaiveDate;
use ledger_core::events::{Authority, CaseCategory, EntityKind, LegalBasis};

use super::rng::Rng;

/// A district or county of Tianshui.
#[derive(Debug, Clone, Copy)]
pub struct Division {
    /// The six-digit division code.
    pub code: &'static str,
    /// Its name as used in entity names and addresses.
    pub name: &'static str,
    /// The bureau that registers and supervises entities there.
    pub bureau: &'static str,
    /// The bureau's short form in document numbers.
    pub abbreviation: &'static str,
    /// Towns and roads for addresses and co-operative names.
    pub towns: &'static [&'static str],
}

/// The divisions of the demo with their weights (share of entities).
pub const DIVISIONS: &[(u32, Division)] = &[
    (
        30,
        Division {
            code: "620502",
            name: "秦州区",
            bureau: "天水市秦州区市场监督管理局",
            abbreviation: "秦",
            towns: &["大城街道", "七里墩街道", "玉泉镇", "皂郊镇", "天水镇"],
        },
    ),
    (
        25,
        Division {
            code: "620503",
            name: "麦积区",
            bureau: "天水市麦积区市场监督管理局",
            abbreviation: "麦",
            towns: &["道北街道", "桥南街道", "花牛镇", "麦积镇", "社棠镇"],
        },
    ),
    (
        8,
        Division {
            code: "620521",
            name: "清水县",
            bureau: "清水县市场监督管理局",
            abbreviation: "清",
            towns: &["永清镇", "红堡镇", "白沙镇"],
        },
    ),
    (
        10,
        Division {
            code: "620522",
            name: "秦安县",
            bureau: "秦安县市场监督管理局",
            abbreviation: "安",
            towns: &["兴国镇", "莲花镇", "西川镇"],
        },
    ),
    (
        10,
        Division {
            code: "620523",
            name: "甘谷县",
            bureau: "甘谷县市场监督管理局",
            abbreviation: "甘",
            towns: &["大像山镇", "新兴镇", "磐安镇"],
        },
    ),
    (
        8,
        Division {
            code: "620524",
            name: "武山县",
            bureau: "武山县市场监督管理局",
            abbreviation: "武",
            towns: &["城关镇", "洛门镇", "鸳鸯镇"],
        },
    ),
    (
        9,
        Division {
            code: "620525",
            name: "张家川回族自治县",
            bureau: "张家川回族自治县市场监督管理局",
            abbreviation: "张",
            towns: &["张家川镇", "龙山镇", "恭门镇"],
        },
    ),
];

/// The city bureau, which decides serious-list entries and some cases itself.
pub const CITY_BUREAU: &str = "天水市市场监督管理局";

/// A line of business, with what it gets penalised for.
#[derive(Debug, Clone, Copy)]
pub struct Trade {
    /// The word in company names.
    pub company_word: &'static str,
    /// The shop word in individual businesses' names.
    pub shop_word: &'static str,
    /// The registered business scope.
    pub scope: &'static str,
    /// The fields of law its cases fall under.
    pub categories: &'static [CaseCategory],
    /// Whether it sells online often.
    pub online: bool,
}

/// The trades of the demo with their weights.
pub const TRADES: &[(u32, Trade)] = &[
    (
        18,
        Trade {
            company_word: "餐饮管理",
            shop_word: "牛肉面馆",
            scope: "餐饮服务；食品销售",
            categories: &[CaseCategory::Food, CaseCategory::Pricing, CaseCategory::Licensing],
            online: false,
        },
    ),
    (
        16,
        Trade {
            company_word: "商贸",
            shop_word: "便民超市",
            scope: "日用百货、预包装食品、农副产品销售",
            categories: &[CaseCategory::Food, CaseCategory::ProductQuality, CaseCategory::Pricing],
            online: true,
        },
    ),
    (
        8,
        Trade {
            company_word: "建材",
            shop_word: "建材门市部",
            scope: "建筑材料、五金交电销售",
            categories: &[CaseCategory::ProductQuality, CaseCategory::Trademark],
            online: false,
        },
    ),
    (
        6,
        Trade {
            company_word: "医药连锁",
            shop_word: "大药房",
            scope: "药品零售；医疗器械经营",
            categories: &[CaseCategory::Drug, CaseCategory::Advertising],
            online: false,
        },
    ),
    (
        6,
        Trade {
            company_word: "机械制造",
            shop_word: "机械加工部",
            scope: "机床及配件制造、销售；特种设备安装",
            categories: &[CaseCategory::ProductQuality, CaseCategory::SpecialEquipment],
            online: false,
        },
    ),
    (
        10,
        Trade {
            company_word: "电子商务",
            shop_word: "网店",
            scope: "互联网销售；农副产品、工艺品销售",
            categories: &[
                CaseCategory::Advertising,
                CaseCategory::ConsumerRights,
                CaseCategory::Food,
            ],
            online: true,
        },
    ),
    (
        6,
        Trade {
            company_word: "文化传媒",
            shop_word: "广告部",
            scope: "广告设计、制作、发布",
            categories: &[CaseCategory::Advertising, CaseCategory::Competition],
            online: false,
        },
    ),
    (
        5,
        Trade {
            company_word: "旅游开发",
            shop_word: "农家乐",
            scope: "旅游服务；住宿；餐饮服务",
            categories: &[CaseCategory::ConsumerRights, CaseCategory::Pricing, CaseCategory::Food],
            online: true,
        },
    ),
    (
        6,
        Trade {
            company_word: "建筑工程",
            shop_word: "装修部",
            scope: "建筑工程施工；室内装饰",
            categories: &[CaseCategory::Licensing, CaseCategory::Registration],
            online: false,
        },
    ),
    (
        5,
        Trade {
            company_word: "汽车服务",
            shop_word: "汽车修理部",
            scope: "机动车维修；汽车配件销售",
            categories: &[CaseCategory::ConsumerRights, CaseCategory::Pricing, CaseCategory::Other],
            online: false,
        },
    ),
];

/// What co-operatives grow: the Tianshui area's apples, peppers, cherries and vegetables.
pub const COOP_PRODUCTS: &[&str] =
    &["花牛苹果种植", "辣椒种植", "大樱桃种植", "蔬菜种植", "中药材种植", "肉牛养殖", "核桃种植"];

const BRANDS: &[&str] = &[
    "鑫源", "陇上", "秦风", "麦香", "羲皇", "伏羲", "嘉禾", "恒泰", "瑞丰", "同心", "兴盛", "金穗",
    "华茂", "聚丰", "德润", "天河", "博远", "宏达", "长青", "福临", "众诚", "万通", "盛世", "凯旋",
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "罗", "郑", "梁", "谢", "宋", "唐", "汪", "蒲", "雷", "牛",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞",
    "平", "刚", "桂英", "建华", "文斌", "晓东", "海燕", "志强", "玉兰", "永明", "春花", "国庆",
];

const ROADS: &[&str] =
    &["民主路", "建设路", "解放路", "岷山路", "成纪大道", "藉河南路", "滨河路", "人民路", "天河街"];

/// The e-commerce platforms of the demo, as (brand, site address).
pub const PLATFORMS: &[(&str, &str)] = &[
    ("天水陇上优品电子商务有限公司", "https://www.longshangyoupin.cn"),
    ("天水花牛优选网络科技有限公司", "https://www.huaniuyouxuan.cn"),
    ("天水羲皇云集电子商务有限公司", "https://www.xihuangyunji.cn"),
];

/// An authority by name.
pub fn authority(name: &str) -> Authority {
    Authority { name: name.to_owned(), code: None }
}

/// A legal basis.
pub fn basis(document: &str, article: &str, version: &str) -> LegalBasis {
    LegalBasis {
        document: document.to_owned(),
        article: article.to_owned(),
        version: version.to_owned(),
    }
}

/// The provision violated and the provision a penalty of this category is imposed under.
pub fn penalty_provisions(category: CaseCategory) -> (LegalBasis, LegalBasis) {
    let (document, violated, imposed, version) = match category {
        CaseCategory::Food => {
            ("《中华人民共和国食品安全法》", "第三十四条", "第一百二十四条", "2021-04-29")
        }
        CaseCategory::Drug => {
            ("《中华人民共和国药品管理法》", "第五十三条", "第一百二十五条", "2019-08-26")
        }
        CaseCategory::ProductQuality => {
            ("《中华人民共和国产品质量法》", "第三十二条", "第五十条", "2018-12-29")
        }
        CaseCategory::SpecialEquipment => {
            ("《中华人民共和国特种设备安全法》", "第三十二条", "第八十四条", "2013-06-29")
        }
        CaseCategory::ConsumerRights => {
            ("《中华人民共和国消费者权益保护法》", "第二十条", "第五十六条", "2013-10-25")
        }
        CaseCategory::Competition => {
            ("《中华人民共和国反不正当竞争法》", "第八条", "第二十条", "2019-04-23")
        }
        CaseCategory::Advertising => {
            ("《中华人民共和国广告法》", "第二十八条", "第五十五条", "2021-04-29")
        }
        CaseCategory::Trademark => {
            ("《中华人民共和国商标法》", "第五十七条", "第六十条", "2019-04-23")
        }
        CaseCategory::Pricing => {
            ("《中华人民共和国价格法》", "第十三条", "第四十二条", "1997-12-29")
        }
        CaseCategory::Licensing => ("《无证无照经营查处办法》", "第二条", "第十三条", "2017-08-06"),
        CaseCategory::Registration => {
            ("《中华人民共和国市场主体登记管理条例》", "第二十四条", "第四十六条", "2021-07-27")
        }
        CaseCategory::Other => ("《机动车维修管理规定》", "第三十八条", "第五十一条", "2021-08-11"),
    };
    (basis(document, violated, version), basis(document, imposed, version))
}

/// What the inspectors found, in the words of a published decision.
pub fn violation_facts(category: CaseCategory) -> &'static str {
    match category {
        CaseCategory::Food => "经营超过保质期的食品，货值金额较小",
        CaseCategory::Drug => "未按规定凭处方销售处方药",
        CaseCategory::ProductQuality => "销售不合格产品，经抽检质量不符合标准",
        CaseCategory::SpecialEquipment => "使用未经定期检验的特种设备",
        CaseCategory::ConsumerRights => "对商品作虚假或者引人误解的宣传，侵害消费者权益",
        CaseCategory::Competition => "虚构交易、编造用户评价，进行虚假商业宣传",
        CaseCategory::Advertising => "发布含有虚假内容的广告",
        CaseCategory::Trademark => "销售侵犯注册商标专用权的商品",
        CaseCategory::Pricing => "未按规定明码标价",
        CaseCategory::Licensing => "未取得许可从事经营活动",
        CaseCategory::Registration => "未按规定办理变更登记",
        CaseCategory::Other => "维修竣工未出具结算清单",
    }
}

/// A person's name.
pub fn person_name(rng: &mut Rng, division: &Division) -> String {
    // Ma is the most common surname among the Hui of Zhangjiachuan.
    let surname =
        if division.code == "620525" && rng.chance(0.4) { "马" } else { rng.pick(SURNAMES) };
    format!("{surname}{}", rng.pick(GIVEN))
}

/// A resident identity card number with a valid check character (GB 11643).
pub fn id_number(rng: &mut Rng, division: &Division, born: NaiveDate) -> String {
    let body = format!("{}{}{:03}", division.code, born.format("%Y%m%d"), rng.range(1, 999));
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    format!("{body}{}", char::from(check))
}

/// A registered address.
pub fn address(rng: &mut Rng, division: &Division) -> String {
    let town = rng.pick(division.towns);
    let road = rng.pick(ROADS);
    format!("甘肃省天水市{}{}{}{}号", division.name, town, road, rng.range(1, 300))
}

/// A registered name for an entity of `type_code` (91, 92, 93).
pub fn entity_name(rng: &mut Rng, type_code: u8, division: &Division, trade: &Trade) -> String {
    match type_code {
        92 => format!("{}{}记{}", division.name, rng.pick(SURNAMES), trade.shop_word),
        93 => format!(
            "{}{}{}专业合作社",
            division.name,
            rng.pick(division.towns),
            rng.pick(COOP_PRODUCTS)
        ),
        _ => {
            let suffix = if rng.chance(0.8) { "有限公司" } else { "有限责任公司" };
            format!("天水{}{}{}", rng.pick(BRANDS), trade.company_word, suffix)
        }
    }
}

/// The legal form of an entity of `type_code`.
pub fn entity_kind(rng: &mut Rng, type_code: u8) -> EntityKind {
    match type_code {
        92 => EntityKind::IndividualBusiness,
        93 => EntityKind::FarmersCooperative,
        _ => *rng.weighted(&[
            (80, EntityKind::LimitedLiabilityCompany),
            (6, EntityKind::JointStockCompany),
            (6, EntityKind::SoleProprietorship),
            (4, EntityKind::Partnership),
            (4, EntityKind::Branch),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_carry_a_valid_check_character() {
        // The GB 11643 example number.
        let mut rng = Rng::new(1);
        let division = DIVISIONS[0].1;
        let born = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap();
        let number = id_number(&mut rng, &division, born);
        assert_eq!(number.len(), 18);
        assert!(number.starts_with("62050219800101"));
    }
}
