//! One entity's stream read into typed records: its list stays, penalties and licence
//! revocations, each with the events that began, changed and ended it.
//!
//! Validation and the fold read the same records, so that what validation accepts is exactly
//! what the fold understands. Reading never fails: an event whose payload does not parse, or
//! that refers to a decision the stream does not hold, is skipped, because the fold must give
//! an answer for whatever the ledger holds. Events are read in position order (the order the
//! ledger learned them), and each is dated by its effective date in China Standard Time.

use chrono::NaiveDate;
use ledger_core::events::{
    AbnormalGround, AbnormalRemovalReason, CaseCategory, DomainEvent, LegalBasis, PenaltyChanges,
    PenaltyKind, PenaltyProcedure, SeriousGround, SeriousRemovalKind,
};
use ledger_core::RecordedEvent;

use crate::dates::{add_days, china_date, earlier_end, Span};

/// When an event took effect and where the ledger holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dated {
    pub(crate) date: NaiveDate,
    pub(crate) position: u64,
}

/// The entity's registration.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    pub(crate) at: Dated,
}

/// One stay on the abnormal-operations list.
#[derive(Debug, Clone)]
pub(crate) struct AbnormalStay {
    pub(crate) entry: Dated,
    pub(crate) ground: AbnormalGround,
    pub(crate) decision_number: String,
    pub(crate) legal_basis: Vec<LegalBasis>,
    pub(crate) removal: Option<(Dated, AbnormalRemovalReason)>,
}

impl AbnormalStay {
    /// The date an upheld objection voided the entry: fixed-term measures end there too.
    pub(crate) fn voided(&self) -> Option<NaiveDate> {
        self.removal
            .filter(|(_, reason)| *reason == AbnormalRemovalReason::ObjectionUpheld)
            .map(|(at, _)| at.date)
    }
}

/// One stay on the serious list.
#[derive(Debug, Clone)]
pub(crate) struct SeriousStay {
    pub(crate) entry: Dated,
    pub(crate) ground: SeriousGround,
    pub(crate) decision_number: String,
    pub(crate) legal_basis: Vec<LegalBasis>,
    pub(crate) penalty_numbers: Vec<String>,
    pub(crate) restriction_until: Option<NaiveDate>,
    pub(crate) removal: Option<(Dated, SeriousRemovalKind)>,
}

/// The attributes of a penalty that the rules read, as they stand over one stretch of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PenaltyAttrs {
    pub(crate) case_category: CaseCategory,
    pub(crate) penalty_kinds: Vec<PenaltyKind>,
    pub(crate) fine_fen: i64,
    pub(crate) aggravated: bool,
    pub(crate) restriction_period_days: Option<u32>,
}

impl PenaltyAttrs {
    fn apply(&mut self, changes: &PenaltyChanges) {
        if let Some(category) = changes.case_category {
            self.case_category = category;
        }
        if let Some(kinds) = &changes.penalty_kinds {
            self.penalty_kinds.clone_from(kinds);
        }
        if let Some(fine) = changes.fine_fen {
            self.fine_fen = fine;
        }
        if let Some(aggravated) = changes.aggravated {
            self.aggravated = aggravated;
        }
        if changes.restriction_period_days.is_some() {
            self.restriction_period_days = changes.restriction_period_days;
        }
    }
}

/// An administrative penalty with its later changes, revocation and repair.
#[derive(Debug, Clone)]
pub(crate) struct Penalty {
    pub(crate) decision: Dated,
    pub(crate) decision_number: String,
    pub(crate) procedure: PenaltyProcedure,
    pub(crate) attrs: PenaltyAttrs,
    pub(crate) changes: Vec<(Dated, PenaltyChanges)>,
    pub(crate) revoked: Option<Dated>,
    pub(crate) repaired: Option<Dated>,
}

/// A stretch of time over which a penalty's attributes stay the same.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub(crate) span: Span,
    pub(crate) attrs: PenaltyAttrs,
    /// The decision and every change that shaped these attributes.
    pub(crate) positions: Vec<u64>,
    /// The change that ends this stretch, if one does.
    pub(crate) ended_by_change: Option<u64>,
}

