//! Penalty publication, its periods under each rule version, credit repair, changed and
//! revoked penalties: given these facts, validation says this and the fold shows that.

mod support;

use ledger_core::events::{
    AbnormalGround, AbnormalRemovalReason, CaseCategory as C, PenaltyChanges, PenaltyDecided,
    PenaltyKind as K, PenaltyProcedure, RepairCondition,
};
use ledger_rules::{fold, Catalogue, PublicationEnd, Rule};
use support::*;

const BIG_FINE_FEN: i64 = 5_000_000;
const SMALL_FINE_FEN: i64 = 100_000;

fn shown(
    on: chrono::NaiveDate,
    penalties: &[(&'static str, Option<chrono::NaiveDate>)],
    measures: &[&'static str],
) -> Expect {
    Expect { on, lists: Vec::new(), penalties: penalties.to_vec(), measures: measures.to_vec() }
}

fn with_kinds(number: &str, kinds: &[K]) -> ledger_core::events::DomainEvent {
    decided(penalty(number, C::Other, kinds, BIG_FINE_FEN))
}

fn publication_scenarios() -> Vec<Scenario> {
    let simplified = PenaltyDecided {
        procedure: PenaltyProcedure::Simplified,
        ..penalty("PB-5", C::Other, &[K::Fine], BIG_FINE_FEN)
    };
    let restricted = PenaltyDecided {
        restriction_period_days: Some(1500),
        ..penalty("PB-6", C::Other, &[K::Fine, K::OccupationalBan], BIG_FINE_FEN)
    };
    let aggravated =
        PenaltyDecided { aggravated: true, ..penalty("PT-2", C::Other, &[K::Fine], BIG_FINE_FEN) };
    vec![
        Scenario {
            name: "2021 rules: 3 months for light penalties, 3 years or the restriction period",
            steps: vec![
                accept(d(2022, 5, 10), fined("PB-1", C::Other, BIG_FINE_FEN)),
                accept(
                    d(2022, 5, 10),
                    decided(penalty("PB-2", C::Other, &[K::PublicCriticism], 0)),
                ),
                accept(d(2022, 5, 10), fined("PB-3", C::Pricing, SMALL_FINE_FEN)),
                accept(d(2022, 5, 10), decided(penalty("PB-4", C::Other, &[K::Warning], 0))),
                accept(d(2022, 5, 10), decided(simplified)),
                accept(d(2022, 5, 10), decided(restricted)),
            ],
            expect: vec![
                shown(
                    d(2022, 8, 9),
                    &[
                        ("PB-1", Some(d(2025, 5, 10))),
                        ("PB-2", Some(d(2022, 8, 10))),
                        ("PB-3", Some(d(2022, 8, 10))),
                        ("PB-6", Some(d(2026, 6, 18))),
                    ],
                    &[],
                ),
                shown(
                    d(2022, 8, 10),
                    &[("PB-1", Some(d(2025, 5, 10))), ("PB-6", Some(d(2026, 6, 18)))],
                    &[],
                ),
                shown(d(2025, 5, 10), &[("PB-6", Some(d(2026, 6, 18)))], &[]),
                shown(d(2026, 6, 18), &[], &[]),
            ],
        },
        Scenario {
            name: "2026-04 tiers: minor 3 months, ordinary 1 year, serious 3 years",
            steps: vec![
                accept(d(2026, 3, 31), fined("PT-0", C::Other, BIG_FINE_FEN)),
                accept(d(2026, 4, 1), fined("PT-1", C::Other, BIG_FINE_FEN)),
                accept(d(2026, 4, 1), decided(aggravated)),
                accept(d(2026, 4, 1), fined("PT-3", C::Other, SMALL_FINE_FEN)),
                reject(d(2026, 6, 30), repaired("PT-1"), Rule::RepairTooSoon),
                reject(d(2026, 6, 30), repaired("PT-3"), Rule::RepairExcluded),
                accept(d(2026, 7, 1), repaired("PT-1")),
            ],
            expect: vec![
                shown(
                    d(2026, 6, 30),
                    &[
                        ("PT-0", Some(d(2029, 3, 31))),
                        ("PT-1", Some(d(2026, 7, 1))),
                        ("PT-2", Some(d(2029, 4, 1))),
                        ("PT-3", Some(d(2026, 7, 1))),
                    ],
                    &[],
                ),
                shown(
                    d(2027, 4, 1),
                    &[("PT-0", Some(d(2029, 3, 31))), ("PT-2", Some(d(2029, 4, 1)))],
                    &[],
                ),
            ],
        },
    ]
}

fn repair_scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "repair after 6 months, after 1 year for food and special equipment",
            steps: vec![
                accept(d(2022, 5, 10), fined("PR-1", C::Other, BIG_FINE_FEN)),
                reject(d(2022, 11, 9), repaired("PR-1"), Rule::RepairTooSoon),
                accept(d(2022, 11, 10), repaired("PR-1")),
                accept(d(2022, 5, 10), fined("PR-2", C::Food, BIG_FINE_FEN)),
                reject(d(2023, 5, 9), repaired("PR-2"), Rule::RepairTooSoon),
                accept(d(2023, 5, 10), repaired("PR-2")),
                accept(d(2022, 5, 10), fined("PR-3", C::SpecialEquipment, BIG_FINE_FEN)),
                reject(d(2022, 11, 10), repaired("PR-3"), Rule::RepairTooSoon),
            ],
            expect: vec![
                shown(
                    d(2022, 11, 9),
                    &[
                        ("PR-1", Some(d(2022, 11, 10))),
                        ("PR-2", Some(d(2023, 5, 10))),
                        ("PR-3", Some(d(2025, 5, 10))),
                    ],
                    &[],
                ),
                shown(
                    d(2022, 11, 10),
                    &[("PR-2", Some(d(2023, 5, 10))), ("PR-3", Some(d(2025, 5, 10)))],
                    &[],
                ),
            ],
        },
        Scenario {
            name: "never repaired: licence revocation, stop-business, bans, lowered grades, light",
            steps: vec![
                accept(d(2022, 5, 10), with_kinds("PX-1", &[K::Fine, K::LicenceRevocation])),
                reject(d(2024, 1, 1), repaired("PX-1"), Rule::RepairExcluded),
                accept(d(2022, 5, 10), with_kinds("PX-2", &[K::Fine, K::StopBusinessOrder])),
                reject(d(2024, 1, 1), repaired("PX-2"), Rule::RepairExcluded),
                accept(d(2022, 5, 10), with_kinds("PX-3", &[K::OccupationalBan])),
                reject(d(2024, 1, 1), repaired("PX-3"), Rule::RepairExcluded),
                accept(d(2022, 5, 10), with_kinds("PX-4", &[K::LoweredQualification])),
                reject(d(2024, 1, 1), repaired("PX-4"), Rule::RepairExcluded),
                accept(d(2022, 5, 10), fined("PX-5", C::Other, SMALL_FINE_FEN)),
                reject(d(2022, 6, 1), repaired("PX-5"), Rule::RepairExcluded),
                reject(d(2022, 9, 1), repaired("PX-5"), Rule::RepairPublished),
                reject(d(2024, 1, 1), repaired("PX-9"), Rule::DecisionRecorded),
            ],
            expect: vec![shown(
                d(2024, 1, 1),
                &[
                    ("PX-1", Some(d(2025, 5, 10))),
                    ("PX-2", Some(d(2025, 5, 10))),
                    ("PX-3", Some(d(2025, 5, 10))),
                    ("PX-4", Some(d(2025, 5, 10))),
                ],
                &["procurement-bar-major-violation"],
            )],
        },
        Scenario {
            name: "repair needs every condition and no listing",
            steps: vec![
                accept(d(2022, 5, 10), fined("PL-1", C::Other, BIG_FINE_FEN)),
                accept(
                    d(2022, 6, 1),
                    abnormal_entered(AbnormalGround::AnnualReportNotFiled, "AB-1"),
                ),
                reject(d(2023, 1, 1), repaired("PL-1"), Rule::RepairWhileListed),
                accept(
                    d(2023, 2, 1),
                    abnormal_removed(AbnormalRemovalReason::AnnualReportFiled, "AB-1"),
                ),
                reject(
                    d(2023, 3, 1),
                    repaired_with("PL-1", &[RepairCondition::PenaltyPerformed]),
                    Rule::RepairConditions,
                ),
                accept(d(2023, 3, 1), repaired("PL-1")),
            ],
            expect: vec![
                shown(d(2023, 2, 28), &[("PL-1", Some(d(2023, 3, 1)))], &[]),
                shown(d(2023, 3, 1), &[], &[]),
            ],
        },
    ]
}

