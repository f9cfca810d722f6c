//! The fold: one entity's events and the catalogue in, its credit status out.
//!
//! [`timeline`] computes every interval of the entity over all time; [`fold`] reads it at one
//! date and [`intervals`] returns its restrictions, so a view that stores intervals and
//! filters them by date gives exactly what the fold gives. The steps:
//!
//! 1. read the events known at the position asked about into records (`History`), dating
//!    each by its effective date: valid time is what the law says, the position is what the
//!    ledger knew;
//! 2. turn each list entry into a stay that ends at its removal, at the end of its term (the
//!    serious list ends itself, with no event) or when a penalty it rests on is revoked;
//! 3. turn each penalty into stretches of publication under the rule version in force on its
//!    decision date, cut where a change, a repair or a revocation takes effect;
//! 4. apply every measure version of the catalogue to every record it is triggered by, for
//!    its duration, within the measure's own dates in force (see the `restrict` module).
//!
//! A revocation ends the penalty's publication, the listings resting on it and every
//! restriction they caused on the revocation's effective date; what applied before stays in
//! the record of past dates. Where a decision is void from the start, the recorder gives the
//! revocation the penalty's own effective date, and nothing of it remains.

use chrono::NaiveDate;
use ledger_core::events::SeriousRemovalKind;
use ledger_core::RecordedEvent;

use crate::catalogue::Catalogue;
use crate::dates::{add_days, add_months, later_end, Span};
use crate::history::{AbnormalStay, History, Penalty, SeriousStay};
use crate::restrict;
use crate::status::{
    CreditStatus, ListEnd, ListGround, ListInterval, ListKind, PublicationEnd, PublicationInterval,
    RestrictionInterval, Timeline,
};

/// The entity's credit status on `as_of`, as the ledger knew it at `known_at_position` (events
/// recorded after it are ignored) or as it is known now (`None`).
pub fn fold(
    events: &[RecordedEvent],
    catalogue: &Catalogue,
    as_of: NaiveDate,
    known_at_position: Option<u64>,
) -> CreditStatus {
    timeline(events, catalogue, known_at_position).at(as_of)
}

/// Every restriction interval of the entity over all time, as known at `known_at_position`.
pub fn intervals(
    events: &[RecordedEvent],
    catalogue: &Catalogue,
    known_at_position: Option<u64>,
) -> Vec<RestrictionInterval> {
    timeline(events, catalogue, known_at_position).restrictions
}

/// Every list stay, publication and restriction of the entity over all time, as known at
/// `known_at_position`. `events` are the entity's stream; events of other streams in it are
/// read as if they were the entity's, so callers pass one stream.
pub fn timeline(
    events: &[RecordedEvent],
    catalogue: &Catalogue,
    known_at_position: Option<u64>,
) -> Timeline {
    let history = History::read(events, known_at_position);
    let lists = lists_of(&history, catalogue);
    let mut publications: Vec<PublicationInterval> =
        history.penalties.iter().flat_map(|p| publications_of(p, catalogue)).collect();
    publications.sort_by_key(|i| (i.start, i.decision_position));

    let restrictions = restrict::restrictions(&history, catalogue, &publications);
    Timeline { known_at_position, lists, publications, restrictions }
}

/// Every list stay of the history, sorted by start.
pub(crate) fn lists_of(history: &History, catalogue: &Catalogue) -> Vec<ListInterval> {
    let mut lists: Vec<ListInterval> = history
        .abnormal
        .iter()
        .filter_map(|stay| abnormal_interval(stay, catalogue))
        .chain(history.serious.iter().filter_map(|stay| serious_interval(stay, history, catalogue)))
        .collect();
    lists.sort_by_key(|i| (i.start, i.list, i.entry_position));
    lists
}

/// The first day off the list for an abnormal stay, and why.
pub(crate) fn abnormal_end(stay: &AbnormalStay) -> (Option<NaiveDate>, Option<ListEnd>) {
    match stay.removal {
        Some((at, _)) => (Some(at.date), Some(ListEnd::Removed { position: at.position })),
        None => (None, None),
    }
}

fn abnormal_interval(stay: &AbnormalStay, catalogue: &Catalogue) -> Option<ListInterval> {
    let (end, end_reason) = abnormal_end(stay);
    let span = Span::new(stay.entry.date, end)?;
    let rule = catalogue.abnormal_ground(stay.ground, stay.entry.date);

    // The old transfer fell due when the years were complete on a day the transfer rule was
    // still in force and the entity was still on the list.
    let transfer_due = catalogue.abnormal_list.transfer.iter().find_map(|rule| {
        let due = add_months(span.start, rule.after_months)?;
        (rule.in_force.contains(due) && span.contains(due)).then_some(due)
    });

    Some(ListInterval {
        list: ListKind::Abnormal,
        ground: ListGround::Abnormal(stay.ground),
        decision_number: stay.decision_number.clone(),
        entry_position: stay.entry.position,
        start: span.start,
        end: span.end,
        end_reason,
        rule_version: rule.map(|r| r.id.clone()),
        legal_basis: stay.legal_basis.clone(),
        transfer_due,
        early_removal_from: None,
    })
}

/// The day a serious stay ends by itself: its version's term from the entry, or the end of a
/// longer restriction period where the version says so; `None` when no version governs it.
pub(crate) fn serious_term_end(
    stay: &SeriousStay,
    history: &History,
    catalogue: &Catalogue,
) -> Option<NaiveDate> {
    let rule = catalogue.serious(stay.entry.date)?;
    let term = add_months(stay.entry.date, rule.term_months);
    if !rule.term_extends_to_restriction {
        return term;
    }

    let entry_restriction = stay.restriction_until.map(|until| add_days(until, 1));
    let penalty_restrictions = stay
        .penalty_numbers
        .iter()
        .filter_map(|number| history.penalty(number))
        .filter_map(Penalty::restriction_end);
    entry_restriction.into_iter().chain(penalty_restrictions).fold(term, later_end)
}

