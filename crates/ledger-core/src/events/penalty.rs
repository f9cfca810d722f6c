//! Administrative penalties, their later change or revocation, and credit repair.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Authority, LegalBasis};

/// The field of law a penalty case belongs to. Publication and credit-repair rules depend on
/// it (food, drug and special-equipment penalties wait longer for repair).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseCategory {
    /// Food safety (食品安全).
    Food,
    /// Drugs, medical devices and cosmetics (药品).
    Drug,
    /// Product quality (产品质量).
    ProductQuality,
    /// Special equipment such as boilers and lifts (特种设备).
    SpecialEquipment,
    /// Consumer rights (消费者权益保护).
    ConsumerRights,
    /// Unfair competition and monopoly (反不正当竞争、反垄断).
    Competition,
    /// Advertising (广告).
    Advertising,
    /// Trademarks and other intellectual property (商标).
    Trademark,
    /// Prices and fees (价格).
    Pricing,
    /// Operating without or beyond a required licence (许可).
    Licensing,
    /// Registration duties (登记).
    Registration,
    /// Any other field.
    Other,
}

/// A kind of administrative penalty (Administrative Penalty Law, article 9). One decision may
/// impose several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyKind {
    /// Warning (警告); a bare warning is not published.
    Warning,
    /// Public criticism (通报批评).
    PublicCriticism,
    /// Fine (罚款).
    Fine,
    /// Confiscation of illegal gains (没收违法所得).
    ConfiscationOfIllegalGains,
    /// Confiscation of illegal property or goods (没收非法财物).
    ConfiscationOfGoods,
    /// Temporary withholding of a licence or permit (暂扣许可证件).
    LicenceSuspension,
    /// Revocation of a licence or permit, including the business licence (吊销许可证件).
    LicenceRevocation,
    /// Lowering of a qualification grade (降低资质等级).
    LoweredQualification,
    /// Restriction of production or business activities (限制开展生产经营活动).
    BusinessRestriction,
    /// Order to stop production or business (责令停产停业).
    StopBusinessOrder,
    /// Order to close (责令关闭).
    ClosureOrder,
    /// Ban on holding a post or practising (限制从业).
    OccupationalBan,
    /// Referral to the police for administrative detention (移送行政拘留).
    DetentionReferral,
    /// Any other kind that a law or regulation provides.
    Other,
}

/// The procedure under which a penalty was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyProcedure {
    /// The ordinary procedure (普通程序); such penalties are published.
    Ordinary,
    /// The simplified, on-the-spot procedure (简易程序).
    Simplified,
}

/// An administrative penalty decision was made (行政处罚决定).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyDecided {
    /// The decision's document number, for example "天市监处罚〔2025〕12号".
    pub decision_number: String,
    /// The authority that decided.
    pub authority: Authority,
    /// The date of the decision.
    pub decision_date: NaiveDate,
    /// The field of law of the case.
    pub case_category: CaseCategory,
    /// Every kind of penalty the decision imposes.
    pub penalty_kinds: Vec<PenaltyKind>,
    /// The fine in fen; 0 when the decision imposes none.
    pub fine_fen: i64,
    /// Illegal gains confiscated plus the assessed value of confiscated goods, in fen; 0 when
    /// nothing was confiscated.
    pub confiscated_fen: i64,
    /// The procedure followed.
    pub procedure: PenaltyProcedure,
    /// A summary of the illegal facts found (违法事实), as published.
    pub violation_facts: String,
    /// The provisions the entity violated.
    pub violated_provisions: Vec<LegalBasis>,
    /// The provisions the penalty is imposed under.
    pub penalty_provisions: Vec<LegalBasis>,
    /// Whether this is a heavier, aggravated penalty (从重处罚), the kind that can ground a
    /// serious-list entry under the 2021 measures.
    pub aggravated: bool,
    /// The period in days during which the decision restricts the entity, when it sets one
    /// (for example an occupational ban); it lengthens publication beyond 3 years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_period_days: Option<u32>,
}

/// Why a penalty was changed or revoked after its decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AmendmentReason {
    /// An administrative review decision (行政复议决定).
    AdministrativeReview,
    /// A court judgment (人民法院判决).
    CourtJudgment,
    /// The deciding authority corrected its own decision (自行纠正).
    Correction,
    /// Any other reason.
    Other,
}

/// The fields of a penalty decision that a change may alter; absent fields are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyChanges {
    /// The new case category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_category: Option<CaseCategory>,
    /// The new, complete list of penalty kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_kinds: Option<Vec<PenaltyKind>>,
    /// The new fine in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_fen: Option<i64>,
    /// The new confiscated amount in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confiscated_fen: Option<i64>,
    /// The new summary of the illegal facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation_facts: Option<String>,
    /// The new, complete list of violated provisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violated_provisions: Option<Vec<LegalBasis>>,
    /// The new, complete list of penalty provisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_provisions: Option<Vec<LegalBasis>>,
    /// Whether the penalty is now aggravated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggravated: Option<bool>,
    /// The new restriction period in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_period_days: Option<u32>,
}

/// A penalty decision was changed (变更) by review, judgment or correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyChanged {
    /// The number of the penalty decision that was changed.
    pub penalty_decision_number: String,
    /// The number of the document that made the change: a new penalty decision, a review
    /// decision or a court judgment, for example "（2025）甘0502行初12号".
    pub decision_number: String,
    /// The body that made the change: the deciding authority, the review organ or the court.
    pub changed_by: Authority,
    /// The date of the document that made the change.
    pub decision_date: NaiveDate,
    /// Why the penalty was changed.
    pub reason: AmendmentReason,
    /// What changed and why, in words, as the publication will say.
    pub description: String,
    /// The new values of the fields that changed; a field that is absent did not change.
    pub changes: PenaltyChanges,
}

/// A penalty decision was revoked (撤销) and no longer counts against the entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyRevoked {
    /// The number of the penalty decision that was revoked.
    pub penalty_decision_number: String,
    /// The number of the document that revoked it: a review decision, a court judgment or the
    /// authority's own revocation decision.
    pub decision_number: String,
    /// The body that revoked it.
    pub revoked_by: Authority,
    /// Why it was revoked.
    pub reason: AmendmentReason,
    /// The date of the document that revoked it.
    pub decision_date: NaiveDate,
}

/// A condition of credit repair that the applicant showed to be met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepairCondition {
    /// The penalty has been carried out in full (履行完毕).
    PenaltyPerformed,
    /// The harmful consequences have been removed (消除危害后果).
    HarmRemoved,
    /// No violation of the same kind occurred since (未再发生).
    NoRepeat,
    /// The entity is on neither the abnormal-operations nor the serious list.
    NotOnLists,
    /// The entity signed a credit commitment (信用承诺书).
    CommitmentSigned,
}

/// The publication of a penalty ended early by credit repair (信用修复, 停止公示).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRepaired {
    /// The number of the penalty decision whose publication ends.
    pub penalty_decision_number: String,
    /// The date the entity applied.
    pub application_date: NaiveDate,
    /// The number of the decision approving the repair.
    pub decision_number: String,
    /// The authority that approved it.
    pub authority: Authority,
    /// The date of the approval; publication stops from then.
    pub decision_date: NaiveDate,
    /// The conditions the authority found met.
    pub conditions_met: Vec<RepairCondition>,
}