fn amendment_scenarios() -> Vec<Scenario> {
    let fine_only = PenaltyChanges { penalty_kinds: Some(vec![K::Fine]), ..Default::default() };
    let small_fine = PenaltyChanges { fine_fen: Some(SMALL_FINE_FEN), ..fine_only.clone() };
    vec![
        Scenario {
            name: "a change takes effect on its date: measures end, publication goes on",
            steps: vec![
                accept(d(2022, 5, 10), with_kinds("PC-1", &[K::Fine, K::StopBusinessOrder])),
                reject(d(2022, 8, 1), repaired("PC-1"), Rule::RepairExcluded),
                accept(d(2022, 9, 1), changed("PC-1", fine_only)),
                accept(d(2022, 11, 10), repaired("PC-1")),
            ],
            expect: vec![
                shown(
                    d(2022, 8, 31),
                    &[("PC-1", Some(d(2022, 9, 1)))],
                    &["procurement-bar-major-violation"],
                ),
                shown(d(2022, 9, 1), &[("PC-1", Some(d(2022, 11, 10)))], &[]),
            ],
        },
        Scenario {
            name: "a change into a light class can end publication at once",
            steps: vec![
                accept(d(2022, 5, 10), with_kinds("PC-2", &[K::Fine, K::StopBusinessOrder])),
                accept(d(2022, 9, 1), changed("PC-2", small_fine)),
            ],
            expect: vec![shown(d(2022, 9, 1), &[], &[])],
        },
        Scenario {
            name: "a revoked penalty is withdrawn and can no longer be changed",
            steps: vec![
                accept(
                    d(2022, 5, 10),
                    decided(penalty(
                        "PV-1",
                        C::Food,
                        &[K::Fine, K::LicenceRevocation],
                        BIG_FINE_FEN,
                    )),
                ),
                accept(d(2023, 1, 10), revoked("PV-1")),
                reject(d(2023, 2, 1), revoked("PV-1"), Rule::DecisionRecorded),
                reject(
                    d(2023, 2, 1),
                    changed("PV-1", PenaltyChanges::default()),
                    Rule::DecisionRecorded,
                ),
                reject(d(2023, 2, 1), fined("PV-1", C::Food, 1), Rule::DecisionNumberUnique),
                reject(
                    d(2023, 2, 1),
                    changed("PV-9", PenaltyChanges::default()),
                    Rule::DecisionRecorded,
                ),
            ],
            expect: vec![
                shown(
                    d(2023, 1, 9),
                    &[("PV-1", Some(d(2023, 1, 10)))],
                    &["food-licence-bar", "procurement-bar-major-violation"],
                ),
                shown(d(2023, 1, 10), &[], &[]),
            ],
        },
    ]
}

