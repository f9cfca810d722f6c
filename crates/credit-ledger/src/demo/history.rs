//! One demo entity and its history: registration, online presence, annual-report lapses, spot
//! checks, penalties with their changes, revocations and repairs, and both lists.
//!
//! The history is made in two passes:
//!
//! 1. propose: draw the entity's facts year by year (2019-2026) from its own seeded generator,
//!    each follow-up (a removal, a repair, a serious-list entry after an aggravated penalty)
//!    dated after what it follows, with the waiting times of `domain.md`;
//! 2. keep what the rules accept: sort the proposals by date and pass each through
//!    `ledger_rules::validate` against the history kept so far; a refused proposal is dropped,
//!    and so, by the same check, is everything that depended on it. The generator can be
//!    naive about edge cases (an early removal blocked by a new heavy penalty, a repair while
//!    listed) because only valid histories come out.

use chrono::{DateTime, Datelike as _, Days, Months, NaiveDate, TimeZone as _, Utc};
use ledger_core::event::{ProposedEvent, Seal};
use ledger_core::events::{
    AbnormalGround, AbnormalListEntered, AbnormalListRemoved, AbnormalRemovalReason,
    AmendmentReason, CaseCategory, CreditRepaired, DecisionRef, DeregistrationReason, DomainEvent,
    EntityChanges, EntityDeregistered, EntityDetailsChanged, EntityKind, EntityRegistered,
    IdDocumentKind, LicenceRevoked, ObjectionDecided, ObjectionOutcome, ObjectionRaised,
    ObjectorRole, OnlineShopClosed, OnlineShopOpened, PenaltyChanged, PenaltyChanges,
    PenaltyDecided, PenaltyKind, PenaltyProcedure, PenaltyRevoked, PersonRole, PersonalData,
    RecordKind, RepairCondition, SeriousGround, SeriousListEntered, SeriousListRemoved,
    SeriousRemovalKind, SpotCheckRecorded, SpotCheckResult, WebsiteRegistered,
};
use ledger_core::{CreditCode, Hash32, RecordedEvent, StreamName};
use ledger_rules::Catalogue;
use uuid::Uuid;

use super::city::{self, Division, Trade, CITY_BUREAU, DIVISIONS, PLATFORMS, TRADES};
use super::rng::Rng;
use crate::ndjson::PersonalLine;

/// The first year of records (registrations may be older).
pub const FIRST_YEAR: i32 = 2019;

/// The last day of the demo's records, fixed so that the data does not depend on the clock.
pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or(NaiveDate::MIN)
}

/// Who records the demo data.
pub const DEMO_RECORDER: &str = "demo-loader";

/// A stream salt for entity generators, so that other streams of the same seed differ.
const ENTITY_SALT: u64 = 0x656e_7469_7479;

/// 31^5: the organisation codes drawn from an entity's index are unique below this.
const CODE_SPACE: u64 = 28_629_151;

/// One entity of the demo.
#[derive(Debug, Clone)]
pub struct Entity {
    /// Its index in the demo (0, 1, ...); the first few are the e-commerce platforms.
    pub index: u64,
    /// Its credit code.
    pub code: CreditCode,
    /// 91, 92 or 93.
    pub type_code: u8,
    /// Where it is registered.
    pub division: Division,
    /// Its trade.
    pub trade: Trade,
    /// Its registered name.
    pub name: String,
    /// Its establishment date.
    pub established: NaiveDate,
}

/// The kept history of one entity: what the demo appends to its stream.
#[derive(Debug, Clone)]
pub struct EntityHistory {
    /// The entity.
    pub entity: Entity,
    /// Its stream.
    pub stream: StreamName,
    /// Its events, in order.
    pub events: Vec<ProposedEvent>,
    /// The personal data behind each event's commitments, by event.
    pub personal: Vec<Vec<PersonalLine>>,
    /// Proposals the rules refused, dropped.
    pub refused: usize,
}

