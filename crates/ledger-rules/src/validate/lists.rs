//! Checks of list entries, removals and objections.

use chrono::NaiveDate;
use ledger_core::events::{
    AbnormalListEntered, AbnormalListRemoved, ObjectionRaised, RecordKind, SeriousGround,
    SeriousListEntered, SeriousListRemoved, SeriousRemovalKind,
};

use super::{name, names, range_text, violation, Check, Rule, RuleViolation};
use crate::dates::{add_days, add_months};
use crate::fold::serious_term_end;
use crate::history::{AbnormalStay, Penalty};

impl Check<'_> {
    pub(super) fn abnormal_entry(&self, event: &AbnormalListEntered) -> Result<(), RuleViolation> {
        let grounds = &self.catalogue.abnormal_list.grounds;
        let Some(rule) = self.catalogue.abnormal_ground(event.ground, self.effective) else {
            let versions: Vec<_> = grounds.iter().filter(|r| r.ground == event.ground).collect();
            let basis = versions.last().map(|r| r.legal_basis.clone()).unwrap_or_default();
            let ranges: Vec<String> = versions.iter().map(|r| range_text(&r.in_force)).collect();
            let in_force = grounds.iter().filter(|r| r.in_force.contains(self.effective));
            return Err(violation(
                Rule::AbnormalGroundInForce,
                versions.last().map(|r| r.id.as_str()),
                &basis,
                format!("ground {} is not in force on {}", name(&event.ground), self.effective),
                format!(
                    "on {} the grounds {}; {} is in force {}",
                    self.effective,
                    names(in_force.map(|r| r.ground)),
                    name(&event.ground),
                    if ranges.is_empty() { "never".into() } else { ranges.join(" and ") }
                ),
            ));
        };
        if self.history.abnormal.iter().any(|s| s.decision_number == event.decision_number) {
            return Err(violation(
                Rule::DecisionNumberUnique,
                Some(&rule.id),
                &rule.legal_basis,
                format!("entry decision {} is already recorded", event.decision_number),
                "a new decision number",
            ));
        }
        let listed = self.open_abnormal().find(|s| s.ground == event.ground);
        if let Some(stay) = listed {
            return Err(violation(
                Rule::AbnormalAlreadyListed,
                Some(&rule.id),
                &rule.legal_basis,
                format!(
                    "the entity is on the list on ground {} since {} ({})",
                    name(&stay.ground),
                    stay.entry.date,
                    stay.decision_number
                ),
                "an entry on another ground, or one after the removal of that stay",
            ));
        }
        Ok(())
    }

    /// The abnormal stays the entity is on at the effective date.
    fn open_abnormal(&self) -> impl Iterator<Item = &AbnormalStay> + '_ {
        self.history.abnormal.iter().filter(|s| {
            s.entry.date <= self.effective
                && s.removal.is_none_or(|(at, _)| at.date > self.effective)
        })
    }

    pub(super) fn abnormal_removal(
        &self,
        event: &AbnormalListRemoved,
    ) -> Result<(), RuleViolation> {
        let general = &self.catalogue.abnormal_list.general_removal;
        let stay = self
            .open_abnormal()
            .filter(|s| s.removal.is_none())
            .find(|s| s.decision_number == event.entry_decision_number);
        let Some(stay) = stay else {
            let open: Vec<&str> =
                self.open_abnormal().map(|s| s.decision_number.as_str()).collect();
            return Err(violation(
                Rule::AbnormalRemovalListed,
                Some(&general.id),
                &general.legal_basis,
                format!(
                    "the entity is not on the abnormal list under entry {} on {}",
                    event.entry_decision_number, self.effective
                ),
                format!(
                    "the entry decision number of a stay it is on: {}",
                    if open.is_empty() { "none".into() } else { open.join(", ") }
                ),
            ));
        };

        let rule = self.catalogue.abnormal_ground(stay.ground, stay.entry.date);
        let specific = rule.map(|r| r.removal_reasons.as_slice()).unwrap_or_default();
        let general_reasons = if general.in_force.contains(self.effective) {
            general.reasons.as_slice()
        } else {
            &[]
        };
        if !specific.contains(&event.reason) && !general_reasons.contains(&event.reason) {
            let mut basis = rule.map(|r| r.removal_legal_basis.clone()).unwrap_or_default();
            basis.extend(general.legal_basis.iter().cloned());
            return Err(violation(
                Rule::AbnormalRemovalReason,
                rule.map(|r| r.id.as_str()),
                &basis,
                format!(
                    "reason {} does not fit ground {}",
                    name(&event.reason),
                    name(&stay.ground)
                ),
                format!(
                    "for ground {}: {}; for any ground: {}",
                    name(&stay.ground),
                    names(specific.iter()),
                    names(general_reasons.iter())
                ),
            ));
        }

        // Until the 2025 revision, removal on application closed when the transfer fell due.
        if let (true, Some(transfer)) =
            (specific.contains(&event.reason), self.catalogue.transfer(self.effective))
        {
            let closes = add_months(stay.entry.date, transfer.application_window_months);
            if closes.is_none_or(|closes| self.effective >= closes) {
                let last = closes.and_then(|c| c.pred_opt()).map(|d| d.to_string());
                return Err(violation(
                    Rule::AbnormalApplicationWindow,
                    Some(&transfer.id),
                    &transfer.legal_basis,
                    format!(
                        "removal on application after {} months on the list",
                        transfer.application_window_months
                    ),
                    format!(
                        "removal on application until {}; later, the transfer to the serious \
                        list, or removal for {}",
                        last.unwrap_or_default(),
                        names(general.reasons.iter())
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn objection(&self, event: &ObjectionRaised) -> Result<(), RuleViolation> {
        if event.about.kind != RecordKind::AbnormalEntry {
            return Ok(());
        }
        let rules = &self.catalogue.abnormal_list;
        let entry = self
            .history
            .abnormal
            .iter()
            .rev()
            .find(|s| s.decision_number == event.about.decision_number);
        let Some(entry) = entry else {
            return Err(violation(
                Rule::DecisionRecorded,
                None,
                &rules.objection_legal_basis,
                format!("no abnormal-list entry {} is recorded", event.about.decision_number),
                "an objection about a recorded entry",
            ));
        };
        let last = add_days(entry.entry.date, rules.objection_window_days);
        if last.is_some_and(|last| self.effective > last) {
            return Err(violation(
                Rule::ObjectionWindow,
                None,
                &rules.objection_legal_basis,
                format!(
                    "objection raised {} days or more after the entry of {}",
                    rules.objection_window_days.saturating_add(1),
                    entry.entry.date
                ),
                format!("objections until {}", last.map(|d| d.to_string()).unwrap_or_default()),
            ));
        }
        Ok(())
    }

    pub(super) fn serious_entry(&self, event: &SeriousListEntered) -> Result<(), RuleViolation> {
        let Some(rule) = self.catalogue.serious(self.effective) else {
            let ranges: Vec<String> = self
                .catalogue
                .serious_list
                .iter()
                .map(|r| format!("{} {}", r.id, range_text(&r.in_force)))
                .collect();
            return Err(violation(
                Rule::SeriousGroundInForce,
                None,
                &[],
                format!("no serious-list rules are in force on {}", self.effective),
                format!("entries dated while a version is in force: {}", ranges.join("; ")),
            ));
        };
        let Some(ground) = rule.ground(event.ground) else {
            return Err(violation(
                Rule::SeriousGroundInForce,
                Some(&rule.id),
                &rule.legal_basis,
                format!("ground {} is not a ground of {}", name(&event.ground), rule.id),
                format!("on {}: {}", self.effective, names(rule.grounds.iter().map(|g| g.ground))),
            ));
        };
        if self.history.serious.iter().any(|s| s.decision_number == event.decision_number) {
            return Err(violation(
                Rule::DecisionNumberUnique,
                Some(&rule.id),
                &rule.legal_basis,
                format!("entry decision {} is already recorded", event.decision_number),
                "a new decision number",
            ));
        }

        if ground.penalty_required {
            let live = |n: &String| {
                self.history
                    .penalty(n)
                    .is_some_and(|p| p.revoked.is_none_or(|r| r.date > self.effective))
            };
            let missing: Vec<&str> = event
                .penalty_decision_numbers
                .iter()
                .filter(|n| !live(n))
                .map(String::as_str)
                .collect();
            if event.penalty_decision_numbers.is_empty() || !missing.is_empty() {
                return Err(violation(
                    Rule::SeriousPenaltyRequired,
                    Some(&rule.id),
                    &rule.legal_basis,
                    format!(
                        "ground {} needs recorded, unrevoked penalties; missing or revoked: {}",
                        name(&event.ground),
                        if missing.is_empty() { "none given".into() } else { missing.join(", ") }
                    ),
                    "penalty_decision_numbers naming penalties recorded in this stream",
                ));
            }
        }
        if event.ground == SeriousGround::AbnormalListThreeYears {
            self.transfer()?;
        }
        Ok(())
    }

    /// The three-year transfer needs its rule in force and a stay of that length.
    fn transfer(&self) -> Result<(), RuleViolation> {
        let Some(transfer) = self.catalogue.transfer(self.effective) else {
            let versions = &self.catalogue.abnormal_list.transfer;
            let basis = versions.last().map(|t| t.legal_basis.clone()).unwrap_or_default();
            let ranges: Vec<String> = versions.iter().map(|t| range_text(&t.in_force)).collect();
            return Err(violation(
                Rule::SeriousTransfer,
                versions.last().map(|t| t.id.as_str()),
                &basis,
                format!("the three-year transfer is not in force on {}", self.effective),
                format!(
                    "transfers dated {}",
                    if ranges.is_empty() { "never".into() } else { ranges.join(" or ") }
                ),
            ));
        };
        let long_enough = self.open_abnormal().any(|s| {
            add_months(s.entry.date, transfer.after_months).is_some_and(|due| due <= self.effective)
        });
        if !long_enough {
            return Err(violation(
                Rule::SeriousTransfer,
                Some(&transfer.id),
                &transfer.legal_basis,
                format!(
                    "the entity has not been on the abnormal list for {} months on {}",
                    transfer.after_months, self.effective
                ),
                format!(
                    "a transfer once a stay on the abnormal list has lasted {} months",
                    transfer.after_months
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn serious_removal(&self, event: &SeriousListRemoved) -> Result<(), RuleViolation> {
        let stay = self.history.serious.iter().rev().find(|s| {
            s.decision_number == event.entry_decision_number
                && s.removal.is_none()
                && s.entry.date <= self.effective
        });
        let Some(stay) = stay else {
            return Err(violation(
                Rule::SeriousRemovalListed,
                None,
                &[],
                format!(
                    "the entity is not on the serious list under entry {}",
                    event.entry_decision_number
                ),
                "the entry decision number of a serious-list stay not yet removed",
            ));
        };
        let rule = self.catalogue.serious(stay.entry.date);
        let (id, basis) = rule
            .map(|r| (Some(r.id.as_str()), r.removal_legal_basis.as_slice()))
            .unwrap_or_default();

        match event.kind {
            SeriousRemovalKind::Revocation => Ok(()),
            SeriousRemovalKind::Expiry => {
                let term_end = serious_term_end(stay, self.history, self.catalogue);
                if term_end.is_none_or(|end| self.effective < end) {
                    return Err(violation(
                        Rule::SeriousExpiry,
                        id,
                        basis,
                        format!(
                            "the term of the entry of {} has not run out on {}",
                            stay.entry.date, self.effective
                        ),
                        format!(
                            "expiry from {}, or early removal or revocation",
                            term_end.map(|d| d.to_string()).unwrap_or_else(|| "no date".into())
                        ),
                    ));
                }
                Ok(())
            }
            SeriousRemovalKind::EarlyRemoval => {
                let Some(min) = rule.and_then(|r| r.early_removal_min_months) else {
                    return Err(violation(
                        Rule::SeriousEarlyRemoval,
                        id,
                        basis,
                        format!(
                            "the rules of the entry of {} know no early removal",
                            stay.entry.date
                        ),
                        "removal at expiry of the term, or revocation",
                    ));
                };
                let from = add_months(stay.entry.date, min);
                if from.is_none_or(|from| self.effective < from) {
                    return Err(violation(
                        Rule::SeriousEarlyRemoval,
                        id,
                        basis,
                        format!(
                            "early removal {} months after the entry of {} is too soon",
                            min, stay.entry.date
                        ),
                        format!(
                            "early removal from {}",
                            from.map(|d| d.to_string()).unwrap_or_default()
                        ),
                    ));
                }
                if rule.is_some_and(|r| r.early_removal_blocked_by_aggravated_penalty) {
                    if let Some(heavy) = self.heavy_penalty_since(stay.entry.date) {
                        return Err(violation(
                            Rule::SeriousEarlyRemoval,
                            id,
                            basis,
                            format!(
                                "aggravated penalty {} was decided on {}",
                                heavy.decision_number, heavy.decision.date
                            ),
                            "early removal when no new heavy penalty was decided since the entry",
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    fn heavy_penalty_since(&self, since: NaiveDate) -> Option<&Penalty> {
        self.history.penalties.iter().find(|p| {
            p.decision.date > since
                && p.decision.date <= self.effective
                && p.revoked.is_none_or(|r| r.date > self.effective)
                && p.current().aggravated
        })
    }
}
