//! Checks of penalties, credit repair and licence revocations.

use ledger_core::events::CreditRepaired;

use super::{name, names, violation, Check, Rule, RuleViolation};
use crate::fold::{lists_of, publications_of};
use crate::history::Penalty;

impl Check<'_> {
    pub(super) fn penalty_unique(&self, number: &str) -> Result<(), RuleViolation> {
        if self.history.penalty(number).is_some() {
            return Err(violation(
                Rule::DecisionNumberUnique,
                None,
                &[],
                format!("penalty decision {number} is already recorded"),
                "penalty_changed or penalty_revoked for an existing decision, or a new number",
            ));
        }
        Ok(())
    }

    /// The recorded, unrevoked penalty of this number.
    pub(super) fn live_penalty(&self, number: &str) -> Result<&Penalty, RuleViolation> {
        let penalty = self.history.penalty(number).filter(|p| p.decision.date <= self.effective);
        match penalty {
            Some(p) if p.revoked.is_none() => Ok(p),
            Some(p) => Err(violation(
                Rule::DecisionRecorded,
                None,
                &[],
                format!(
                    "penalty {number} was revoked at position {}",
                    p.revoked.map_or(0, |r| r.position)
                ),
                "a penalty that is not revoked",
            )),
            None => Err(violation(
                Rule::DecisionRecorded,
                None,
                &[],
                format!("no penalty {number} decided on or before {} is recorded", self.effective),
                "the decision number of a penalty recorded in this stream",
            )),
        }
    }

    pub(super) fn repair(&self, event: &CreditRepaired) -> Result<(), RuleViolation> {
        let penalty = self.live_penalty(&event.penalty_decision_number)?;
        let publications = publications_of(penalty, self.catalogue);
        let Some(shown) = publications.iter().find(|p| p.contains(self.effective)) else {
            let ranges: Vec<String> = publications
                .iter()
                .map(|p| {
                    format!("{} to {}", p.start, p.end.map(|d| d.to_string()).unwrap_or_default())
                })
                .collect();
            return Err(violation(
                Rule::RepairPublished,
                None,
                &[],
                format!(
                    "penalty {} is not published on {}",
                    penalty.decision_number, self.effective
                ),
                format!(
                    "repair while it is published: {}",
                    if ranges.is_empty() { "never".into() } else { ranges.join(", ") }
                ),
            ));
        };
        let Some(rule) = self.catalogue.publication(penalty.decision.date) else {
            return Ok(());
        };
        let (id, basis) = (Some(rule.id.as_str()), rule.repair.legal_basis.as_slice());

        let excluded: Vec<_> = shown
            .penalty_kinds
            .iter()
            .filter(|k| rule.repair.never_repairable_kinds.contains(k))
            .collect();
        if !excluded.is_empty() {
            return Err(violation(
                Rule::RepairExcluded,
                id,
                basis,
                format!("penalties imposing {} are never repaired", names(excluded)),
                format!(
                    "repair of penalties imposing none of {}",
                    names(rule.repair.never_repairable_kinds.iter())
                ),
            ));
        }
        let Some(from) = shown.repair_allowed_from else {
            return Err(violation(
                Rule::RepairExcluded,
                id,
                basis,
                format!(
                    "class {} is not repaired early; its publication ends by itself",
                    shown.class
                ),
                format!(
                    "none; publication ends on {}",
                    shown.end.map(|d| d.to_string()).unwrap_or_default()
                ),
            ));
        };
        if self.effective < from {
            return Err(violation(
                Rule::RepairTooSoon,
                id,
                basis,
                format!(
                    "repair on {} of a penalty decided on {} is too soon",
                    self.effective, penalty.decision.date
                ),
                format!("repair from {from}"),
            ));
        }
        if rule.repair.requires_not_listed {
            let lists = lists_of(self.history, self.catalogue);
            if let Some(listed) = lists.iter().find(|l| l.contains(self.effective)) {
                return Err(violation(
                    Rule::RepairWhileListed,
                    id,
                    basis,
                    format!(
                        "the entity is on the {} list under {} on {}",
                        name(&listed.list),
                        listed.decision_number,
                        self.effective
                    ),
                    "repair once the entity is on neither list",
                ));
            }
        }
        let missing: Vec<_> = rule
            .repair
            .required_conditions
            .iter()
            .filter(|c| !event.conditions_met.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(violation(
                Rule::RepairConditions,
                id,
                basis,
                format!("conditions not found met: {}", names(missing)),
                format!(
                    "conditions_met including {}",
                    names(rule.repair.required_conditions.iter())
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn licence(&self) -> Result<(), RuleViolation> {
        let live = self.history.licences.iter().find(|l| {
            self.history.revocation_of(&l.decision_number).is_none() && l.at.date <= self.effective
        });
        if let Some(licence) = live {
            return Err(violation(
                Rule::LicenceRevokedOnce,
                None,
                &[],
                format!(
                    "the licence was revoked by {} on {}",
                    licence.decision_number, licence.at.date
                ),
                "a new revocation only after the earlier one was itself revoked",
            ));
        }
        Ok(())
    }
}
