//! Generated histories: recorder actions drawn by proptest, turned into the events of one
//! entity that validation accepts (shared by the fold's properties and the projections').

use chrono::{NaiveDate, TimeDelta};
use ledger_core::events::{
    AbnormalGround, AbnormalRemovalReason, CaseCategory, DomainEvent, PenaltyChanges,
    PenaltyDecided, PenaltyKind, PenaltyProcedure, RecordKind, SeriousGround, SeriousRemovalKind,
};
use ledger_rules::{validate, Catalogue};
use proptest::prelude::*;

use super::*;

pub const GROUNDS: [AbnormalGround; 5] = [
    AbnormalGround::AnnualReportNotFiled,
    AbnormalGround::DisclosureOrderNotMet,
    AbnormalGround::FalseDisclosure,
    AbnormalGround::UnreachableAtAddress,
    AbnormalGround::NameChangeNotMade,
];
pub const REASONS: [AbnormalRemovalReason; 11] = [
    AbnormalRemovalReason::AnnualReportFiled,
    AbnormalRemovalReason::InformationDisclosed,
    AbnormalRemovalReason::InformationCorrected,
    AbnormalRemovalReason::AddressChanged,
    AbnormalRemovalReason::ReachableAgain,
    AbnormalRemovalReason::NameChanged,
    AbnormalRemovalReason::TermExpired,
    AbnormalRemovalReason::EntityDeregistered,
    AbnormalRemovalReason::LicenceRevoked,
    AbnormalRemovalReason::ObjectionUpheld,
    AbnormalRemovalReason::Other,
];
pub const SERIOUS: [SeriousGround; 9] = [
    SeriousGround::AbnormalListThreeYears,
    SeriousGround::FraudulentRegistration,
    SeriousGround::RepeatedUnfairCompetition,
    SeriousGround::Other2016,
    SeriousGround::FoodSafety,
    SeriousGround::Competition,
    SeriousGround::RefusedDecision,
    SeriousGround::ProductQuality,
    SeriousGround::Other2021,
];
pub const REMOVALS: [SeriousRemovalKind; 3] =
    [SeriousRemovalKind::Expiry, SeriousRemovalKind::EarlyRemoval, SeriousRemovalKind::Revocation];
pub const CATEGORIES: [CaseCategory; 5] = [
    CaseCategory::Food,
    CaseCategory::Drug,
    CaseCategory::SpecialEquipment,
    CaseCategory::Competition,
    CaseCategory::Other,
];
pub const KINDS: [PenaltyKind; 8] = [
    PenaltyKind::Warning,
    PenaltyKind::PublicCriticism,
    PenaltyKind::Fine,
    PenaltyKind::LicenceRevocation,
    PenaltyKind::StopBusinessOrder,
    PenaltyKind::OccupationalBan,
    PenaltyKind::LicenceSuspension,
    PenaltyKind::BusinessRestriction,
];
pub const FINES_FEN: [i64; 4] = [0, 100_000, 300_001, 5_000_000];
pub const NUMBERS: [&str; 4] = ["N0", "N1", "N2", "N3"];

pub fn kinds(mask: u8) -> Vec<PenaltyKind> {
    let kinds: Vec<_> =
        KINDS.iter().enumerate().filter(|(i, _)| mask >> i & 1 == 1).map(|(_, k)| *k).collect();
    if kinds.is_empty() {
        vec![PenaltyKind::Fine]
    } else {
        kinds
    }
}

/// One recorder action; indices pick among the enumerations and earlier records.
#[derive(Debug, Clone)]
pub enum Action {
    AbnormalEntry(u8),
    AbnormalRemoval(u8, u8),
    Penalty { category: u8, kinds: u8, fine: u8, aggravated: bool, restriction: Option<u16> },
    Change(u8, u8, u8),
    Revoke(u8),
    Repair(u8),
    SeriousEntry(u8, u8),
    SeriousRemoval(u8, u8),
    Licence,
    Objection(u8),
}

pub fn penalty_action() -> impl Strategy<Value = Action> {
    let restriction = proptest::option::of(0u16..2000);
    (any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>(), restriction).prop_map(
        |(category, kinds, fine, aggravated, restriction)| Action::Penalty {
            category,
            kinds,
            fine,
            aggravated,
            restriction,
        },
    )
}

