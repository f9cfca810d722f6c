//! Entries into and removals from the abnormal-operations list and the serious illegal and
//! dishonest list.
//!
//! Grounds are enumerations that carry the measures they come from in their names and docs;
//! which grounds are in force on a date, and what follows from an entry, is catalogue data and
//! not decided here.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Authority, LegalBasis};

/// Why an entity was put on the abnormal-operations list (经营异常名录).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbnormalGround {
    /// The annual report was not filed by 30 June (未按规定报送年度报告); 2014 onwards.
    AnnualReportNotFiled,
    /// Ordered disclosure was not made in time (未按责令期限公示有关企业信息); 2014 onwards.
    DisclosureOrderNotMet,
    /// Disclosed information was false or concealed facts (公示信息隐瞒真实情况、弄虚作假);
    /// 2014 until the 2025-03 revision.
    FalseDisclosure,
    /// Unreachable at the registered address (通过登记的住所或者经营场所无法联系); 2014 onwards.
    UnreachableAtAddress,
    /// An ordered name change was not made within 30 days (未按要求变更名称); from 2025-03.
    NameChangeNotMade,
}

/// An entity was put on the abnormal-operations list (列入经营异常名录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbnormalListEntered {
    /// The ground of the entry.
    pub ground: AbnormalGround,
    /// The number of the entry decision (列入决定书).
    pub decision_number: String,
    /// The authority that decided.
    pub authority: Authority,
    /// The date of the decision.
    pub decision_date: NaiveDate,
    /// The provisions the entry rests on.
    pub legal_basis: Vec<LegalBasis>,
}

/// Why an entity left the abnormal-operations list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbnormalRemovalReason {
    /// The missing annual report was filed (补报年度报告).
    AnnualReportFiled,
    /// The ordered information was disclosed (履行公示义务).
    InformationDisclosed,
    /// The false information was corrected (更正公示信息).
    InformationCorrected,
    /// The registered address was changed (办理住所变更登记).
    AddressChanged,
    /// The entity can be reached at its registered address again (可以重新取得联系).
    ReachableAgain,
    /// The ordered name change was made (已变更名称).
    NameChanged,
    /// The listing term expired.
    TermExpired,
    /// The entity was deregistered.
    EntityDeregistered,
    /// The entity's business licence was revoked.
    LicenceRevoked,
    /// An objection against the entry was upheld, so the entry was wrong.
    ObjectionUpheld,
    /// Any other reason.
    Other,
}

/// An entity was removed from the abnormal-operations list (移出经营异常名录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbnormalListRemoved {
    /// Why it was removed.
    pub reason: AbnormalRemovalReason,
    /// The number of the entry decision that this removal ends.
    pub entry_decision_number: String,
    /// The number of the removal decision (移出决定书).
    pub decision_number: String,
    /// The authority that decided.
    pub authority: Authority,
    /// The date of the removal decision.
    pub decision_date: NaiveDate,
    /// The provisions the removal rests on.
    pub legal_basis: Vec<LegalBasis>,
}

/// Why an entity was put on the serious illegal and dishonest list (严重违法失信名单).
///
/// The first group comes from the 2016 measures (in force 2016-04 to 2021-08), the second from
/// the 2021 measures (in force from 2021-09).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeriousGround {
    /// 2016 measures: three years on the abnormal-operations list.
    AbnormalListThreeYears,
    /// 2016 measures: registration obtained by false materials or other fraud (提交虚假材料).
    FraudulentRegistration,
    /// 2016 measures: organising pyramid selling (组织策划传销).
    PyramidSelling,
    /// 2016 measures: three unfair-competition penalties within two years.
    RepeatedUnfairCompetition,
    /// 2016 measures: three penalties for unsafe goods within two years.
    RepeatedUnsafeGoods,
    /// 2016 measures: three false-advertising penalties within two years.
    RepeatedFalseAdvertising,
    /// 2016 measures: two trademark-infringement penalties within five years.
    RepeatedTrademarkInfringement,
    /// 2016 measures: any other of their grounds.
    Other2016,
    /// 2021 measures: egregious food-safety violation.
    FoodSafety,
    /// 2021 measures: egregious violation on drugs, medical devices or cosmetics.
    DrugSafety,
    /// 2021 measures: egregious product-quality or special-equipment violation.
    ProductQuality,
    /// 2021 measures: egregious violation of consumer rights.
    ConsumerRights,
    /// 2021 measures: egregious unfair competition or monopoly.
    Competition,
    /// 2021 measures: a licence or registration obtained by fraud.
    LicensingFraud,
    /// 2021 measures: refusing to carry out a decision (拒不履行).
    RefusedDecision,
    /// 2021 measures: any other of their grounds.
    Other2021,
}

/// An entity was put on the serious illegal and dishonest list (列入严重违法失信名单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriousListEntered {
    /// The ground of the entry.
    pub ground: SeriousGround,
    /// The numbers of the penalty decisions the entry rests on; empty for grounds that rest on
    /// no penalty (three years on the abnormal-operations list).
    pub penalty_decision_numbers: Vec<String>,
    /// The number of the entry decision.
    pub decision_number: String,
    /// The authority that decided.
    pub authority: Authority,
    /// The date of the decision.
    pub decision_date: NaiveDate,
    /// The provisions the entry rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// The last day of a restriction period set by the underlying penalty, when there is one;
    /// automatic removal waits for it if it ends later than the normal term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_until: Option<NaiveDate>,
}

/// How an entity left the serious list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeriousRemovalKind {
    /// The listing term (and any longer restriction period) ran out.
    Expiry,
    /// Early removal on application (提前移出) after the minimum time.
    EarlyRemoval,
    /// The entry was revoked, for example because the underlying penalty was revoked; the
    /// entity counts as never having been listed on that ground.
    Revocation,
}

/// An entity was removed from the serious list (移出严重违法失信名单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriousListRemoved {
    /// How it left the list.
    pub kind: SeriousRemovalKind,
    /// The reason in words, as the removal decision states it.
    pub reason: String,
    /// The number of the entry decision that this removal ends.
    pub entry_decision_number: String,
    /// The number of the removal decision.
    pub decision_number: String,
    /// The authority that decided.
    pub authority: Authority,
    /// The date of the removal decision.
    pub decision_date: NaiveDate,
    /// The provisions the removal rests on.
    pub legal_basis: Vec<LegalBasis>,
}
