//! Builders of entity streams and a runner of table-driven scenarios, shared by the test
//! binaries of this crate (each uses a different part, hence the `dead_code` allowance).
#![allow(dead_code)]

pub mod histories;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ledger_core::event::{ProposedEvent, Seal};
use ledger_core::events::{
    AbnormalGround, AbnormalListEntered, AbnormalListRemoved, AbnormalRemovalReason, Authority,
    CaseCategory, CreditRepaired, DecisionRef, DomainEvent, EntityKind, EntityRegistered,
    LegalBasis, LicenceRevoked, ObjectionRaised, ObjectorRole, PenaltyChanged, PenaltyChanges,
    PenaltyDecided, PenaltyKind, PenaltyProcedure, PenaltyRevoked, PersonRef, PersonRole,
    RecordKind, RepairCondition, SeriousGround, SeriousListEntered, SeriousListRemoved,
    SeriousRemovalKind,
};
use ledger_core::{CheckOverride, CreditCode, Hash32, RecordedEvent, StreamName};
use ledger_rules::{fold, intervals, validate, Catalogue, CreditStatus, Rule};
use uuid::Uuid;

/// The calendar date `y-m-d`.
pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// 09:00 China Standard Time on `date`, as the effective time of an event.
pub fn morning(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(1, 0, 0).unwrap())
}

/// A valid credit code of a Tianshui enterprise.
pub fn entity_code() -> CreditCode {
    CreditCode::complete("91620502MA7B8C9D").unwrap()
}

/// An entity's stream under construction, sealed the way the ledger seals events.
#[derive(Debug, Clone)]
pub struct Stream {
    pub name: StreamName,
    pub events: Vec<RecordedEvent>,
    next_position: u64,
}

impl Stream {
    /// An empty stream of [`entity_code`].
    pub fn new() -> Self {
        Self { name: StreamName::entity(&entity_code()), events: Vec::new(), next_position: 0 }
    }

    /// An empty stream of another name (for example the catalogue stream).
    pub fn named(name: StreamName) -> Self {
        Self { name, events: Vec::new(), next_position: 0 }
    }

    /// Seals `event`, effective on `date`, at the next position; returns the position.
    pub fn push(&mut self, date: NaiveDate, event: &DomainEvent) -> u64 {
        self.push_at(morning(date), event)
    }

    /// Seals `event` with an exact effective time.
    pub fn push_at(&mut self, effective_at: DateTime<Utc>, event: &DomainEvent) -> u64 {
        let id = Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(self.next_position),
        );
        let proposal = ProposedEvent::new(
            id,
            event.event_type(),
            event.schema_version(),
            effective_at,
            &event.to_payload(),
        )
        .unwrap();
        self.seal(proposal)
    }

    /// Seals a proposal as it is.
    pub fn seal(&mut self, proposal: ProposedEvent) -> u64 {
        let position = self.next_position;
        let prev_hash = self.events.last().map_or(Hash32::ZERO, |e| e.hash);
        let recorded_at = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
            + chrono::TimeDelta::seconds(position as i64);
        let event = RecordedEvent::seal(
            proposal,
            Seal {
                position,
                stream: &self.name,
                stream_version: self.events.len() as u64 + 1,
                recorded_at,
                recorded_by: "test-recorder",
                prev_hash,
            },
        );
        self.events.push(event);
        self.next_position += 1;
        position
    }
}

fn authority() -> Authority {
    Authority { name: "天水市市场监督管理局".into(), code: None }
}

fn basis(article: &str) -> Vec<LegalBasis> {
    vec![LegalBasis {
        document: "《测试依据》".into(),
        article: article.into(),
        version: "2021-07-30".into(),
    }]
}

/// The registration of `code`, with an override when one is given.
pub fn registered_code(code: CreditCode, check_override: Option<CheckOverride>) -> DomainEvent {
    DomainEvent::EntityRegisteredV1(EntityRegistered {
        credit_code: code,
        check_override,
        name: "天水市麦积区陇上食品有限公司".into(),
        entity_kind: EntityKind::LimitedLiabilityCompany,
        registered_address: "甘肃省天水市麦积区商埠路12号".into(),
        division: "620503".into(),
        registration_authority: authority(),
        establishment_date: d(2012, 3, 18),
        business_scope: "食品销售".into(),
        registered_capital_fen: Some(50_000_000),
        legal_representative: PersonRef {
            commitment: Hash32([7; 32]),
            commitment_id: Uuid::from_u128(1),
            role: PersonRole::LegalRepresentative,
        },
    })
}