/// The code of entity `index`: a scrambled, unique organisation code in its division.
fn credit_code(
    seed: u64,
    index: u64,
    type_code: u8,
    division: &Division,
    rng: &mut Rng,
) -> CreditCode {
    const ALPHABET: &[u8; 31] = ledger_core::code::ALPHABET;
    // x -> (x * m + c) mod 31^5 is a bijection because m is not a multiple of 31.
    let mut x = (index % CODE_SPACE * 7_368_787 + seed % CODE_SPACE) % CODE_SPACE;
    let mut body = String::from("M");
    for _ in 0..5 {
        body.push(char::from(ALPHABET[(x % 31) as usize]));
        x /= 31;
    }
    for _ in 0..2 {
        body.push(char::from(*rng.pick(ALPHABET)));
    }
    let prefix = format!("9{}{}{}", type_code % 10, division.code, body);
    // The prefix is built from the alphabet and a digit-only division, so it always completes.
    CreditCode::complete(&prefix).unwrap_or_else(|e| panic!("demo code {prefix}: {e}"))
}

/// Draws entity `index` of the demo for `seed`.
pub fn entity(seed: u64, index: u64) -> Entity {
    let mut rng = Rng::derive(seed, ENTITY_SALT, index);
    let platform = index < PLATFORMS.len() as u64;
    let type_code = if platform { 91 } else { *rng.weighted(&[(55, 91u8), (35, 92), (10, 93)]) };
    let division =
        if platform { DIVISIONS[index as usize % 2].1 } else { *rng.weighted(DIVISIONS) };
    let trade = if platform { TRADES[5].1 } else { *rng.weighted(TRADES) };
    let code = credit_code(seed, index, type_code, &division, &mut rng);
    let name = if platform {
        PLATFORMS[index as usize].0.to_owned()
    } else {
        city::entity_name(&mut rng, type_code, &division, &trade)
    };
    let year = *rng.weighted(&[(15, 2008), (20, 2013), (25, 2017), (25, 2020), (15, 2023)]);
    let established =
        date(year + rng.below(3) as i32, rng.range(1, 12) as u32, rng.range(1, 28) as u32);
    Entity { index, code, type_code, division, trade, name, established }
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
}

fn plus_days(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX)
}

fn plus_months(d: NaiveDate, months: u32) -> NaiveDate {
    d.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX)
}

/// A fact proposed for the history.
struct Proposal {
    date: NaiveDate,
    order: usize,
    event: DomainEvent,
    personal: Vec<PersonalLine>,
}

/// Pass 1 of the module docs: what the entity's history might hold.
struct Proposer<'a> {
    entity: &'a Entity,
    rng: Rng,
    catalogue: &'a Catalogue,
    proposals: Vec<Proposal>,
    numbers: u64,
    seed: u64,
}