/// The first day off the list for a serious stay, and why; the earliest of the removal, the
/// term's end and a revocation of a penalty the entry rests on.
pub(crate) fn serious_end(
    stay: &SeriousStay,
    history: &History,
    catalogue: &Catalogue,
) -> (Option<NaiveDate>, Option<ListEnd>) {
    // Candidates ranked for ties: a recorded decision explains the end better than time.
    let mut ends: Vec<(NaiveDate, u8, ListEnd)> = Vec::new();
    if let Some((at, _)) = stay.removal {
        ends.push((at.date, 0, ListEnd::Removed { position: at.position }));
    }
    if let Some(at) = history.serious_penalty_revoked(stay) {
        ends.push((at.date, 1, ListEnd::PenaltyRevoked { position: at.position }));
    }
    if let Some(term_end) = serious_term_end(stay, history, catalogue) {
        ends.push((term_end, 2, ListEnd::Expired));
    }
    match ends.into_iter().min_by_key(|(date, rank, _)| (*date, *rank)) {
        Some((date, _, reason)) => (Some(date), Some(reason)),
        None => (None, None),
    }
}

/// The day a serious entry was voided (revoked itself, or a penalty it rests on revoked):
/// fixed-term measures it triggered end there too.
pub(crate) fn serious_void(stay: &SeriousStay, history: &History) -> Option<NaiveDate> {
    let revoked = stay
        .removal
        .filter(|(_, kind)| *kind == SeriousRemovalKind::Revocation)
        .map(|(at, _)| at.date);
    let penalty = history.serious_penalty_revoked(stay).map(|at| at.date);
    revoked.into_iter().chain(penalty).min()
}

fn serious_interval(
    stay: &SeriousStay,
    history: &History,
    catalogue: &Catalogue,
) -> Option<ListInterval> {
    let (end, end_reason) = serious_end(stay, history, catalogue);
    let span = Span::new(stay.entry.date, end)?;
    let rule = catalogue.serious(stay.entry.date);
    let early_removal_from =
        rule.and_then(|r| r.early_removal_min_months).and_then(|m| add_months(span.start, m));

    Some(ListInterval {
        list: ListKind::Serious,
        ground: ListGround::Serious(stay.ground),
        decision_number: stay.decision_number.clone(),
        entry_position: stay.entry.position,
        start: span.start,
        end: span.end,
        end_reason,
        rule_version: rule.map(|r| r.id.clone()),
        legal_basis: stay.legal_basis.clone(),
        transfer_due: None,
        early_removal_from,
    })
}

/// The stretches in which a penalty is shown, one per stretch of unchanged attributes, under
/// the publication rule in force on its decision date.
pub(crate) fn publications_of(
    penalty: &Penalty,
    catalogue: &Catalogue,
) -> Vec<PublicationInterval> {
    let decided_on = penalty.decision.date;
    let Some(rule) = catalogue.publication(decided_on) else {
        return Vec::new();
    };
    let publication_due =
        catalogue.calendar.add_working_days(decided_on, rule.publication_working_days).ok();

    let mut out = Vec::new();
    for piece in penalty.pieces() {
        let attrs = &piece.attrs;
        if !rule.publishes(penalty.procedure, &attrs.penalty_kinds) {
            continue;
        }
        let class = rule.class_for(
            attrs.case_category,
            &attrs.penalty_kinds,
            attrs.fine_fen,
            attrs.aggravated,
        );
        let Some(class) = class else {
            continue;
        };

        // The period counts from the decision; a longer restriction period wins.
        let mut period_end = add_months(decided_on, class.publication_months);
        if rule.restriction_period_extends {
            if let Some(days) = attrs.restriction_period_days {
                period_end = later_end(period_end, add_days(decided_on, days));
            }
        }

        // The interval ends at the earliest of revocation, repair, expiry and the next change.
        let mut ends: Vec<(NaiveDate, u8, PublicationEnd)> = Vec::new();
        if let Some(at) = penalty.revoked {
            ends.push((at.date, 0, PublicationEnd::Revoked { position: at.position }));
        }
        if let Some(at) = penalty.repaired {
            ends.push((at.date, 1, PublicationEnd::Repaired { position: at.position }));
        }
        if let Some(date) = period_end {
            ends.push((date, 2, PublicationEnd::Expired));
        }
        if let (Some(date), Some(position)) = (piece.span.end, piece.ended_by_change) {
            ends.push((date, 3, PublicationEnd::Changed { position }));
        }
        let end = ends.into_iter().min_by_key(|(date, rank, _)| (*date, *rank));
        let Some(span) = Span::new(piece.span.start, end.map(|(date, _, _)| date)) else {
            continue;
        };

        let repairable =
            !attrs.penalty_kinds.iter().any(|k| rule.repair.never_repairable_kinds.contains(k));
        let repair_allowed_from = class
            .repair_min_months
            .filter(|_| repairable)
            .and_then(|months| add_months(decided_on, months));
        out.push(PublicationInterval {
            decision_number: penalty.decision_number.clone(),
            decision_position: penalty.decision.position,
            decided_on,
            case_category: attrs.case_category,
            penalty_kinds: attrs.penalty_kinds.clone(),
            class: class.class.clone(),
            rule_version: rule.id.clone(),
            legal_basis: rule.legal_basis.clone(),
            start: span.start,
            end: span.end,
            end_reason: end.map(|(_, _, reason)| reason),
            caused_by: piece.positions.clone(),
            publication_due,
            repair_allowed_from,
        });
    }
    out
}