/// The registration of [`entity_code`].
pub fn registered() -> DomainEvent {
    registered_code(entity_code(), None)
}

pub fn abnormal_entered(ground: AbnormalGround, number: &str) -> DomainEvent {
    DomainEvent::AbnormalListEnteredV1(AbnormalListEntered {
        ground,
        decision_number: number.into(),
        authority: authority(),
        decision_date: d(2000, 1, 1),
        legal_basis: basis("第四条"),
    })
}

pub fn abnormal_removed(reason: AbnormalRemovalReason, entry: &str) -> DomainEvent {
    DomainEvent::AbnormalListRemovedV1(AbnormalListRemoved {
        reason,
        entry_decision_number: entry.into(),
        decision_number: format!("{entry}-移出"),
        authority: authority(),
        decision_date: d(2000, 1, 1),
        legal_basis: basis("第十一条"),
    })
}

pub fn serious_entered(
    ground: SeriousGround,
    penalties: &[&str],
    number: &str,
    restriction_until: Option<NaiveDate>,
) -> DomainEvent {
    DomainEvent::SeriousListEnteredV1(SeriousListEntered {
        ground,
        penalty_decision_numbers: penalties.iter().map(|p| (*p).to_owned()).collect(),
        decision_number: number.into(),
        authority: authority(),
        decision_date: d(2000, 1, 1),
        legal_basis: basis("第九条"),
        restriction_until,
    })
}

pub fn serious_removed(kind: SeriousRemovalKind, entry: &str) -> DomainEvent {
    DomainEvent::SeriousListRemovedV1(SeriousListRemoved {
        kind,
        reason: "依申请".into(),
        entry_decision_number: entry.into(),
        decision_number: format!("{entry}-移出"),
        authority: authority(),
        decision_date: d(2000, 1, 1),
        legal_basis: basis("第十六条"),
    })
}

/// A penalty under the ordinary procedure.
pub fn penalty(
    number: &str,
    category: CaseCategory,
    kinds: &[PenaltyKind],
    fine_fen: i64,
) -> PenaltyDecided {
    PenaltyDecided {
        decision_number: number.into(),
        authority: authority(),
        decision_date: d(2000, 1, 1),
        case_category: category,
        penalty_kinds: kinds.to_vec(),
        fine_fen,
        confiscated_fen: 0,
        procedure: PenaltyProcedure::Ordinary,
        violation_facts: "销售不符合食品安全标准的食品".into(),
        violated_provisions: basis("第三十四条"),
        penalty_provisions: basis("第一百二十四条"),
        aggravated: false,
        restriction_period_days: None,
    }
}

pub fn decided(penalty: PenaltyDecided) -> DomainEvent {
    DomainEvent::PenaltyDecidedV1(penalty)
}

/// A penalty of `fine_fen` with a fine only.
pub fn fined(number: &str, category: CaseCategory, fine_fen: i64) -> DomainEvent {
    decided(penalty(number, category, &[PenaltyKind::Fine], fine_fen))
}

pub fn changed(number: &str, changes: PenaltyChanges) -> DomainEvent {
    DomainEvent::PenaltyChangedV1(PenaltyChanged {
        penalty_decision_number: number.into(),
        decision_number: format!("{number}-复议"),
        changed_by: authority(),
        decision_date: d(2000, 1, 1),
        reason: ledger_core::events::AmendmentReason::AdministrativeReview,
        description: "变更处罚种类".into(),
        changes,
    })
}

pub fn revoked(number: &str) -> DomainEvent {
    DomainEvent::PenaltyRevokedV1(PenaltyRevoked {
        penalty_decision_number: number.into(),
        decision_number: format!("{number}-撤销"),
        revoked_by: authority(),
        reason: ledger_core::events::AmendmentReason::CourtJudgment,
        decision_date: d(2000, 1, 1),
    })
}

/// Every condition of credit repair.
pub const ALL_CONDITIONS: [RepairCondition; 4] = [
    RepairCondition::PenaltyPerformed,
    RepairCondition::HarmRemoved,
    RepairCondition::NoRepeat,
    RepairCondition::NotOnLists,
];

pub fn repaired_with(number: &str, conditions: &[RepairCondition]) -> DomainEvent {
    DomainEvent::CreditRepairedV1(CreditRepaired {
        penalty_decision_number: number.into(),
        application_date: d(2000, 1, 1),
        decision_number: format!("{number}-修复"),
        authority: authority(),
        decision_date: d(2000, 1, 1),
        conditions_met: conditions.to_vec(),
    })
}

pub fn repaired(number: &str) -> DomainEvent {
    repaired_with(number, &ALL_CONDITIONS)
}

