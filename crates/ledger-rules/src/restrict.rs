//! Joint-punishment measures applied to an entity's records.
//!
//! A measure version applies to every record of its trigger's kind, for its duration, and
//! only within the measure's own dates in force: a measure that comes into force finds
//! existing records, and one that is retired stops applying, because "was this entity
//! restricted on date D" is asked of the rules in force on D. Durations read:
//!
//! - `while_listed` and `until_publication_ends`: as long as the record lasts, that is the
//!   list stay, the penalty's publication or, for a licence, until the revocation is itself
//!   revoked;
//! - `fixed_days` and `years_after_trigger`: that long from the record's effective date,
//!   whatever becomes of the record, unless the record is voided (an entry revoked or found
//!   wrong on objection, a penalty revoked), which ends everything that followed from it.
//!
//! A penalty's attributes may change over time, so a penalty-class measure applies to the
//! stretches in which the penalty matches the class; adjacent stretches are joined.

use chrono::NaiveDate;
use ledger_core::events::{DurationRule, MeasureDefined, MeasureTrigger};

use crate::catalogue::{Catalogue, MeasureScope, Validity};
use crate::dates::{add_days, add_months, earlier_end, later_end, Span};
use crate::fold::{abnormal_end, serious_end, serious_void};
use crate::history::{History, Penalty, PenaltyAttrs};
use crate::status::{ListGround, PublicationInterval, RestrictionInterval, TriggerKind};

/// A list stay or licence revocation as a trigger.
struct Record<'a> {
    kind: TriggerKind,
    decision_number: &'a str,
    /// While the record lasts, if it lasts at all.
    lasting: Option<Span>,
    /// The record's effective date, from which fixed durations count.
    start: NaiveDate,
    /// The day the record was voided, if it was.
    void: Option<NaiveDate>,
    /// The record's event and the events it rests on.
    caused_by: Vec<u64>,
    /// The list ground, which a measure's scope may narrow; `None` for a licence.
    ground: Option<ListGround>,
}

impl Record<'_> {
    /// Whether a measure narrowed to `scope` applies to this record.
    fn admitted_by(&self, scope: &MeasureScope) -> bool {
        match self.ground {
            Some(ListGround::Abnormal(ground)) => {
                scope.abnormal_grounds.is_empty() || scope.abnormal_grounds.contains(&ground)
            }
            Some(ListGround::Serious(ground)) => {
                scope.serious_grounds.is_empty() || scope.serious_grounds.contains(&ground)
            }
            None => true,
        }
    }
}

/// A stretch of days with the positions of the events that caused it.
type Stretch = (Span, Vec<u64>);

/// The stretches one record triggers for one measure.
struct Triggered<'a> {
    kind: TriggerKind,
    decision_number: &'a str,
    stretches: Vec<Stretch>,
}

/// Every restriction interval of the entity, sorted by start, measure and trigger.
pub(crate) fn restrictions(
    history: &History,
    catalogue: &Catalogue,
    publications: &[PublicationInterval],
) -> Vec<RestrictionInterval> {
    let records = records(history, catalogue);
    let mut out = Vec::new();
    for measure in &catalogue.measures {
        let validity = Validity { from: measure.in_force_from, until: measure.in_force_until };
        let Some(in_force) = validity.span() else {
            continue;
        };
        let scope = catalogue.scope(&measure.measure_id);

        // Each triggering record yields stretches; they are cut to the measure's own dates.
        let triggered = match &measure.trigger {
            MeasureTrigger::PenaltyClass { case_categories, penalty_kinds } => {
                let matches = |attrs: &PenaltyAttrs| {
                    (case_categories.is_empty() || case_categories.contains(&attrs.case_category))
                        && (penalty_kinds.is_empty()
                            || attrs.penalty_kinds.iter().any(|k| penalty_kinds.contains(k)))
                };
                let penalties = history.penalties.iter().map(|penalty| Triggered {
                    kind: TriggerKind::Penalty,
                    decision_number: &penalty.decision_number,
                    stretches: penalty_stretches(penalty, measure, &matches, publications),
                });
                penalties.collect()
            }
            trigger => record_stretches(&records, trigger_kind(trigger), scope, &measure.duration),
        };
        for Triggered { kind, decision_number, stretches } in triggered {
            let cut = stretches.into_iter().filter_map(|(s, p)| Some((s.intersect(&in_force)?, p)));
            for (span, caused_by) in join(cut.collect()) {
                out.push(interval(measure, kind, decision_number, span, caused_by));
            }
        }
    }
    out.sort_by(|a, b| {
        (a.start, &a.measure_id, a.measure_version, a.trigger)
            .cmp(&(b.start, &b.measure_id, b.measure_version, b.trigger))
            .then_with(|| a.trigger_decision_number.cmp(&b.trigger_decision_number))
            .then_with(|| a.caused_by.cmp(&b.caused_by))
    });
    out
}

/// The stretches in which a list or licence measure applies to each record of its kind.
fn record_stretches<'a>(
    records: &'a [Record<'a>],
    kind: TriggerKind,
    scope: Option<&MeasureScope>,
    duration: &DurationRule,
) -> Vec<Triggered<'a>> {
    let admitted = |record: &&Record<'_>| scope.is_none_or(|scope| record.admitted_by(scope));
    records
        .iter()
        .filter(|r| r.kind == kind)
        .filter(admitted)
        .map(|record| {
            let span = match window(record.start, duration) {
                None => record.lasting,
                Some(end) => Span::new(record.start, earlier_end(end, record.void)),
            };
            Triggered {
                kind,
                decision_number: record.decision_number,
                stretches: span.map(|s| (s, record.caused_by.clone())).into_iter().collect(),
            }
        })
        .collect()
}