#[test]
fn publication_periods() {
    let catalogue = Catalogue::builtin();
    for scenario in publication_scenarios() {
        run(&scenario, &catalogue);
    }
}

#[test]
fn credit_repair() {
    let catalogue = Catalogue::builtin();
    for scenario in repair_scenarios() {
        run(&scenario, &catalogue);
    }
}

#[test]
fn changed_and_revoked_penalties() {
    let catalogue = Catalogue::builtin();
    for scenario in amendment_scenarios() {
        run(&scenario, &catalogue);
    }
}

/// A publication names its class, rule version, deadline and repair date, and why it ends.
#[test]
fn publication_details() {
    let catalogue = Catalogue::builtin();
    let scenario = Scenario {
        name: "details",
        steps: vec![
            accept(d(2025, 3, 3), fined("PD-1", C::Food, BIG_FINE_FEN)),
            accept(
                d(2025, 9, 1),
                changed(
                    "PD-1",
                    PenaltyChanges { fine_fen: Some(BIG_FINE_FEN * 2), ..Default::default() },
                ),
            ),
        ],
        expect: vec![],
    };
    let stream = run(&scenario, &catalogue);
    let timeline = ledger_rules::timeline(&stream.events, &catalogue, None);
    let [first, second] = timeline.publications.as_slice() else {
        panic!("two stretches expected: {:?}", timeline.publications);
    };
    assert_eq!(first.class, "food_drug_special_equipment");
    assert_eq!(first.rule_version, "publication/samr-2021");
    assert_eq!(first.end_reason, Some(PublicationEnd::Changed { position: 2 }));
    assert_eq!(second.end_reason, Some(PublicationEnd::Expired));
    assert_eq!((second.start, second.end), (d(2025, 9, 1), Some(d(2028, 3, 3))));
    assert_eq!(second.caused_by, [1, 2]);
    // 20 working days after 3 March 2025, with no holiday in between.
    assert_eq!(first.publication_due, Some(d(2025, 3, 31)));
    assert_eq!(first.repair_allowed_from, Some(d(2026, 3, 3)));
    // A decision before the calendar's first year has no computable deadline.
    let mut old = Stream::new();
    old.push(d(2010, 1, 1), &registered());
    old.push(d(2022, 5, 10), &fined("PO-1", C::Other, BIG_FINE_FEN));
    let status = fold(&old.events, &catalogue, d(2022, 5, 10), None);
    assert_eq!(status.penalties[0].publication_due, None);
}