pub fn licence_revoked(number: &str) -> DomainEvent {
    DomainEvent::LicenceRevokedV1(LicenceRevoked {
        decision_number: number.into(),
        authority: authority(),
        legal_basis: basis("第一百三十五条"),
        decision_date: d(2000, 1, 1),
    })
}

pub fn objection(kind: RecordKind, number: &str) -> DomainEvent {
    DomainEvent::ObjectionRaisedV1(ObjectionRaised {
        about: DecisionRef { kind, decision_number: number.into() },
        raised_by: ObjectorRole::Entity,
        objection_date: d(2000, 1, 1),
        grounds: "已按期报送年度报告".into(),
    })
}

/// What validation should say about a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected(Rule),
}

/// One fact of a scenario, effective on `date`.
#[derive(Debug, Clone)]
pub struct Step {
    pub date: NaiveDate,
    pub event: DomainEvent,
    pub outcome: Outcome,
}

pub fn accept(date: NaiveDate, event: DomainEvent) -> Step {
    Step { date, event, outcome: Outcome::Accepted }
}

pub fn reject(date: NaiveDate, event: DomainEvent, rule: Rule) -> Step {
    Step { date, event, outcome: Outcome::Rejected(rule) }
}

/// The expected status on one date: list stays and publications as (decision number, end),
/// and the ids of the measures in force, each sorted.
#[derive(Debug, Clone)]
pub struct Expect {
    pub on: NaiveDate,
    pub lists: Vec<(&'static str, Option<NaiveDate>)>,
    pub penalties: Vec<(&'static str, Option<NaiveDate>)>,
    pub measures: Vec<&'static str>,
}

/// A table row: facts in, statuses out.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub steps: Vec<Step>,
    pub expect: Vec<Expect>,
}

/// Registers the entity on 2010-01-01, then validates each step against what was accepted
/// before it, records the accepted ones and checks every expected status; also checks on each
/// expected date that the fold equals the restriction intervals that contain the date.
pub fn run(scenario: &Scenario, catalogue: &Catalogue) -> Stream {
    let mut stream = Stream::new();
    stream.push(d(2010, 1, 1), &registered());
    for (i, step) in scenario.steps.iter().enumerate() {
        let verdict = validate(&stream.events, catalogue, &step.event, step.date);
        let outcome = match &verdict {
            Ok(()) => Outcome::Accepted,
            Err(violation) => Outcome::Rejected(violation.rule),
        };
        assert_eq!(
            outcome,
            step.outcome,
            "{}: step {i} ({}): {verdict:?}",
            scenario.name,
            step.event.event_type()
        );
        if outcome == Outcome::Accepted {
            stream.push(step.date, &step.event);
        }
    }
    for expect in &scenario.expect {
        let status = fold(&stream.events, catalogue, expect.on, None);
        let wanted = Summary {
            lists: owned(&expect.lists),
            penalties: owned(&expect.penalties),
            measures: sorted(expect.measures.iter().map(|m| (*m).to_owned()).collect()),
        };
        assert_eq!(summary(&status), wanted, "{}: status on {}", scenario.name, expect.on);
        let from_intervals: Vec<_> = intervals(&stream.events, catalogue, None)
            .into_iter()
            .filter(|r| r.contains(expect.on))
            .collect();
        assert_eq!(status.restrictions, from_intervals, "{}: on {}", scenario.name, expect.on);
    }
    stream
}

/// What [`Expect`] compares of a status.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub lists: Vec<(String, Option<NaiveDate>)>,
    pub penalties: Vec<(String, Option<NaiveDate>)>,
    pub measures: Vec<String>,
}

fn owned(rows: &[(&str, Option<NaiveDate>)]) -> Vec<(String, Option<NaiveDate>)> {
    let mut rows: Vec<_> = rows.iter().map(|(n, end)| ((*n).to_owned(), *end)).collect();
    rows.sort();
    rows
}

/// A status reduced to what [`Expect`] compares.
pub fn summary(status: &CreditStatus) -> Summary {
    let lists: Vec<_> = status.lists.iter().map(|l| (l.decision_number.as_str(), l.end)).collect();
    let penalties: Vec<_> =
        status.penalties.iter().map(|p| (p.decision_number.as_str(), p.end)).collect();
    Summary {
        lists: owned(&lists),
        penalties: owned(&penalties),
        measures: sorted(status.restrictions.iter().map(|r| r.measure_id.clone()).collect()),
    }
}

fn sorted(mut measures: Vec<String>) -> Vec<String> {
    measures.sort_unstable();
    measures.dedup();
    measures
}