impl Penalty {
    /// The penalty's life from its decision to its revocation, cut where a change takes effect.
    /// A change dated before the decision counts from the decision; changes of one day apply
    /// in position order.
    pub(crate) fn pieces(&self) -> Vec<Piece> {
        let mut changes: Vec<(Dated, &PenaltyChanges)> = self
            .changes
            .iter()
            .map(|(at, c)| (Dated { date: at.date.max(self.decision.date), ..*at }, c))
            .collect();
        changes.sort_by_key(|(at, _)| (at.date, at.position));

        let end = self.revoked.map(|at| at.date);
        let mut pieces = Vec::new();
        let mut attrs = self.attrs.clone();
        let mut positions = vec![self.decision.position];
        let mut start = self.decision.date;
        for (at, change) in changes {
            if let Some(span) = Span::new(start, earlier_end(Some(at.date), end)) {
                let ended_by_change = Some(at.position).filter(|_| span.end == Some(at.date));
                pieces.push(Piece {
                    span,
                    attrs: attrs.clone(),
                    positions: positions.clone(),
                    ended_by_change,
                });
            }
            attrs.apply(change);
            positions.push(at.position);
            start = at.date;
        }
        if let Some(span) = Span::new(start, end) {
            pieces.push(Piece { span, attrs, positions, ended_by_change: None });
        }
        pieces
    }

    /// The attributes after every change.
    pub(crate) fn current(&self) -> PenaltyAttrs {
        let mut changes: Vec<&(Dated, PenaltyChanges)> = self.changes.iter().collect();
        changes.sort_by_key(|(at, _)| (at.date, at.position));
        let mut attrs = self.attrs.clone();
        for (_, change) in changes {
            attrs.apply(change);
        }
        attrs
    }

    /// The first day after the restriction period the penalty sets, if it sets one.
    pub(crate) fn restriction_end(&self) -> Option<Option<NaiveDate>> {
        let days = self.current().restriction_period_days?;
        Some(add_days(self.decision.date, days))
    }
}

/// A revocation of the business licence.
#[derive(Debug, Clone)]
pub(crate) struct LicenceRevocation {
    pub(crate) at: Dated,
    pub(crate) decision_number: String,
}

/// Everything the rules read from one entity's stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    pub(crate) registration: Option<Registration>,
    pub(crate) abnormal: Vec<AbnormalStay>,
    pub(crate) serious: Vec<SeriousStay>,
    pub(crate) penalties: Vec<Penalty>,
    pub(crate) licences: Vec<LicenceRevocation>,
}

impl History {
    /// Reads the events at or before `known_at` (all when `None`), in position order.
    pub(crate) fn read(events: &[RecordedEvent], known_at: Option<u64>) -> Self {
        let mut known: Vec<&RecordedEvent> =
            events.iter().filter(|e| known_at.is_none_or(|limit| e.position <= limit)).collect();
        known.sort_by_key(|e| e.position);

        let mut history = Self::default();
        for event in known {
            let at = Dated { date: china_date(event.effective_at), position: event.position };
            let parsed =
                DomainEvent::parse_json(&event.event_type, event.schema_version, &event.payload);
            if let Ok(parsed) = parsed {
                history.apply(at, parsed);
            }
        }
        history
    }

    /// Adds one event; see [`History::read`].
    pub(crate) fn apply(&mut self, at: Dated, event: DomainEvent) {
        match event {
            // Only the first registration counts; a second one is refused by validation.
            DomainEvent::EntityRegisteredV1(_) if self.registration.is_none() => {
                self.registration = Some(Registration { at });
            }
            DomainEvent::AbnormalListEnteredV1(e) => self.abnormal.push(AbnormalStay {
                entry: at,
                ground: e.ground,
                decision_number: e.decision_number,
                legal_basis: e.legal_basis,
                removal: None,
            }),
            DomainEvent::AbnormalListRemovedV1(e) => {
                if let Some(stay) = self.open_abnormal_mut(&e.entry_decision_number) {
                    stay.removal = Some((at, e.reason));
                }
            }
            DomainEvent::SeriousListEnteredV1(e) => self.serious.push(SeriousStay {
                entry: at,
                ground: e.ground,
                decision_number: e.decision_number,
                legal_basis: e.legal_basis,
                penalty_numbers: e.penalty_decision_numbers,
                restriction_until: e.restriction_until,
                removal: None,
            }),
            DomainEvent::SeriousListRemovedV1(e) => {
                let open =
                    self.serious.iter_mut().rev().find(|s| {
                        s.decision_number == e.entry_decision_number && s.removal.is_none()
                    });
                if let Some(stay) = open {
                    stay.removal = Some((at, e.kind));
                }
            }
            DomainEvent::PenaltyDecidedV1(e) => self.penalties.push(Penalty {
                decision: at,
                decision_number: e.decision_number,
                procedure: e.procedure,
                attrs: PenaltyAttrs {
                    case_category: e.case_category,
                    penalty_kinds: e.penalty_kinds,
                    fine_fen: e.fine_fen,
                    aggravated: e.aggravated,
                    restriction_period_days: e.restriction_period_days,
                },
                changes: Vec::new(),
                revoked: None,
                repaired: None,
            }),
            DomainEvent::PenaltyChangedV1(e) => {
                if let Some(penalty) = self.penalty_mut(&e.penalty_decision_number) {
                    penalty.changes.push((at, e.changes));
                }
            }
            DomainEvent::PenaltyRevokedV1(e) => {
                if let Some(penalty) = self.penalty_mut(&e.penalty_decision_number) {
                    penalty.revoked = Some(earliest(penalty.revoked, at));
                }
            }
            DomainEvent::CreditRepairedV1(e) => {
                if let Some(penalty) = self.penalty_mut(&e.penalty_decision_number) {
                    penalty.repaired = Some(earliest(penalty.repaired, at));
                }
            }
            DomainEvent::LicenceRevokedV1(e) => {
                self.licences.push(LicenceRevocation { at, decision_number: e.decision_number });
            }
            _ => {}
        }
    }

