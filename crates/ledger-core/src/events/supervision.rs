//! Random spot checks and objections against recorded decisions.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Authority, DecisionRef};

/// The outcome of a random spot check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpotCheckResult {
    /// No problem found (未发现问题).
    Compliant,
    /// Problems found and corrected on the spot or by the deadline (发现问题已责令改正).
    IssuesFoundCorrected,
    /// Problems found and a case opened (发现问题已立案查处).
    IssuesFoundCaseOpened,
    /// The entity was not found at its registered address (未发现开展经营活动 / 通过登记的住所
    /// 无法联系).
    NotFoundAtAddress,
    /// Any other outcome.
    Other,
}

/// The result of a random spot check (双随机、一公开抽查) was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpotCheckRecorded {
    /// The identifier of the inspection plan (抽查计划编号).
    pub plan_id: String,
    /// The random selection batch within the plan that picked this entity (抽查任务批次).
    pub selection_batch: String,
    /// The date of the check.
    pub check_date: NaiveDate,
    /// What the check found.
    pub result: SpotCheckResult,
    /// The items checked, as the plan names them (for example "年度报告公示信息").
    pub items_checked: Vec<String>,
    /// The authority that carried out the check.
    pub authority: Authority,
}

/// Who raised an objection. Only the role is recorded: a person's name is personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectorRole {
    /// The market entity the record is about.
    Entity,
    /// Another person or organisation with a legal interest (利害关系人).
    InterestedParty,
    /// Anyone else, for example a member of the public.
    Other,
}

/// An objection (异议) was raised against a recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRaised {
    /// The record the objection is about.
    pub about: DecisionRef,
    /// Who raised it.
    pub raised_by: ObjectorRole,
    /// The date it was received.
    pub objection_date: NaiveDate,
    /// The grounds stated, in words, without personal data.
    pub grounds: String,
}

/// How an objection was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionOutcome {
    /// The objection is well founded; the record is corrected or withdrawn.
    Upheld,
    /// The objection is not well founded; the record stands.
    Rejected,
    /// Part of the objection is well founded.
    PartiallyUpheld,
}

/// An objection was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionDecided {
    /// The event id of the `objection_raised` event decided here; absent when the objection
    /// was raised before the ledger recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection_event_id: Option<Uuid>,
    /// The record the objection was about.
    pub about: DecisionRef,
    /// The outcome.
    pub outcome: ObjectionOutcome,
    /// The authority that decided.
    pub authority: Authority,
    /// The date of the decision.
    pub decision_date: NaiveDate,
    /// The decision's reasoning, in words, without personal data.
    pub decision_text: String,
}