impl Proposer<'_> {
    fn push(&mut self, date: NaiveDate, event: DomainEvent) {
        self.push_with(date, event, Vec::new());
    }

    fn push_with(&mut self, date: NaiveDate, event: DomainEvent, personal: Vec<PersonalLine>) {
        let order = self.proposals.len();
        self.proposals.push(Proposal { date, order, event, personal });
    }

    fn bureau(&self) -> city::Division {
        self.entity.division
    }

    /// A document number: `天<county>市监<kind>〔<year>〕<n>号`, unique within the entity.
    fn number(&mut self, kind: &str, year: i32, city_level: bool) -> String {
        self.numbers += 1;
        let n = self.rng.range(1, 900) * 10 + self.numbers % 10;
        let office = if city_level { String::new() } else { self.bureau().abbreviation.to_owned() };
        format!("天{office}市监{kind}〔{year}〕{n}号")
    }

    fn local_authority(&self) -> ledger_core::events::Authority {
        city::authority(self.entity.division.bureau)
    }

    fn random_day(&mut self, year: i32, from_month: u32, to_month: u32) -> NaiveDate {
        date(
            year,
            self.rng.range(u64::from(from_month), u64::from(to_month)) as u32,
            self.rng.range(1, 28) as u32,
        )
    }

    fn registration(&mut self) {
        let entity = self.entity;
        let mut rng = self.rng.clone();
        let born =
            date(rng.range(1960, 1998) as i32, rng.range(1, 12) as u32, rng.range(1, 28) as u32);
        let person = PersonalData {
            name: city::person_name(&mut rng, &entity.division),
            id_kind: IdDocumentKind::ResidentIdentityCard,
            id_number: city::id_number(&mut rng, &entity.division, born),
        };
        let salt = rng.bytes32();
        let commitment_id = uuid_v7(entity.established, &mut rng);
        let kind = city::entity_kind(&mut rng, entity.type_code);
        let role = match (entity.type_code, kind) {
            (92, _) => PersonRole::Operator,
            (_, EntityKind::Branch | EntityKind::SoleProprietorship) => PersonRole::PersonInCharge,
            (_, EntityKind::Partnership) => PersonRole::ManagingPartner,
            _ => PersonRole::LegalRepresentative,
        };
        let capital = match entity.type_code {
            92 => None,
            93 => Some(rng.range(10, 500) as i64 * 10_000 * 100),
            _ => Some(rng.range(10, 5_000) as i64 * 10_000 * 100),
        };
        self.rng = rng;
        let event = EntityRegistered {
            credit_code: entity.code,
            check_override: None,
            name: entity.name.clone(),
            entity_kind: kind,
            registered_address: city::address(&mut self.rng, &entity.division),
            division: entity.division.code.to_owned(),
            registration_authority: self.local_authority(),
            establishment_date: entity.established,
            business_scope: if entity.type_code == 93 {
                "组织收购、销售成员种植养殖的产品；引进新技术、新品种".to_owned()
            } else {
                entity.trade.scope.to_owned()
            },
            registered_capital_fen: capital,
            legal_representative: person.person_ref(&salt, commitment_id, role),
        };
        let personal = vec![PersonalLine::of(commitment_id, salt, &person)];
        self.push_with(entity.established, DomainEvent::EntityRegisteredV1(event), personal);
    }

    fn online_presence(&mut self) {
        let entity = self.entity;
        let start = entity.established.max(date(FIRST_YEAR - 1, 6, 1));
        if let Some((_, url)) = PLATFORMS.get(entity.index as usize) {
            let icp = format!("陇ICP备{}号-1", 19_000_000 + entity.index * 7_919);
            let event = WebsiteRegistered {
                url: (*url).to_owned(),
                icp_filing_number: icp,
                registration_date: plus_days(start, 20),
            };
            self.push(plus_days(start, 20), DomainEvent::WebsiteRegisteredV1(event));
            return;
        }
        if entity.trade.online && self.rng.chance(0.35) {
            let platform_index = self.rng.below(PLATFORMS.len() as u64);
            let platform = entity_code_of_platform(self.seed(), platform_index);
            let opened = plus_days(start, self.rng.range(10, 900));
            let shop_id = format!("{}", 100_000 + self.rng.below(900_000));
            let shop_name = format!("{}官方店", entity.name.trim_end_matches("有限公司"));
            let event = OnlineShopOpened {
                platform_credit_code: platform,
                shop_name: shop_name.clone(),
                shop_id: shop_id.clone(),
                shop_url: Some(format!("{}/shop/{shop_id}", PLATFORMS[platform_index as usize].1)),
                opening_date: opened,
            };
            self.push(opened, DomainEvent::OnlineShopOpenedV1(event));
            if self.rng.chance(0.2) {
                let closed = plus_days(opened, self.rng.range(90, 1200));
                let event = OnlineShopClosed {
                    platform_credit_code: platform,
                    shop_name,
                    shop_id: shop_id.clone(),
                    shop_url: Some(format!(
                        "{}/shop/{shop_id}",
                        PLATFORMS[platform_index as usize].1
                    )),
                    closing_date: closed,
                };
                self.push(closed, DomainEvent::OnlineShopClosedV1(event));
            }
        }
        if entity.type_code == 91 && entity.trade.online && self.rng.chance(0.15) {
            let registered = plus_days(start, self.rng.range(30, 700));
            let host = format!("ts{}", entity.code.organisation_code().to_lowercase());
            let event = WebsiteRegistered {
                url: format!("https://www.{host}.cn"),
                icp_filing_number: format!("陇ICP备{}号-1", 20_000_000 + self.rng.below(9_000_000)),
                registration_date: registered,
            };
            self.push(registered, DomainEvent::WebsiteRegisteredV1(event));
        }
    }

    fn seed(&self) -> u64 {
        self.seed
    }
}

/// The credit code of platform `index` under `seed`.
pub fn entity_code_of_platform(seed: u64, index: u64) -> CreditCode {
    entity(seed, index).code
}