    fn open_abnormal_mut(&mut self, number: &str) -> Option<&mut AbnormalStay> {
        self.abnormal.iter_mut().rev().find(|s| s.decision_number == number && s.removal.is_none())
    }

    fn penalty_mut(&mut self, number: &str) -> Option<&mut Penalty> {
        self.penalties.iter_mut().rev().find(|p| p.decision_number == number)
    }

    /// The latest penalty with this decision number.
    pub(crate) fn penalty(&self, number: &str) -> Option<&Penalty> {
        self.penalties.iter().rev().find(|p| p.decision_number == number)
    }

    /// When the penalty of this number was revoked, if it was.
    pub(crate) fn revocation_of(&self, number: &str) -> Option<Dated> {
        self.penalty(number).and_then(|p| p.revoked)
    }

    /// The earliest revocation of any penalty a serious stay rests on.
    pub(crate) fn serious_penalty_revoked(&self, stay: &SeriousStay) -> Option<Dated> {
        stay.penalty_numbers
            .iter()
            .filter_map(|n| self.revocation_of(n))
            .min_by_key(|at| (at.date, at.position))
    }
}

fn earliest(current: Option<Dated>, new: Dated) -> Dated {
    match current {
        Some(old) if (old.date, old.position) <= (new.date, new.position) => old,
        _ => new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, day: u32, position: u64) -> Dated {
        Dated { date: NaiveDate::from_ymd_opt(y, m, day).unwrap(), position }
    }

    fn fine_changes(fine_fen: i64) -> PenaltyChanges {
        PenaltyChanges { fine_fen: Some(fine_fen), ..Default::default() }
    }

    /// Changes split the penalty's life in valid-time order, whatever order they were recorded
    /// in; one dated before the decision counts from the decision; the revocation cuts all.
    #[test]
    fn pieces_follow_valid_time() {
        let penalty = Penalty {
            decision: at(2024, 1, 10, 1),
            decision_number: "P".into(),
            procedure: PenaltyProcedure::Ordinary,
            attrs: PenaltyAttrs {
                case_category: CaseCategory::Other,
                penalty_kinds: vec![PenaltyKind::Fine],
                fine_fen: 100,
                aggravated: false,
                restriction_period_days: None,
            },
            changes: vec![
                (at(2024, 6, 1, 5), fine_changes(300)),
                (at(2023, 12, 1, 3), fine_changes(200)),
                (at(2024, 6, 1, 4), fine_changes(250)),
            ],
            revoked: Some(at(2024, 9, 1, 6)),
            repaired: None,
        };
        let pieces: Vec<_> = penalty
            .pieces()
            .into_iter()
            .map(|p| (p.span.start, p.span.end, p.attrs.fine_fen, p.positions, p.ended_by_change))
            .collect();
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(
            pieces,
            [
                (d(2024, 1, 10), Some(d(2024, 6, 1)), 200, vec![1, 3], Some(4)),
                (d(2024, 6, 1), Some(d(2024, 9, 1)), 300, vec![1, 3, 4, 5], None),
            ]
        );
        assert_eq!(penalty.current().fine_fen, 300);
    }
}
