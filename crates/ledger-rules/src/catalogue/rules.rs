//! The versioned rules of the two lists and of penalty publication, as the catalogue file
//! holds them.
//!
//! Every rule is a version: an id, the dates it is in force ([`Validity`]) and the provisions
//! it rests on. When the law changes, a new version is added with its own dates and the old
//! one gets an end date; nothing is overwritten, because a question about a past date must be
//! answered with the rules in force then. Which version governs a record is decided by the
//! record's own date (the entry or decision date), so a 2024 entry keeps the 2024 terms after
//! a 2025 revision, and only facts dated after a revision are judged by it.

use chrono::NaiveDate;
use ledger_core::events::{
    AbnormalGround, AbnormalRemovalReason, CaseCategory, LegalBasis, PenaltyKind, PenaltyProcedure,
    RepairCondition, SeriousGround,
};
use serde::{Deserialize, Serialize};

use crate::dates::{add_days, Span};

/// The dates in which a rule version is in force, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// The first day in force.
    pub from: NaiveDate,
    /// The last day in force, when the version has an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl Validity {
    /// Whether the version is in force on `date`.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && self.until.is_none_or(|until| date <= until)
    }

    /// The first day no longer in force (`until` plus one day), when there is one.
    pub fn end_exclusive(&self) -> Option<NaiveDate> {
        self.until.and_then(|until| add_days(until, 1))
    }

    pub(crate) fn span(&self) -> Option<Span> {
        Span::new(self.from, self.end_exclusive())
    }
}

/// The rule that a credit code must pass its check characters unless overridden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRules {
    /// The rule's id, for example `credit-code/gb32100-2015`.
    pub id: String,
    /// The standard the code follows.
    pub legal_basis: Vec<LegalBasis>,
}

/// The rules of the abnormal-operations list (经营异常名录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbnormalListRules {
    /// Each ground of entry, in each of its versions.
    pub grounds: Vec<AbnormalGroundRule>,
    /// Removal reasons that end an entry on any ground (expiry, deregistration, ...).
    pub general_removal: GeneralRemovalRule,
    /// Working days within which a removal is decided after the application.
    pub removal_decision_working_days: u32,
    /// Calendar days after an entry within which an objection may be raised.
    pub objection_window_days: u32,
    /// The provisions that set the objection window.
    pub objection_legal_basis: Vec<LegalBasis>,
    /// The versions of the transfer to the serious list after years on this list.
    pub transfer: Vec<TransferRule>,
}

/// One version of one ground of entry into the abnormal-operations list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbnormalGroundRule {
    /// The version's id, for example `abnormal/false_disclosure/2014`.
    pub id: String,
    /// The ground.
    pub ground: AbnormalGround,
    /// When entries on this ground may be decided.
    pub in_force: Validity,
    /// The provisions the ground rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// Working days after the finding within which the entry is decided.
    pub entry_deadline_working_days: u32,
    /// The removal reasons that fit this ground (besides the general ones).
    pub removal_reasons: Vec<AbnormalRemovalReason>,
    /// The provisions on removal for this ground.
    pub removal_legal_basis: Vec<LegalBasis>,
}

/// Removal reasons accepted whatever the ground of the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneralRemovalRule {
    /// The rule's id.
    pub id: String,
    /// When removals for these reasons may be decided.
    pub in_force: Validity,
    /// The reasons.
    pub reasons: Vec<AbnormalRemovalReason>,
    /// The provisions these reasons rest on.
    pub legal_basis: Vec<LegalBasis>,
}

/// One version of the rule moving an entity from the abnormal-operations list to the serious
/// list after years on it, and of the window for removal on application that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRule {
    /// The version's id, for example `abnormal/three-year-transfer/2014`.
    pub id: String,
    /// When the transfer may fall due (the day the years are complete must lie in it).
    pub in_force: Validity,
    /// The provisions the transfer rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// Months on the list after which the entity is transferred.
    pub after_months: u32,
    /// Days of public warning before the transfer.
    pub public_warning_days: u32,
    /// Months after the entry within which removal on application is possible.
    pub application_window_months: u32,
}

/// One version of the rules of the serious illegal and dishonest list (严重违法失信名单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriousListRule {
    /// The version's id, for example `serious/2021`.
    pub id: String,
    /// When entries under this version may be decided; an entry keeps its version's terms.
    pub in_force: Validity,
    /// The provisions the version rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// The grounds of entry of this version.
    pub grounds: Vec<SeriousGroundRule>,
    /// Months after the entry at which the entry ends by itself.
    pub term_months: u32,
    /// Whether a longer restriction period of the underlying penalty extends the term.
    pub term_extends_to_restriction: bool,
    /// Months after the entry from which early removal may be decided; `None` when the
    /// version knows no early removal.
    #[serde(default)]
    pub early_removal_min_months: Option<u32>,
    /// Whether an aggravated penalty decided after the entry bars early removal.
    pub early_removal_blocked_by_aggravated_penalty: bool,
    /// The provisions on removal.
    pub removal_legal_basis: Vec<LegalBasis>,
    /// Working days after the decision within which the entry is published, when set.
    #[serde(default)]
    pub publication_working_days: Option<u32>,
}