fn trigger_kind(trigger: &MeasureTrigger) -> TriggerKind {
    match trigger {
        MeasureTrigger::AbnormalList => TriggerKind::AbnormalList,
        MeasureTrigger::SeriousList => TriggerKind::SeriousList,
        MeasureTrigger::PenaltyClass { .. } => TriggerKind::Penalty,
        MeasureTrigger::LicenceRevoked => TriggerKind::LicenceRevoked,
    }
}

/// The end of a fixed duration counted from `start` (`Some(None)` when it lies beyond the
/// calendar), or `None` for durations that last as long as the record.
fn window(start: NaiveDate, duration: &DurationRule) -> Option<Option<NaiveDate>> {
    match duration {
        DurationRule::WhileListed | DurationRule::UntilPublicationEnds => None,
        DurationRule::FixedDays(days) => Some(add_days(start, *days)),
        DurationRule::YearsAfterTrigger(years) => {
            Some(years.checked_mul(12).and_then(|months| add_months(start, months)))
        }
    }
}

/// The list stays and licence revocations of the entity as triggers.
fn records<'a>(history: &'a History, catalogue: &Catalogue) -> Vec<Record<'a>> {
    let mut records = Vec::new();
    for stay in &history.abnormal {
        records.push(Record {
            kind: TriggerKind::AbnormalList,
            decision_number: &stay.decision_number,
            lasting: Span::new(stay.entry.date, abnormal_end(stay).0),
            start: stay.entry.date,
            void: stay.voided(),
            caused_by: vec![stay.entry.position],
            ground: Some(ListGround::Abnormal(stay.ground)),
        });
    }
    for stay in &history.serious {
        let mut caused_by = vec![stay.entry.position];
        caused_by.extend(
            stay.penalty_numbers
                .iter()
                .filter_map(|n| history.penalty(n))
                .map(|p| p.decision.position),
        );
        caused_by.sort_unstable();
        caused_by.dedup();
        records.push(Record {
            kind: TriggerKind::SeriousList,
            decision_number: &stay.decision_number,
            lasting: Span::new(stay.entry.date, serious_end(stay, history, catalogue).0),
            start: stay.entry.date,
            void: serious_void(stay, history),
            caused_by,
            ground: Some(ListGround::Serious(stay.ground)),
        });
    }
    for licence in &history.licences {
        let void = history.revocation_of(&licence.decision_number).map(|at| at.date);
        records.push(Record {
            kind: TriggerKind::LicenceRevoked,
            decision_number: &licence.decision_number,
            lasting: Span::new(licence.at.date, void),
            start: licence.at.date,
            void,
            caused_by: vec![licence.at.position],
            ground: None,
        });
    }
    records
}

/// The stretches in which a penalty-class measure applies to one penalty: where the penalty
/// matches the class, within its publication or its fixed duration.
fn penalty_stretches(
    penalty: &Penalty,
    measure: &MeasureDefined,
    matches: &dyn Fn(&PenaltyAttrs) -> bool,
    publications: &[PublicationInterval],
) -> Vec<Stretch> {
    let start = penalty.decision.date;
    let void = penalty.revoked.map(|at| at.date);
    let windows: Vec<Span> = match window(start, &measure.duration) {
        None => publications
            .iter()
            .filter(|p| p.decision_position == penalty.decision.position)
            .filter_map(|p| Span::new(p.start, p.end))
            .collect(),
        Some(end) => Span::new(start, earlier_end(end, void)).into_iter().collect(),
    };

    let mut stretches = Vec::new();
    for piece in penalty.pieces().into_iter().filter(|piece| matches(&piece.attrs)) {
        for window in &windows {
            if let Some(span) = piece.span.intersect(window) {
                stretches.push((span, piece.positions.clone()));
            }
        }
    }
    stretches
}

/// Joins stretches that touch or overlap, uniting their causes.
fn join(mut stretches: Vec<Stretch>) -> Vec<Stretch> {
    stretches.sort_by_key(|(span, _)| span.start);
    let mut joined: Vec<Stretch> = Vec::new();
    for (span, causes) in stretches {
        if let Some((last, last_causes)) = joined.last_mut() {
            if last.end.is_none_or(|end| span.start <= end) {
                last.end = later_end(last.end, span.end);
                last_causes.extend(causes);
                last_causes.sort_unstable();
                last_causes.dedup();
                continue;
            }
        }
        joined.push((span, causes));
    }
    joined
}

fn interval(
    measure: &MeasureDefined,
    trigger: TriggerKind,
    decision_number: &str,
    span: Span,
    caused_by: Vec<u64>,
) -> RestrictionInterval {
    RestrictionInterval {
        measure_id: measure.measure_id.clone(),
        measure_version: measure.in_force_from,
        department: measure.department.clone(),
        title: measure.title.clone(),
        legal_basis: measure.legal_basis.clone(),
        trigger,
        trigger_decision_number: decision_number.to_owned(),
        start: span.start,
        end: span.end,
        caused_by,
    }
}
