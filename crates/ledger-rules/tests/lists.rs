//! The abnormal-operations list and the serious list, rule by rule and version by version:
//! given these facts, validation says this and the fold shows that.

mod support;

use ledger_core::events::{
    AbnormalGround as AG, AbnormalRemovalReason as AR, CaseCategory, PenaltyDecided, PenaltyKind,
    SeriousGround as SG, SeriousRemovalKind as SR,
};
use ledger_rules::{fold, Catalogue, ListEnd, Rule};
use support::*;

const ABNORMAL: &[&str] = &["honours-bar-abnormal", "procurement-consideration-abnormal"];
const SERIOUS_2016: &[&str] = &[
    "bidding-restriction-serious",
    "honours-bar-serious",
    "land-supply-restriction-serious",
    "procurement-bar-serious",
];
const SERIOUS_2021_ONLY: &[&str] = &["key-supervision-serious", "no-commitment-approval-serious"];

/// The measure ids of several groups together.
fn measures(groups: &[&[&'static str]]) -> Vec<&'static str> {
    groups.iter().flat_map(|g| g.iter().copied()).collect()
}

fn serious_2021() -> Vec<&'static str> {
    measures(&[SERIOUS_2016, SERIOUS_2021_ONLY])
}

fn expect(
    on: chrono::NaiveDate,
    lists: &[(&'static str, Option<chrono::NaiveDate>)],
    measures: Vec<&'static str>,
) -> Expect {
    Expect { on, lists: lists.to_vec(), penalties: Vec::new(), measures }
}

/// A food penalty heavy enough for the 2021 serious list.
fn heavy_food_penalty(number: &str) -> PenaltyDecided {
    let kinds = [PenaltyKind::Fine, PenaltyKind::StopBusinessOrder];
    PenaltyDecided { aggravated: true, ..penalty(number, CaseCategory::Food, &kinds, 20_000_000) }
}

fn abnormal_scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "abnormal entry, then removal on application",
            steps: vec![
                accept(d(2024, 7, 15), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
                accept(d(2024, 9, 2), abnormal_removed(AR::AnnualReportFiled, "AB-1")),
            ],
            expect: vec![
                expect(d(2024, 7, 14), &[], vec![]),
                expect(d(2024, 7, 15), &[("AB-1", Some(d(2024, 9, 2)))], ABNORMAL.to_vec()),
                expect(d(2024, 9, 1), &[("AB-1", Some(d(2024, 9, 2)))], ABNORMAL.to_vec()),
                expect(d(2024, 9, 2), &[], vec![]),
            ],
        },
        Scenario {
            name: "the name-change ground is not in force before 2025-03",
            steps: vec![
                reject(
                    d(2025, 2, 28),
                    abnormal_entered(AG::NameChangeNotMade, "AB-1"),
                    Rule::AbnormalGroundInForce,
                ),
                accept(d(2025, 3, 1), abnormal_entered(AG::NameChangeNotMade, "AB-2")),
            ],
            expect: vec![expect(d(2025, 3, 1), &[("AB-2", None)], ABNORMAL.to_vec())],
        },
        Scenario {
            name: "the false-disclosure ground ends with 2025-02; entries keep their version",
            steps: vec![
                reject(
                    d(2025, 3, 1),
                    abnormal_entered(AG::FalseDisclosure, "AB-1"),
                    Rule::AbnormalGroundInForce,
                ),
                accept(d(2025, 2, 28), abnormal_entered(AG::FalseDisclosure, "AB-2")),
                reject(
                    d(2014, 9, 30),
                    abnormal_entered(AG::AnnualReportNotFiled, "AB-3"),
                    Rule::AbnormalGroundInForce,
                ),
            ],
            expect: vec![expect(d(2025, 6, 1), &[("AB-2", None)], ABNORMAL.to_vec())],
        },
        Scenario {
            name: "the removal reason must fit the ground",
            steps: vec![
                accept(d(2024, 3, 1), abnormal_entered(AG::UnreachableAtAddress, "AB-1")),
                reject(
                    d(2024, 5, 1),
                    abnormal_removed(AR::AnnualReportFiled, "AB-1"),
                    Rule::AbnormalRemovalReason,
                ),
                reject(
                    d(2024, 5, 1),
                    abnormal_removed(AR::Other, "AB-1"),
                    Rule::AbnormalRemovalReason,
                ),
                accept(d(2024, 5, 2), abnormal_removed(AR::ReachableAgain, "AB-1")),
                accept(d(2024, 6, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-2")),
                accept(d(2024, 7, 1), abnormal_removed(AR::EntityDeregistered, "AB-2")),
            ],
            expect: vec![
                expect(d(2024, 5, 1), &[("AB-1", Some(d(2024, 5, 2)))], ABNORMAL.to_vec()),
                expect(d(2024, 6, 30), &[("AB-2", Some(d(2024, 7, 1)))], ABNORMAL.to_vec()),
            ],
        },
        Scenario {
            name: "no removal from a list the entity is not on, no double entry",
            steps: vec![
                reject(
                    d(2024, 5, 1),
                    abnormal_removed(AR::AnnualReportFiled, "AB-9"),
                    Rule::AbnormalRemovalListed,
                ),
                accept(d(2024, 3, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
                accept(d(2024, 4, 1), abnormal_removed(AR::AnnualReportFiled, "AB-1")),
                reject(
                    d(2024, 5, 1),
                    abnormal_removed(AR::AnnualReportFiled, "AB-1"),
                    Rule::AbnormalRemovalListed,
                ),
                accept(d(2024, 6, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-2")),
                reject(
                    d(2024, 5, 31),
                    abnormal_removed(AR::AnnualReportFiled, "AB-2"),
                    Rule::AbnormalRemovalListed,
                ),
                reject(
                    d(2024, 7, 1),
                    abnormal_entered(AG::AnnualReportNotFiled, "AB-3"),
                    Rule::AbnormalAlreadyListed,
                ),
                reject(
                    d(2024, 7, 1),
                    abnormal_entered(AG::UnreachableAtAddress, "AB-2"),
                    Rule::DecisionNumberUnique,
                ),
                accept(d(2024, 7, 1), abnormal_entered(AG::UnreachableAtAddress, "AB-4")),
                reject(
                    d(2024, 7, 1),
                    serious_removed(SR::EarlyRemoval, "SL-9"),
                    Rule::SeriousRemovalListed,
                ),
            ],
            expect: vec![expect(
                d(2024, 7, 1),
                &[("AB-2", None), ("AB-4", None)],
                ABNORMAL.to_vec(),
            )],
        },
        Scenario {
            name: "before 2025: removal on application within three years, then the transfer",
            steps: vec![
                accept(d(2019, 1, 10), abnormal_entered(AG::DisclosureOrderNotMet, "AB-0")),
                accept(d(2022, 1, 9), abnormal_removed(AR::InformationDisclosed, "AB-0")),
                accept(d(2020, 1, 10), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
                reject(
                    d(2023, 1, 10),
                    abnormal_removed(AR::AnnualReportFiled, "AB-1"),
                    Rule::AbnormalApplicationWindow,
                ),
                reject(
                    d(2022, 12, 1),
                    serious_entered(SG::AbnormalListThreeYears, &[], "SL-1", None),
                    Rule::SeriousTransfer,
                ),
                accept(
                    d(2023, 2, 15),
                    serious_entered(SG::AbnormalListThreeYears, &[], "SL-1", None),
                ),
                accept(d(2023, 6, 1), abnormal_removed(AR::EntityDeregistered, "AB-1")),
            ],
            expect: vec![
                expect(
                    d(2023, 3, 1),
                    &[("AB-1", Some(d(2023, 6, 1))), ("SL-1", Some(d(2026, 2, 15)))],
                    measures(&[ABNORMAL, SERIOUS_2016, SERIOUS_2021_ONLY]),
                ),
                expect(d(2023, 6, 1), &[("SL-1", Some(d(2026, 2, 15)))], serious_2021()),
            ],
        },
        Scenario {
            name: "the 2025 revision ends the transfer and the application window",
            steps: vec![
                accept(d(2021, 6, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
                accept(d(2022, 6, 1), abnormal_entered(AG::DisclosureOrderNotMet, "AB-2")),
                reject(
                    d(2025, 6, 10),
                    serious_entered(SG::AbnormalListThreeYears, &[], "SL-1", None),
                    Rule::SeriousTransfer,
                ),
                accept(d(2025, 4, 1), abnormal_removed(AR::AnnualReportFiled, "AB-1")),
            ],
            expect: vec![expect(d(2025, 6, 10), &[("AB-2", None)], ABNORMAL.to_vec())],
        },
    ]
}

fn serious_scenarios() -> Vec<Scenario> {
    let early = |entry| serious_removed(SR::EarlyRemoval, entry);
    vec![
        Scenario {
            name: "2016 measures: five years, no early removal; new measures apply from 2021-09",
            steps: vec![
                accept(
                    d(2018, 5, 10),
                    serious_entered(SG::FraudulentRegistration, &[], "SL-16", None),
                ),
                reject(d(2020, 1, 1), early("SL-16"), Rule::SeriousEarlyRemoval),
                reject(d(2023, 5, 9), serious_removed(SR::Expiry, "SL-16"), Rule::SeriousExpiry),
                accept(d(2023, 5, 10), serious_removed(SR::Expiry, "SL-16")),
            ],
            expect: vec![
                expect(d(2018, 5, 10), &[("SL-16", Some(d(2023, 5, 10)))], SERIOUS_2016.to_vec()),
                expect(d(2021, 8, 31), &[("SL-16", Some(d(2023, 5, 10)))], SERIOUS_2016.to_vec()),
                expect(d(2021, 9, 1), &[("SL-16", Some(d(2023, 5, 10)))], serious_2021()),
                expect(d(2023, 5, 10), &[], vec![]),
            ],
        },
        Scenario {
            name: "2021 measures: three years, or a longer restriction period",
            steps: vec![
                accept(d(2022, 3, 1), decided(heavy_food_penalty("PF-1"))),
                accept(d(2022, 3, 20), serious_entered(SG::FoodSafety, &["PF-1"], "SL-21", None)),
                accept(d(2022, 4, 1), fined("PC-1", CaseCategory::Competition, 10_000_000)),
                accept(
                    d(2022, 4, 10),
                    serious_entered(SG::Competition, &["PC-1"], "SL-22", Some(d(2026, 6, 30))),
                ),
            ],
            expect: vec![
                Expect {
                    on: d(2022, 3, 10),
                    lists: vec![],
                    penalties: vec![("PF-1", Some(d(2025, 3, 1)))],
                    measures: vec!["procurement-bar-major-violation"],
                },
                Expect {
                    on: d(2025, 3, 19),
                    lists: vec![("SL-21", Some(d(2025, 3, 20))), ("SL-22", Some(d(2026, 7, 1)))],
                    penalties: vec![("PC-1", Some(d(2025, 4, 1)))],
                    measures: serious_2021(),
                },
                Expect {
                    on: d(2025, 3, 20),
                    lists: vec![("SL-22", Some(d(2026, 7, 1)))],
                    penalties: vec![("PC-1", Some(d(2025, 4, 1)))],
                    measures: serious_2021(),
                },
                expect(d(2026, 7, 1), &[], vec![]),
            ],
        },
        Scenario {
            name: "early removal after at least one year",
            steps: vec![
                accept(d(2022, 3, 1), decided(heavy_food_penalty("PF-1"))),
                accept(d(2022, 3, 20), serious_entered(SG::FoodSafety, &["PF-1"], "SL-21", None)),
                reject(d(2023, 3, 19), early("SL-21"), Rule::SeriousEarlyRemoval),
                accept(d(2023, 3, 20), early("SL-21")),
            ],
            expect: vec![
                Expect {
                    on: d(2023, 3, 19),
                    lists: vec![("SL-21", Some(d(2023, 3, 20)))],
                    penalties: vec![("PF-1", Some(d(2025, 3, 1)))],
                    measures: measures(&[
                        SERIOUS_2016,
                        SERIOUS_2021_ONLY,
                        &["procurement-bar-major-violation"],
                    ]),
                },
                Expect {
                    on: d(2023, 3, 20),
                    lists: vec![],
                    penalties: vec![("PF-1", Some(d(2025, 3, 1)))],
                    measures: vec!["procurement-bar-major-violation"],
                },
            ],
        },
        Scenario {
            name: "a new aggravated penalty bars early removal",
            steps: vec![
                accept(d(2022, 3, 1), decided(heavy_food_penalty("PF-1"))),
                accept(d(2022, 3, 20), serious_entered(SG::FoodSafety, &["PF-1"], "SL-21", None)),
                accept(d(2022, 10, 1), decided(heavy_food_penalty("PF-2"))),
                reject(d(2023, 4, 1), early("SL-21"), Rule::SeriousEarlyRemoval),
            ],
            expect: vec![],
        },
        Scenario {
            name: "an entry needs a ground of the version in force and live penalties",
            steps: vec![
                reject(
                    d(2016, 3, 31),
                    serious_entered(SG::FraudulentRegistration, &[], "SL-1", None),
                    Rule::SeriousGroundInForce,
                ),
                reject(
                    d(2019, 5, 1),
                    serious_entered(SG::FoodSafety, &[], "SL-1", None),
                    Rule::SeriousGroundInForce,
                ),
                reject(
                    d(2022, 5, 1),
                    serious_entered(SG::PyramidSelling, &[], "SL-1", None),
                    Rule::SeriousGroundInForce,
                ),
                reject(
                    d(2022, 5, 1),
                    serious_entered(SG::FoodSafety, &[], "SL-1", None),
                    Rule::SeriousPenaltyRequired,
                ),
                reject(
                    d(2022, 5, 1),
                    serious_entered(SG::FoodSafety, &["PF-9"], "SL-1", None),
                    Rule::SeriousPenaltyRequired,
                ),
                accept(d(2022, 4, 1), decided(heavy_food_penalty("PF-1"))),
                accept(d(2022, 4, 2), revoked("PF-1")),
                reject(
                    d(2022, 5, 1),
                    serious_entered(SG::FoodSafety, &["PF-1"], "SL-1", None),
                    Rule::SeriousPenaltyRequired,
                ),
            ],
            expect: vec![],
        },
        Scenario {
            name: "revoking the penalty ends the listing and everything it caused",
            steps: vec![
                accept(d(2022, 3, 1), decided(heavy_food_penalty("PF-1"))),
                accept(d(2022, 3, 20), serious_entered(SG::FoodSafety, &["PF-1"], "SL-21", None)),
                accept(d(2023, 1, 10), revoked("PF-1")),
                accept(d(2023, 1, 12), serious_removed(SR::Revocation, "SL-21")),
            ],
            expect: vec![
                Expect {
                    on: d(2023, 1, 9),
                    lists: vec![("SL-21", Some(d(2023, 1, 10)))],
                    penalties: vec![("PF-1", Some(d(2023, 1, 10)))],
                    measures: measures(&[
                        SERIOUS_2016,
                        SERIOUS_2021_ONLY,
                        &["procurement-bar-major-violation"],
                    ]),
                },
                expect(d(2023, 1, 10), &[], vec![]),
            ],
        },
    ]
}

#[test]
fn abnormal_list_rules() {
    let catalogue = Catalogue::builtin();
    for scenario in abnormal_scenarios() {
        run(&scenario, &catalogue);
    }
}

#[test]
fn serious_list_rules() {
    let catalogue = Catalogue::builtin();
    for scenario in serious_scenarios() {
        run(&scenario, &catalogue);
    }
}

/// The fold shows when the old transfer fell due, and only where it was still in force.
#[test]
fn transfer_falls_due_only_before_2025() {
    let catalogue = Catalogue::builtin();
    let scenario = Scenario {
        name: "transfer due dates",
        steps: vec![
            accept(d(2021, 6, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
            accept(d(2022, 6, 1), abnormal_entered(AG::DisclosureOrderNotMet, "AB-2")),
            accept(d(2023, 1, 1), abnormal_entered(AG::UnreachableAtAddress, "AB-3")),
            accept(d(2023, 2, 1), abnormal_removed(AR::ReachableAgain, "AB-3")),
        ],
        expect: vec![],
    };
    let stream = run(&scenario, &catalogue);
    let status = fold(&stream.events, &catalogue, d(2023, 1, 15), None);
    let due: Vec<_> =
        status.lists.iter().map(|l| (l.decision_number.as_str(), l.transfer_due)).collect();
    assert_eq!(due, [("AB-1", Some(d(2024, 6, 1))), ("AB-2", None), ("AB-3", None)]);
    let versions: Vec<_> = status.lists.iter().map(|l| l.rule_version.as_deref()).collect();
    assert_eq!(
        versions,
        [
            Some("abnormal/annual_report_not_filed/2014"),
            Some("abnormal/disclosure_order_not_met/2014"),
            Some("abnormal/unreachable_at_address/2014"),
        ]
    );
}

/// Why a stay ends, and the early-removal date the version allows.
#[test]
fn list_ends_carry_their_reason() {
    let catalogue = Catalogue::builtin();
    let scenario = Scenario {
        name: "end reasons",
        steps: vec![
            accept(d(2018, 5, 10), serious_entered(SG::FraudulentRegistration, &[], "SL-16", None)),
            accept(d(2022, 3, 1), decided(heavy_food_penalty("PF-1"))),
            accept(d(2022, 3, 20), serious_entered(SG::FoodSafety, &["PF-1"], "SL-21", None)),
            accept(d(2022, 4, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
            accept(d(2022, 5, 1), abnormal_removed(AR::AnnualReportFiled, "AB-1")),
            accept(d(2023, 1, 10), revoked("PF-1")),
        ],
        expect: vec![],
    };
    let stream = run(&scenario, &catalogue);
    let timeline = ledger_rules::timeline(&stream.events, &catalogue, None);
    let ends: Vec<_> = timeline
        .lists
        .iter()
        .map(|l| {
            (
                l.decision_number.as_str(),
                l.end_reason,
                l.early_removal_from,
                l.rule_version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        ends,
        [
            ("SL-16", Some(ListEnd::Expired), None, Some("serious/2016")),
            (
                "SL-21",
                Some(ListEnd::PenaltyRevoked { position: 6 }),
                Some(d(2023, 3, 20)),
                Some("serious/2021")
            ),
            (
                "AB-1",
                Some(ListEnd::Removed { position: 5 }),
                None,
                Some("abnormal/annual_report_not_filed/2014")
            ),
        ]
    );
    // The serious entry names its own event and the penalty it rests on as causes.
    let caused: Vec<_> = timeline
        .restrictions
        .iter()
        .filter(|r| r.trigger_decision_number == "SL-21")
        .map(|r| r.caused_by.clone())
        .collect();
    assert!(!caused.is_empty() && caused.iter().all(|c| c == &[2, 3]), "{caused:?}");
}