impl SeriousListRule {
    /// The rule for `ground` in this version, if the version has that ground.
    pub fn ground(&self, ground: SeriousGround) -> Option<&SeriousGroundRule> {
        self.grounds.iter().find(|rule| rule.ground == ground)
    }
}

/// A ground of entry into the serious list within one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriousGroundRule {
    /// The ground.
    pub ground: SeriousGround,
    /// Whether the entry must rest on at least one recorded, unrevoked penalty.
    pub penalty_required: bool,
}

/// One version of the rules on publishing penalties and on ending publication early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicationRule {
    /// The version's id, for example `publication/samr-2021`.
    pub id: String,
    /// Penalties decided in these dates follow this version.
    pub in_force: Validity,
    /// The provisions the version rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// The procedures whose penalties are published.
    pub published_procedures: Vec<PenaltyProcedure>,
    /// Kinds that, when a penalty imposes nothing else, leave it unpublished (a bare warning).
    pub unpublished_kinds_alone: Vec<PenaltyKind>,
    /// Working days after the decision within which the penalty is published.
    pub publication_working_days: u32,
    /// Working days after a change or revocation within which publication is withdrawn.
    pub withdrawal_working_days: u32,
    /// Whether a restriction period longer than the class's period lengthens publication.
    pub restriction_period_extends: bool,
    /// The classes, tried in order; the first that matches a penalty decides its periods.
    pub classes: Vec<PublicationClass>,
    /// When publication may end early by credit repair.
    pub repair: RepairRule,
}

impl PublicationRule {
    /// The first class that matches a penalty with these attributes.
    pub fn class_for(
        &self,
        category: CaseCategory,
        kinds: &[PenaltyKind],
        fine_fen: i64,
        aggravated: bool,
    ) -> Option<&PublicationClass> {
        self.classes
            .iter()
            .find(|class| class.matches.matches(category, kinds, fine_fen, aggravated))
    }

    /// Whether a penalty of this procedure and these kinds is published at all.
    pub fn publishes(&self, procedure: PenaltyProcedure, kinds: &[PenaltyKind]) -> bool {
        let bare = kinds.iter().all(|kind| self.unpublished_kinds_alone.contains(kind));
        self.published_procedures.contains(&procedure) && !bare
    }
}

/// A class of penalties with its publication period and minimum time before repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicationClass {
    /// The class's name, for example `light`, `minor` or `serious`.
    pub class: String,
    /// Which penalties belong to it.
    pub matches: PenaltyMatch,
    /// Months of publication from the decision date.
    pub publication_months: u32,
    /// Months of publication before credit repair may end it; `None` when the class is never
    /// repaired early (it simply expires).
    #[serde(default)]
    pub repair_min_months: Option<u32>,
}

/// A condition on a penalty's attributes; every field that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltyMatch {
    /// The case is in one of these categories; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub case_categories: Vec<CaseCategory>,
    /// The penalty imposes at least one of these kinds; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds_any: Vec<PenaltyKind>,
    /// The penalty imposes no kind outside these; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds_within: Vec<PenaltyKind>,
    /// The fine is at most this many fen (a "small fine").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_fen_max: Option<i64>,
    /// The penalty is (or is not) aggravated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggravated: Option<bool>,
}

impl PenaltyMatch {
    /// Whether a penalty with these attributes meets every condition set.
    pub fn matches(
        &self,
        category: CaseCategory,
        kinds: &[PenaltyKind],
        fine_fen: i64,
        aggravated: bool,
    ) -> bool {
        (self.case_categories.is_empty() || self.case_categories.contains(&category))
            && (self.kinds_any.is_empty() || kinds.iter().any(|k| self.kinds_any.contains(k)))
            && (self.kinds_within.is_empty() || kinds.iter().all(|k| self.kinds_within.contains(k)))
            && self.fine_fen_max.is_none_or(|max| fine_fen <= max)
            && self.aggravated.is_none_or(|wanted| wanted == aggravated)
    }
}

/// When publication may end early by credit repair (信用修复).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairRule {
    /// The provisions on repair.
    pub legal_basis: Vec<LegalBasis>,
    /// A penalty imposing any of these kinds is never repaired early.
    pub never_repairable_kinds: Vec<PenaltyKind>,
    /// The conditions the approving authority must have found met.
    pub required_conditions: Vec<RepairCondition>,
    /// Whether the entity must be on neither list when repair is decided.
    pub requires_not_listed: bool,
}