/// A UUIDv7 for a fact of `day`: time-ordered, with the random part from the entity's
/// generator, so that the demo's ids are the same on every run.
fn uuid_v7(day: NaiveDate, rng: &mut Rng) -> Uuid {
    let millis = day
        .and_hms_opt(1, 0, 0)
        .map(|t| t.and_utc().timestamp_millis().max(0) as u64)
        .unwrap_or_default()
        + rng.below(3_600_000);
    let mut random = [0u8; 10];
    random.copy_from_slice(&rng.bytes32()[..10]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// The instant a fact of `day` took effect: during office hours in China Standard Time.
fn effective_at(day: NaiveDate, order: usize) -> DateTime<Utc> {
    // 09:00 China Standard Time is 01:00 UTC; later facts of a day come later in it.
    let minutes = 60 + (order as u32 % 420);
    let time = day.and_hms_opt(minutes / 60, minutes % 60, 0).unwrap_or_default();
    Utc.from_utc_datetime(&time)
}

/// Pass 2 of the module docs: keeps the proposals the rules accept.
fn keep_valid(
    entity: Entity,
    mut proposals: Vec<Proposal>,
    catalogue: &Catalogue,
    rng: &mut Rng,
) -> EntityHistory {
    proposals.sort_by_key(|p| (p.date, p.order));
    let stream = StreamName::entity(&entity.code);
    let mut kept: Vec<RecordedEvent> = Vec::new();
    let mut history = EntityHistory {
        entity,
        stream: stream.clone(),
        events: Vec::new(),
        personal: Vec::new(),
        refused: 0,
    };
    let mut closed = false;
    let mut licence_gone = false;
    for proposal in proposals {
        if proposal.date > last_day() || closed {
            continue;
        }
        let follow_up = matches!(
            proposal.event,
            DomainEvent::EntityDeregisteredV1(_)
                | DomainEvent::AbnormalListRemovedV1(_)
                | DomainEvent::SeriousListRemovedV1(_)
                | DomainEvent::PenaltyChangedV1(_)
                | DomainEvent::PenaltyRevokedV1(_)
                | DomainEvent::ObjectionDecidedV1(_)
        );
        if licence_gone && !follow_up {
            continue;
        }
        if ledger_rules::validate(&kept, catalogue, &proposal.event, proposal.date).is_err() {
            history.refused += 1;
            continue;
        }
        let at = effective_at(proposal.date, history.events.len());
        let id = uuid_v7(proposal.date, rng);
        let event = &proposal.event;
        let Ok(proposed) = ProposedEvent::new(
            id,
            event.event_type(),
            event.schema_version(),
            at,
            &event.to_payload(),
        ) else {
            history.refused += 1;
            continue;
        };
        let prev_hash = kept.last().map_or(Hash32::ZERO, |e| e.hash);
        kept.push(RecordedEvent::seal(
            proposed.clone(),
            Seal {
                position: kept.len() as u64,
                stream: &stream,
                stream_version: kept.len() as u64 + 1,
                recorded_at: at,
                recorded_by: DEMO_RECORDER,
                prev_hash,
            },
        ));
        match event {
            DomainEvent::EntityDeregisteredV1(_) => closed = true,
            DomainEvent::LicenceRevokedV1(_) => licence_gone = true,
            _ => {}
        }
        history.events.push(proposed);
        history.personal.push(proposal.personal);
    }
    history
}

/// Makes entity `index` of the demo for `seed` with its history.
pub fn generate(seed: u64, index: u64, catalogue: &Catalogue) -> EntityHistory {
    let entity = entity(seed, index);
    let rng = Rng::derive(seed, ENTITY_SALT ^ 0xfac7, index);
    let mut proposer =
        Proposer { entity: &entity, rng, catalogue, proposals: Vec::new(), numbers: 0, seed };
    proposer.registration();
    proposer.online_presence();
    proposer.years();
    let Proposer { proposals, mut rng, .. } = proposer;
    keep_valid(entity.clone(), proposals, catalogue, &mut rng)
}

impl Proposer<'_> {
    /// The facts of 2019-2026, year by year.
    fn years(&mut self) {
        let first = FIRST_YEAR.max(self.entity.established.year());
        let ceases = self.cessation();
        for year in first..=last_day().year() {
            if ceases.is_some_and(|d| d.year() < year) {
                break;
            }
            if self.entity.established.year() < year {
                self.annual_report(year);
            }
            if self.rng.chance(0.012) {
                let day = self.random_day(year, 1, 12);
                self.unreachable(day);
            }
            if self.rng.chance(0.15) {
                self.spot_check(year);
            }
            let rate = if self.entity.trade.categories.contains(&CaseCategory::Food) {
                0.07
            } else {
                0.05
            };
            if self.rng.chance(rate) {
                let day = self.random_day(year, 1, 12);
                self.penalty(day);
            }
            if self.rng.chance(0.02) {
                let day = self.random_day(year, 1, 12);
                self.address_change(day);
            }
        }
        if let Some(day) = ceases {
            let reason = if self.entity.type_code == 92 {
                DeregistrationReason::BusinessCeased
            } else {
                DeregistrationReason::Dissolution
            };
            let event = EntityDeregistered {
                reason,
                authority: self.local_authority(),
                deregistration_date: day,
            };
            self.push(day, DomainEvent::EntityDeregisteredV1(event));
        }
    }

    /// When the entity stops trading, if it does within the demo's years.
    fn cessation(&mut self) -> Option<NaiveDate> {
        let rate = if self.entity.type_code == 92 { 0.1 } else { 0.05 };
        if self.entity.index < PLATFORMS.len() as u64 || !self.rng.chance(rate) {
            return None;
        }
        let year = self.rng.range(2020, 2026) as i32;
        Some(self.random_day(year, 1, 11).max(plus_days(self.entity.established, 400)))
    }

    /// The annual report of the previous year, due by 30 June: sometimes late, then listed.
    fn annual_report(&mut self, year: i32) {
        if !self.rng.chance(0.05) {
            return;
        }
        let entered = plus_days(date(year, 7, 1), self.rng.range(8, 16));
        let number = self.abnormal_entry(entered, AbnormalGround::AnnualReportNotFiled);
        if self.rng.chance(0.03) {
            self.objection(entered, &number);
            return;
        }
        if self.rng.chance(0.78) {
            let removed = plus_days(entered, self.rng.range(20, 700));
            self.abnormal_removal(removed, &number, AbnormalRemovalReason::AnnualReportFiled);
        } else {
            self.transfer(entered, &number);
        }
    }

    fn abnormal_entry(&mut self, day: NaiveDate, ground: AbnormalGround) -> String {
        let number = self.number("异列", day.year(), false);
        let legal_basis = self
            .catalogue
            .abnormal_ground(ground, day)
            .map(|r| r.legal_basis.clone())
            .unwrap_or_default();
        let event = AbnormalListEntered {
            ground,
            decision_number: number.clone(),
            authority: self.local_authority(),
            decision_date: day,
            legal_basis,
        };
        self.push(day, DomainEvent::AbnormalListEnteredV1(event));
        number
    }

    fn abnormal_removal(&mut self, day: NaiveDate, entry: &str, reason: AbnormalRemovalReason) {
        let general = &self.catalogue.abnormal_list.general_removal;
        let legal_basis = self
            .catalogue
            .abnormal_list
            .grounds
            .iter()
            .find(|r| r.removal_reasons.contains(&reason) && r.in_force.contains(day))
            .map(|r| r.removal_legal_basis.clone())
            .unwrap_or_else(|| general.legal_basis.clone());
        let event = AbnormalListRemoved {
            reason,
            entry_decision_number: entry.to_owned(),
            decision_number: self.number("异移", day.year(), false),
            authority: self.local_authority(),
            decision_date: day,
            legal_basis,
        };
        self.push(day, DomainEvent::AbnormalListRemovedV1(event));
    }

    /// An objection against an abnormal-list entry, decided two to three weeks later.
    fn objection(&mut self, entered: NaiveDate, number: &str) {
        let raised = plus_days(entered, self.rng.range(5, 25));
        let about =
            DecisionRef { kind: RecordKind::AbnormalEntry, decision_number: number.to_owned() };
        let event = ObjectionRaised {
            about: about.clone(),
            raised_by: ObjectorRole::Entity,
            objection_date: raised,
            grounds: "年度报告已按期报送，因系统故障未能公示".to_owned(),
        };
        self.push(raised, DomainEvent::ObjectionRaisedV1(event));
        let decided = plus_days(raised, self.rng.range(10, 20));
        let upheld = self.rng.chance(0.4);
        let event = ObjectionDecided {
            objection_event_id: None,
            about,
            outcome: if upheld { ObjectionOutcome::Upheld } else { ObjectionOutcome::Rejected },
            authority: self.local_authority(),
            decision_date: decided,
            decision_text: if upheld {
                "经核实，异议成立，予以移出".to_owned()
            } else {
                "经核实，异议不成立，维持列入决定".to_owned()
            },
        };
        self.push(decided, DomainEvent::ObjectionDecidedV1(event));
        if upheld {
            self.abnormal_removal(
                plus_days(decided, 1),
                number,
                AbnormalRemovalReason::ObjectionUpheld,
            );
        } else {
            let removed = plus_days(decided, self.rng.range(30, 400));
            self.abnormal_removal(removed, number, AbnormalRemovalReason::AnnualReportFiled);
        }
    }

    /// Three years on the abnormal list moved an entity to the serious list until 2025.
    fn transfer(&mut self, entered: NaiveDate, _entry: &str) {
        let due = plus_months(entered, 36);
        let day = plus_days(due, self.rng.range(61, 90));
        let Some(rule) = self.catalogue.serious(day) else { return };
        let number = self.number("严列", day.year(), true);
        let event = SeriousListEntered {
            ground: SeriousGround::AbnormalListThreeYears,
            penalty_decision_numbers: Vec::new(),
            decision_number: number.clone(),
            authority: city::authority(CITY_BUREAU),
            decision_date: day,
            legal_basis: rule.legal_basis.clone(),
            restriction_until: None,
        };
        self.push(day, DomainEvent::SeriousListEnteredV1(event));
        let term = rule.term_months;
        let removal_basis = rule.removal_legal_basis.clone();
        let early = rule.early_removal_min_months;
        self.serious_end(day, &number, term, early, removal_basis);
    }

    /// The end of a serious-list stay: early removal where the rules allow it, else expiry.
    fn serious_end(
        &mut self,
        entered: NaiveDate,
        number: &str,
        term_months: u32,
        early_min_months: Option<u32>,
        legal_basis: Vec<ledger_core::events::LegalBasis>,
    ) {
        let (kind, day, reason) = match early_min_months {
            Some(min) if self.rng.chance(0.45) => (
                SeriousRemovalKind::EarlyRemoval,
                plus_days(plus_months(entered, min), self.rng.range(10, 300)),
                "已履行行政处罚决定，信用修复申请经审核通过，提前移出",
            ),
            _ => (
                SeriousRemovalKind::Expiry,
                plus_days(plus_months(entered, term_months), self.rng.range(1, 20)),
                "列入期限届满，未再发生应当列入的违法行为",
            ),
        };
        let event = SeriousListRemoved {
            kind,
            reason: reason.to_owned(),
            entry_decision_number: number.to_owned(),
            decision_number: self.number("严移", day.year(), true),
            authority: city::authority(CITY_BUREAU),
            decision_date: day,
            legal_basis,
        };
        self.push(day, DomainEvent::SeriousListRemovedV1(event));
    }

    /// Unreachable at the registered address: listed, later reachable or moved.
    fn unreachable(&mut self, day: NaiveDate) {
        let number = self.abnormal_entry(day, AbnormalGround::UnreachableAtAddress);
        if !self.rng.chance(0.6) {
            return;
        }
        let removed = plus_days(day, self.rng.range(60, 600));
        if self.rng.chance(0.5) {
            self.address_change(plus_days(removed, 0));
            self.abnormal_removal(removed, &number, AbnormalRemovalReason::AddressChanged);
        } else {
            self.abnormal_removal(removed, &number, AbnormalRemovalReason::ReachableAgain);
        }
    }

    fn address_change(&mut self, day: NaiveDate) {
        let changes = EntityChanges {
            registered_address: Some(city::address(&mut self.rng, &self.entity.division)),
            ..EntityChanges::default()
        };
        let event =
            EntityDetailsChanged { authority: self.local_authority(), change_date: day, changes };
        self.push(day, DomainEvent::EntityDetailsChangedV1(event));
    }

    fn spot_check(&mut self, year: i32) {
        let day = self.random_day(year, 4, 11);
        let result = *self.rng.weighted(&[
            (80, SpotCheckResult::Compliant),
            (11, SpotCheckResult::IssuesFoundCorrected),
            (5, SpotCheckResult::IssuesFoundCaseOpened),
            (4, SpotCheckResult::NotFoundAtAddress),
        ]);
        let event = SpotCheckRecorded {
            plan_id: format!("TS-SJ-{year}-{:02}", self.rng.range(1, 6)),
            selection_batch: format!("{}-{:03}", self.entity.division.code, self.rng.range(1, 40)),
            check_date: day,
            result,
            items_checked: vec![
                "年度报告公示信息".to_owned(),
                "登记事项".to_owned(),
                "经营场所".to_owned(),
            ],
            authority: self.local_authority(),
        };
        self.push(day, DomainEvent::SpotCheckRecordedV1(event));
        match result {
            SpotCheckResult::NotFoundAtAddress => {
                let listed = plus_days(day, self.rng.range(20, 40));
                self.unreachable(listed);
            }
            SpotCheckResult::IssuesFoundCaseOpened => {
                let decided = plus_days(day, self.rng.range(30, 90));
                self.penalty(decided);
            }
            _ => {}
        }
    }

    /// A penalty decision and what may follow it.
    fn penalty(&mut self, day: NaiveDate) {
        let category = *self.rng.pick(self.entity.trade.categories);
        let simplified = self.rng.chance(0.1);
        let kinds: Vec<PenaltyKind> = if simplified {
            if self.rng.chance(0.5) {
                vec![PenaltyKind::Warning]
            } else {
                vec![PenaltyKind::Warning, PenaltyKind::Fine]
            }
        } else {
            let revocable = self.entity.type_code != 93;
            let choices: Vec<(u32, Vec<PenaltyKind>)> = vec![
                (45, vec![PenaltyKind::Fine]),
                (15, vec![PenaltyKind::Warning, PenaltyKind::Fine]),
                (20, vec![PenaltyKind::Fine, PenaltyKind::ConfiscationOfIllegalGains]),
                (10, vec![PenaltyKind::Fine, PenaltyKind::ConfiscationOfGoods]),
                (2, vec![PenaltyKind::PublicCriticism]),
                (4, vec![PenaltyKind::Fine, PenaltyKind::StopBusinessOrder]),
                (
                    if revocable { 3 } else { 0 },
                    vec![PenaltyKind::Fine, PenaltyKind::LicenceRevocation],
                ),
            ];
            self.rng.weighted(&choices).clone()
        };
        let fine_fen = if !kinds.contains(&PenaltyKind::Fine) {
            0
        } else if simplified {
            self.rng.range(50, 200) as i64 * 100
        } else {
            let yuan = *self.rng.weighted(&[
                (50, (500, 3_000)),
                (40, (5_000, 50_000)),
                (10, (50_000, 500_000)),
            ]);
            self.rng.range(yuan.0, yuan.1) as i64 / 100 * 100 * 100
        };
        let confiscated_fen = if kinds.iter().any(|k| {
            matches!(k, PenaltyKind::ConfiscationOfIllegalGains | PenaltyKind::ConfiscationOfGoods)
        }) {
            self.rng.range(200, 80_000) as i64 * 100
        } else {
            0
        };
        let aggravated = !simplified && fine_fen >= 1_000_000 && self.rng.chance(0.35);
        let city_level = aggravated || self.rng.chance(0.1);
        let number = self.number("罚", day.year(), city_level);
        let authority =
            if city_level { city::authority(CITY_BUREAU) } else { self.local_authority() };
        let (violated, imposed) = city::penalty_provisions(category);
        let event = PenaltyDecided {
            decision_number: number.clone(),
            authority: authority.clone(),
            decision_date: day,
            case_category: category,
            penalty_kinds: kinds.clone(),
            fine_fen,
            confiscated_fen,
            procedure: if simplified {
                PenaltyProcedure::Simplified
            } else {
                PenaltyProcedure::Ordinary
            },
            violation_facts: city::violation_facts(category).to_owned(),
            violated_provisions: vec![violated.clone()],
            penalty_provisions: vec![imposed],
            aggravated,
            restriction_period_days: None,
        };
        self.push(day, DomainEvent::PenaltyDecidedV1(event));

        if kinds.contains(&PenaltyKind::LicenceRevocation) {
            let event = LicenceRevoked {
                decision_number: number.clone(),
                authority: authority.clone(),
                legal_basis: vec![violated],
                decision_date: day,
            };
            self.push(day, DomainEvent::LicenceRevokedV1(event));
            return;
        }
        let serious =
            if aggravated { self.serious_after_penalty(day, category, &number) } else { None };
        let revoked = self.rng.chance(0.02);
        if revoked {
            let on = plus_days(day, self.rng.range(60, 200));
            let event = PenaltyRevoked {
                penalty_decision_number: number.clone(),
                decision_number: format!(
                    "（{}）甘{}行初{}号",
                    on.year(),
                    &self.entity.division.code[2..],
                    self.rng.range(1, 300)
                ),
                revoked_by: city::authority("天水市中级人民法院"),
                reason: AmendmentReason::CourtJudgment,
                decision_date: on,
            };
            self.push(on, DomainEvent::PenaltyRevokedV1(event));
            if let Some(entry) = serious {
                let event = SeriousListRemoved {
                    kind: SeriousRemovalKind::Revocation,
                    reason: "所依据的行政处罚决定被依法撤销".to_owned(),
                    entry_decision_number: entry,
                    decision_number: self.number("严移", on.year(), true),
                    authority: city::authority(CITY_BUREAU),
                    decision_date: plus_days(on, 3),
                    legal_basis: self
                        .catalogue
                        .serious(day)
                        .map(|r| r.removal_legal_basis.clone())
                        .unwrap_or_default(),
                };
                self.push(plus_days(on, 3), DomainEvent::SeriousListRemovedV1(event));
            }
            return;
        }
        if fine_fen > 0 && self.rng.chance(0.03) {
            let on = plus_days(day, self.rng.range(40, 120));
            let event = PenaltyChanged {
                penalty_decision_number: number.clone(),
                decision_number: format!("天政复决字〔{}〕{}号", on.year(), self.rng.range(1, 200)),
                changed_by: city::authority("天水市人民政府"),
                decision_date: on,
                reason: AmendmentReason::AdministrativeReview,
                description: "经行政复议，罚款数额予以变更".to_owned(),
                changes: PenaltyChanges {
                    fine_fen: Some(fine_fen / 200 * 100),
                    ..PenaltyChanges::default()
                },
            };
            self.push(on, DomainEvent::PenaltyChangedV1(event));
        }
        if !simplified && serious.is_none() && self.rng.chance(0.4) {
            let long = matches!(
                category,
                CaseCategory::Food | CaseCategory::Drug | CaseCategory::SpecialEquipment
            );
            let wait = plus_months(day, if long { 12 } else { 6 });
            let applied = plus_days(wait, self.rng.range(5, 200));
            let approved = plus_days(applied, self.rng.range(3, 15));
            let event = CreditRepaired {
                penalty_decision_number: number,
                application_date: applied,
                decision_number: self.number("信修", approved.year(), false),
                authority: self.local_authority(),
                decision_date: approved,
                conditions_met: vec![
                    RepairCondition::PenaltyPerformed,
                    RepairCondition::HarmRemoved,
                    RepairCondition::NoRepeat,
                    RepairCondition::NotOnLists,
                    RepairCondition::CommitmentSigned,
                ],
            };
            self.push(approved, DomainEvent::CreditRepairedV1(event));
        }
    }

    /// Under the 2021 measures an aggravated penalty for an egregious violation lists the
    /// entity; returns the entry's number.
    fn serious_after_penalty(
        &mut self,
        day: NaiveDate,
        category: CaseCategory,
        penalty: &str,
    ) -> Option<String> {
        let ground = match category {
            CaseCategory::Food => SeriousGround::FoodSafety,
            CaseCategory::Drug => SeriousGround::DrugSafety,
            CaseCategory::ProductQuality | CaseCategory::SpecialEquipment => {
                SeriousGround::ProductQuality
            }
            CaseCategory::ConsumerRights | CaseCategory::Advertising => {
                SeriousGround::ConsumerRights
            }
            CaseCategory::Competition => SeriousGround::Competition,
            CaseCategory::Licensing => SeriousGround::LicensingFraud,
            _ => return None,
        };
        let entered = plus_days(day, self.rng.range(10, 25));
        let rule = self.catalogue.serious(entered)?;
        rule.ground(ground)?;
        let number = self.number("严列", entered.year(), true);
        let event = SeriousListEntered {
            ground,
            penalty_decision_numbers: vec![penalty.to_owned()],
            decision_number: number.clone(),
            authority: city::authority(CITY_BUREAU),
            decision_date: entered,
            legal_basis: rule.legal_basis.clone(),
            restriction_until: None,
        };
        let (term, early, basis) =
            (rule.term_months, rule.early_removal_min_months, rule.removal_legal_basis.clone());
        self.push(entered, DomainEvent::SeriousListEnteredV1(event));
        self.serious_end(entered, &number, term, early, basis);
        Some(number)
    }
}
