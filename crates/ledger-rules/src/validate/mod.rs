//! Domain validation: whether a new fact fits the entity's history and the rules in force.
//!
//! The ledger records decisions that authorities have made; it does not make them. So
//! validation refuses only what cannot be a lawful decision given what the stream already
//! holds: a removal from a list the entity is not on, a ground not in force on the decision's
//! date, an early removal or a credit repair before its minimum time, a repair the rules
//! exclude, a fact about an entity that was never registered, a credit code that fails its
//! check characters without a recorded override. Each refusal is a [`RuleViolation`] naming
//! the rule, the rule version and its legal basis, and saying what would be accepted, so that
//! a recorder can correct the input or take the case to a human.

mod lists;
mod penalties;

use std::fmt;

use chrono::NaiveDate;
use ledger_core::events::{DomainEvent, LegalBasis};
use ledger_core::{CheckOverride, CheckStatus, CreditCode, RecordedEvent};
use serde::Serialize;

use crate::catalogue::{check_measure, Catalogue, Validity};
use crate::history::History;

/// The rules that validation enforces, one per check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rule {
    /// The first fact of an entity's stream registers it.
    RegisteredFirst,
    /// An entity is registered once.
    RegisteredOnce,
    /// A code failing its check characters needs an override, and only such a code has one.
    CheckCharacters,
    /// A decision number is used once per kind of record.
    DecisionNumberUnique,
    /// A fact that refers to a decision names one recorded (and not revoked) in the stream.
    DecisionRecorded,
    /// An abnormal-list entry rests on a ground in force on its date.
    AbnormalGroundInForce,
    /// An entity is not entered again on a ground it is listed on.
    AbnormalAlreadyListed,
    /// A removal names an abnormal-list stay the entity is on.
    AbnormalRemovalListed,
    /// A removal's reason fits the entry's ground.
    AbnormalRemovalReason,
    /// Until 2025, removal on application only within the years before the transfer.
    AbnormalApplicationWindow,
    /// An objection against an abnormal-list entry is raised within its window.
    ObjectionWindow,
    /// A serious-list entry rests on a ground of the version in force on its date.
    SeriousGroundInForce,
    /// An entry on a penalty ground rests on recorded, unrevoked penalties.
    SeriousPenaltyRequired,
    /// The three-year transfer: only while in force, and only after those years on the list.
    SeriousTransfer,
    /// A removal names a serious-list stay the entity is on.
    SeriousRemovalListed,
    /// Early removal only where the rules allow it, after their minimum time and without a new
    /// heavy penalty.
    SeriousEarlyRemoval,
    /// Removal for expiry only once the term has run out.
    SeriousExpiry,
    /// Credit repair only of a penalty that is being published.
    RepairPublished,
    /// Credit repair never of the penalty kinds and classes the rules exclude.
    RepairExcluded,
    /// Credit repair only after the minimum publication time.
    RepairTooSoon,
    /// Credit repair only while the entity is on neither list.
    RepairWhileListed,
    /// Credit repair only when every required condition was found met.
    RepairConditions,
    /// A business licence is revoked once.
    LicenceRevokedOnce,
    /// A measure definition is complete and consistent.
    MeasureDefinition,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&name(self))
    }
}

/// A new fact breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rule {rule}{} is violated: {problem}; accepted: {accepted}{}",
    version_text(.rule_version),
    basis_text(.legal_basis)
)]
pub struct RuleViolation {
    /// The rule broken.
    pub rule: Rule,
    /// The id of the catalogue rule version applied, when the rule is versioned.
    pub rule_version: Option<String>,
    /// The provisions the rule rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// What is wrong with the fact.
    pub problem: String,
    /// What would be accepted instead.
    pub accepted: String,
}

fn version_text(version: &Option<String>) -> String {
    version.as_ref().map(|v| format!(" ({v})")).unwrap_or_default()
}

fn basis_text(basis: &[LegalBasis]) -> String {
    if basis.is_empty() {
        return String::new();
    }
    let cited: Vec<String> = basis.iter().map(|b| format!("{}{}", b.document, b.article)).collect();
    format!(" (legal basis: {})", cited.join("; "))
}

fn violation(
    rule: Rule,
    version: Option<&str>,
    basis: &[LegalBasis],
    problem: impl Into<String>,
    accepted: impl Into<String>,
) -> RuleViolation {
    RuleViolation {
        rule,
        rule_version: version.map(str::to_owned),
        legal_basis: basis.to_vec(),
        problem: problem.into(),
        accepted: accepted.into(),
    }
}

