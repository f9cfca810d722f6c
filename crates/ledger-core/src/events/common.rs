//! Building blocks shared by many payloads: the legal basis of a decision, the authority that
//! made it, and a reference to a recorded decision.

use serde::{Deserialize, Serialize};

use crate::CreditCode;

/// One provision of law that a decision rests on.
///
/// Since 2020 every list entry and every joint-punishment measure must cite a law or
/// regulation; a decision usually cites several provisions, so payloads hold lists of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    /// The title of the law, regulation or rule as published, for example
    /// "《市场监督管理严重违法失信名单管理办法》".
    pub document: String,
    /// The article, paragraph and item cited, for example "第九条第一款第（二）项".
    pub article: String,
    /// The revision of the document that was applied: the date it was adopted or last amended
    /// (YYYY-MM-DD) or its official label, for example "2021-07-30".
    pub version: String,
}

/// An administrative authority that makes or records a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// The authority's full official name, for example "天水市市场监督管理局".
    pub name: String,
    /// The authority's own unified social credit code (state organs have type 11), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CreditCode>,
}

/// The kinds of recorded decision that another record may refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// An administrative penalty decision (行政处罚决定).
    Penalty,
    /// An entry into the abnormal-operations list (列入经营异常名录).
    AbnormalEntry,
    /// An entry into the serious illegal and dishonest list (列入严重违法失信名单).
    SeriousEntry,
    /// The result of a random spot check (双随机抽查结果).
    SpotCheck,
}

/// A reference to a recorded decision of the same entity, by its kind and document number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRef {
    /// What kind of record the decision is.
    pub kind: RecordKind,
    /// The decision's document number as printed on it, for example "天市监处罚〔2025〕12号";
    /// for a spot check, the inspection plan id and selection batch as "<plan>/<batch>".
    pub decision_number: String,
}