pub fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => any::<u8>().prop_map(Action::AbnormalEntry),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(p, r)| Action::AbnormalRemoval(p, r)),
        4 => penalty_action(),
        1 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(p, k, f)| Action::Change(p, k, f)),
        1 => any::<u8>().prop_map(Action::Revoke),
        4 => any::<u8>().prop_map(Action::Repair),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(g, p)| Action::SeriousEntry(g, p)),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(p, k)| Action::SeriousRemoval(p, k)),
        1 => Just(Action::Licence),
        2 => any::<u8>().prop_map(Action::Objection),
    ]
}

pub fn pick<T: Clone>(items: &[T], index: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[usize::from(index) % items.len()].clone())
}

/// Builds a stream from actions, keeping only the events validation accepts.
pub fn valid_stream(actions: &[(i16, Action)], catalogue: &Catalogue) -> Stream {
    valid_history(Stream::new(), registered(), actions, catalogue).0
}

/// [`valid_stream`] for a stream of one's own (`start` holds no event yet) opened by
/// `registration`, with the accepted events and their effective dates, to append elsewhere.
pub fn valid_history(
    start: Stream,
    registration: DomainEvent,
    actions: &[(i16, Action)],
    catalogue: &Catalogue,
) -> (Stream, Vec<(NaiveDate, DomainEvent)>) {
    let mut stream = start;
    let mut accepted = vec![(d(2014, 6, 1), registration.clone())];
    stream.push(d(2014, 6, 1), &registration);
    let (mut abnormal, mut serious, mut penalties) = (Vec::new(), Vec::new(), Vec::new());
    let mut date = d(2014, 10, 1);
    for (i, (gap, action)) in actions.iter().enumerate() {
        date = (date + TimeDelta::days(i64::from(*gap))).max(d(2014, 10, 1));
        let number = format!("D{i}");
        let event = match action {
            Action::AbnormalEntry(g) => {
                Some(abnormal_entered(GROUNDS[usize::from(*g) % 5], &number))
            }
            Action::AbnormalRemoval(p, r) => pick(&abnormal, *p)
                .map(|entry: String| abnormal_removed(REASONS[usize::from(*r) % 11], &entry)),
            Action::Penalty { category, kinds: mask, fine, aggravated, restriction } => {
                let base = penalty(
                    &number,
                    CATEGORIES[usize::from(*category) % 5],
                    &kinds(*mask),
                    FINES_FEN[usize::from(*fine) % 4],
                );
                Some(decided(PenaltyDecided {
                    aggravated: *aggravated,
                    restriction_period_days: restriction.map(u32::from),
                    procedure: if mask & 0x80 != 0 {
                        PenaltyProcedure::Simplified
                    } else {
                        PenaltyProcedure::Ordinary
                    },
                    ..base
                }))
            }
            Action::Change(p, mask, fine) => pick(&penalties, *p).map(|n: String| {
                let changes = PenaltyChanges {
                    penalty_kinds: Some(kinds(*mask)),
                    fine_fen: Some(FINES_FEN[usize::from(*fine) % 4]),
                    ..Default::default()
                };
                changed(&n, changes)
            }),
            Action::Revoke(p) => pick(&penalties, *p).map(|n| revoked(&n)),
            Action::Repair(p) => pick(&penalties, *p).map(|n| repaired(&n)),
            Action::SeriousEntry(g, p) => {
                let referenced: Vec<String> = pick(&penalties, *p).into_iter().collect();
                let referenced: Vec<&str> = referenced.iter().map(String::as_str).collect();
                Some(serious_entered(SERIOUS[usize::from(*g) % 9], &referenced, &number, None))
            }
            Action::SeriousRemoval(p, k) => pick(&serious, *p)
                .map(|entry: String| serious_removed(REMOVALS[usize::from(*k) % 3], &entry)),
            Action::Licence => Some(licence_revoked(&number)),
            Action::Objection(p) => {
                pick(&abnormal, *p).map(|n| objection(RecordKind::AbnormalEntry, &n))
            }
        };
        let Some(event) = event else { continue };
        if validate(&stream.events, catalogue, &event, date).is_ok() {
            match &event {
                DomainEvent::AbnormalListEnteredV1(_) => abnormal.push(number),
                DomainEvent::SeriousListEnteredV1(_) => serious.push(number),
                DomainEvent::PenaltyDecidedV1(_) => penalties.push(number),
                _ => {}
            }
            stream.push(date, &event);
            accepted.push((date, event));
        }
    }
    (stream, accepted)
}

pub fn history_strategy() -> impl Strategy<Value = Vec<(i16, Action)>> {
    proptest::collection::vec((-40i16..420, action()), 0..40)
}