/// The snake_case name of an enum value, as payloads write it.
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => "?".into(),
    }
}

fn names<T: Serialize>(values: impl IntoIterator<Item = T>) -> String {
    let names: Vec<String> = values.into_iter().map(|v| name(&v)).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn range_text(validity: &Validity) -> String {
    match validity.until {
        Some(until) => format!("{} to {until}", validity.from),
        None => format!("from {}", validity.from),
    }
}

/// Checks `new`, taking effect on `effective`, against the entity's stream so far (`history`,
/// every event of the stream) and the catalogue.
pub fn validate(
    history: &[RecordedEvent],
    catalogue: &Catalogue,
    new: &DomainEvent,
    effective: NaiveDate,
) -> Result<(), RuleViolation> {
    let history = History::read(history, None);
    let check = Check { history: &history, catalogue, effective };

    // Catalogue events belong to the catalogue stream, which has no registration.
    match new {
        DomainEvent::MeasureDefinedV1(measure) => {
            return check_measure(measure).map_err(|error| {
                let id = measure.measure_id.as_str();
                let accepted = "a measure with an id, department, title, legal basis and dates \
                                that run forwards";
                let basis = &measure.legal_basis;
                violation(Rule::MeasureDefinition, Some(id), basis, error.to_string(), accepted)
            });
        }
        DomainEvent::MeasureRetiredV1(_) => return Ok(()),
        DomainEvent::EntityRegisteredV1(event) => {
            return check.registration(&event.credit_code, event.check_override.as_ref());
        }
        _ => {}
    }
    if history.registration.is_none() {
        let basis = &catalogue.registration.legal_basis;
        return Err(violation(
            Rule::RegisteredFirst,
            None,
            basis,
            format!("{} about an entity that is not registered", new.event_type()),
            "entity_registered as the first event of the stream",
        ));
    }

    match new {
        DomainEvent::AbnormalListEnteredV1(event) => check.abnormal_entry(event),
        DomainEvent::AbnormalListRemovedV1(event) => check.abnormal_removal(event),
        DomainEvent::ObjectionRaisedV1(event) => check.objection(event),
        DomainEvent::SeriousListEnteredV1(event) => check.serious_entry(event),
        DomainEvent::SeriousListRemovedV1(event) => check.serious_removal(event),
        DomainEvent::PenaltyDecidedV1(event) => check.penalty_unique(&event.decision_number),
        DomainEvent::PenaltyChangedV1(event) => {
            check.live_penalty(&event.penalty_decision_number).map(|_| ())
        }
        DomainEvent::PenaltyRevokedV1(event) => {
            check.live_penalty(&event.penalty_decision_number).map(|_| ())
        }
        DomainEvent::CreditRepairedV1(event) => check.repair(event),
        DomainEvent::LicenceRevokedV1(_) => check.licence(),
        _ => Ok(()),
    }
}

/// The context of one validation.
struct Check<'a> {
    history: &'a History,
    catalogue: &'a Catalogue,
    effective: NaiveDate,
}

impl Check<'_> {
    fn registration(
        &self,
        code: &CreditCode,
        check_override: Option<&CheckOverride>,
    ) -> Result<(), RuleViolation> {
        let rules = &self.catalogue.registration;
        if let Some(registration) = &self.history.registration {
            return Err(violation(
                Rule::RegisteredOnce,
                Some(&rules.id),
                &rules.legal_basis,
                format!("the entity was registered at position {}", registration.at.position),
                "entity_details_changed for changes of a registered entity",
            ));
        }
        let fails = code.check_status() == CheckStatus::Overridden;
        let blank = check_override
            .is_some_and(|o| o.reason.trim().is_empty() || o.evidence.trim().is_empty());
        if fails && (check_override.is_none() || blank) {
            let why = CreditCode::parse(code.as_str()).err().map(|e| e.to_string());
            return Err(violation(
                Rule::CheckCharacters,
                Some(&rules.id),
                &rules.legal_basis,
                format!("code {code} fails its check: {}", why.unwrap_or_default()),
                "a code that passes both checks, or this code with a check_override giving the \
                 reason and the evidence that it is real",
            ));
        }
        if !fails && check_override.is_some() {
            return Err(violation(
                Rule::CheckCharacters,
                Some(&rules.id),
                &rules.legal_basis,
                format!("code {code} passes its check but carries a check_override"),
                "the same registration without check_override",
            ));
        }
        Ok(())
    }
}
