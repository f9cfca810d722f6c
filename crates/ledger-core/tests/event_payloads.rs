//! Every event type reads and writes its payloads faithfully, refuses what its schema
//! refuses, and says clearly what was wrong.
//!
//! The samples are written as JSON, the form recorders send, rather than built from the Rust
//! types, so that they pin the wire format down independently of the types.

use ledger_core::canonical;
use ledger_core::events::{payload_schema, DomainEvent, PayloadError, EVENT_TYPES};
use serde_json::{json, Value};

mod mini_schema;

const AUTHORITY: &str = "天水市市场监督管理局";
const AUTHORITY_CODE: &str = "1162050001392654X7";
const ENTITY_CODE: &str = "91620502MA7B8C9DXL";
const PLATFORM_CODE: &str = "91620500MA71234K9A";

fn authority() -> Value {
    json!({"name": AUTHORITY, "code": AUTHORITY_CODE})
}

fn basis(document: &str, article: &str, version: &str) -> Value {
    json!({"document": document, "article": article, "version": version})
}

fn person(role: &str) -> Value {
    json!({
        "commitment": "4f".repeat(32),
        "commitment_id": "01900000-0000-7000-8000-000000000001",
        "role": role,
    })
}

/// At least one sample payload for every event type and version.
fn samples() -> Vec<(&'static str, u32, Value)> {
    let serious_measures = "《市场监督管理严重违法失信名单管理办法》";
    let abnormal_measures = "《企业经营异常名录管理暂行办法》";
    vec![
        (
            "entity_registered",
            1,
            json!({
                "credit_code": ENTITY_CODE,
                "name": "天水市麦积区陇上食品有限公司",
                "entity_kind": "limited_liability_company",
                "registered_address": "甘肃省天水市麦积区商埠路12号",
                "division": "620503",
                "registration_authority": {"name": "天水市麦积区市场监督管理局"},
                "establishment_date": "2016-03-18",
                "business_scope": "食品销售；农副产品加工",
                "registered_capital_fen": 50_000_000,
                "legal_representative": person("legal_representative"),
            }),
        ),
        (
            "entity_registered",
            1,
            json!({
                "credit_code": "92620502MA7C1D2E9H",
                "check_override": {
                    "reason": "2015年试点赋码",
                    "evidence": "营业执照副本 No. 0012345",
                },
                "name": "秦州区老马牛肉面馆",
                "entity_kind": "individual_business",
                "registered_address": "甘肃省天水市秦州区民主西路3号",
                "division": "620502",
                "registration_authority": authority(),
                "establishment_date": "2015-07-01",
                "business_scope": "餐饮服务",
                "legal_representative": person("operator"),
            }),
        ),
        (
            "entity_details_changed",
            1,
            json!({
                "authority": authority(),
                "change_date": "2024-11-05",
                "changes": {
                    "registered_address": "甘肃省天水市秦州区藉河南路88号",
                    "registered_capital_fen": 100_000_000,
                    "legal_representative": person("legal_representative"),
                },
            }),
        ),
        (
            "licence_revoked",
            1,
            json!({
                "decision_number": "天市监处罚〔2025〕31号",
                "authority": authority(),
                "legal_basis": [
                    basis(
                        "《中华人民共和国公司法》",
                        "第二百六十条",
                        "2023-12-29",
                    ),
                ],
                "decision_date": "2025-05-20",
            }),
        ),
        (
            "entity_deregistered",
            1,
            json!({
                "reason": "dissolution",
                "authority": authority(),
                "deregistration_date": "2025-09-30",
            }),
        ),
        (
            "website_registered",
            1,
            json!({
                "url": "https://www.longshang-food.cn",
                "icp_filing_number": "甘ICP备16001234号-1",
                "registration_date": "2016-05-02",
            }),
        ),
        (
            "website_removed",
            1,
            json!({
                "url": "https://www.longshang-food.cn",
                "icp_filing_number": "甘ICP备16001234号-1",
                "removal_date": "2023-01-10",
            }),
        ),
        (
            "online_shop_opened",
            1,
            json!({
                "platform_credit_code": PLATFORM_CODE,
                "shop_name": "陇上特产旗舰店",
                "shop_id": "shop-100238",
                "shop_url": "https://mall.example.cn/shop/100238",
                "opening_date": "2017-08-15",
            }),
        ),
        (
            "online_shop_closed",
            1,
            json!({
                "platform_credit_code": PLATFORM_CODE,
                "shop_name": "陇上特产旗舰店",
                "shop_id": "shop-100238",
                "closing_date": "2024-02-29",
            }),
        ),
        ("penalty_decided", 1, penalty_decided()),
        (
            "penalty_changed",
            1,
            json!({
                "penalty_decision_number": "天市监处罚〔2025〕12号",
                "decision_number": "天政复决字〔2025〕7号",
                "changed_by": {"name": "天水市人民政府"},
                "decision_date": "2025-08-01",
                "reason": "administrative_review",
                "description": "复议决定将罚款由5000元变更为3000元",
                "changes": {"fine_fen": 300_000},
            }),
        ),
        (
            "penalty_revoked",
            1,
            json!({
                "penalty_decision_number": "天市监处罚〔2025〕12号",
                "decision_number": "（2025）甘0502行初12号",
                "revoked_by": {"name": "天水市秦州区人民法院"},
                "reason": "court_judgment",
                "decision_date": "2025-10-09",
            }),
        ),
        (
            "abnormal_list_entered",
            1,
            json!({
                "ground": "annual_report_not_filed",
                "decision_number": "天市监异入〔2025〕105号",
                "authority": authority(),
                "decision_date": "2025-07-15",
                "legal_basis": [basis(abnormal_measures, "第四条", "2014-08-19")],
            }),
        ),
        (
            "abnormal_list_removed",
            1,
            json!({
                "reason": "annual_report_filed",
                "entry_decision_number": "天市监异入〔2025〕105号",
                "decision_number": "天市监异出〔2025〕41号",
                "authority": authority(),
                "decision_date": "2025-09-03",
                "legal_basis": [basis(abnormal_measures, "第十一条", "2014-08-19")],
            }),
        ),
        (
            "serious_list_entered",
            1,
            json!({
                "ground": "food_safety",
                "penalty_decision_numbers": ["天市监处罚〔2025〕12号"],
                "decision_number": "天市监严入〔2025〕3号",
                "authority": authority(),
                "decision_date": "2025-06-20",
                "legal_basis": [basis(serious_measures, "第五条", "2021-07-30")],
                "restriction_until": "2030-06-19",
            }),
        ),
        (
            "serious_list_removed",
            1,
            json!({
                "kind": "early_removal",
                "reason": "已履行行政处罚，满一年未再受到较重行政处罚",
                "entry_decision_number": "天市监严入〔2025〕3号",
                "decision_number": "天市监严出〔2026〕9号",
                "authority": authority(),
                "decision_date": "2026-07-02",
                "legal_basis": [basis(serious_measures, "第十六条", "2021-07-30")],
            }),
        ),
        (
            "credit_repaired",
            1,
            json!({
                "penalty_decision_number": "天市监处罚〔2024〕88号",
                "application_date": "2025-03-01",
                "decision_number": "天市监信修〔2025〕17号",
                "authority": authority(),
                "decision_date": "2025-03-12",
                "conditions_met": ["penalty_performed", "harm_removed", "no_repeat", "not_on_lists",
                    "commitment_signed"],
            }),
        ),
        (
            "spot_check_recorded",
            1,
            json!({
                "plan_id": "SJ-6205-2025-03",
                "selection_batch": "2",
                "check_date": "2025-05-14",
                "result": "issues_found_corrected",
                "items_checked": ["年度报告公示信息", "食品经营许可"],
                "authority": authority(),
            }),
        ),
        (
            "objection_raised",
            1,
            json!({
                "about": {
                    "kind": "abnormal_entry",
                    "decision_number": "天市监异入〔2025〕105号",
                },
                "raised_by": "entity",
                "objection_date": "2025-07-30",
                "grounds": "年度报告已于6月28日报送，系统未同步",
            }),
        ),
        (
            "objection_decided",
            1,
            json!({
                "objection_event_id": "01900000-0000-7000-8000-0000000000a1",
                "about": {
                    "kind": "abnormal_entry",
                    "decision_number": "天市监异入〔2025〕105号",
                },
                "outcome": "upheld",
                "authority": authority(),
                "decision_date": "2025-08-12",
                "decision_text": "经核实年度报告已按期报送，撤销列入决定",
            }),
        ),
        (
            "measure_defined",
            1,
            json!({
                "measure_id": "procurement-bar",
                "department": "财政部门",
                "title": "依法限制参与政府采购活动",
                "trigger": "serious_list",
                "legal_basis": [
                    basis(
                        "《中华人民共和国政府采购法》",
                        "第二十二条",
                        "2014-08-31",
                    ),
                ],
                "duration": "while_listed",
                "in_force_from": "2021-09-01",
            }),
        ),
        (
            "measure_defined",
            1,
            json!({
                "measure_id": "key-supervision-food",
                "department": "市场监督管理部门",
                "title": "列为重点监管对象，提高抽查比例和频次",
                "trigger": {"penalty_class": {
                    "case_categories": ["food", "drug"],
                    "penalty_kinds": ["fine", "stop_business_order"],
                }},
                "legal_basis": [basis(serious_measures, "第十四条", "2021-07-30")],
                "duration": {"years_after_trigger": 3},
                "in_force_from": "2021-09-01",
                "in_force_until": "2026-03-31",
            }),
        ),
        (
            "measure_retired",
            1,
            json!({
                "measure_id": "key-supervision-food",
                "retirement_date": "2026-04-01",
                "reason": "被新版信用记录分级规则取代",
            }),
        ),
        (
            "personal_data_erased",
            1,
            json!({
                "commitment_ids": ["01900000-0000-7000-8000-000000000001"],
                "requested_by": "data_subject",
                "ground": "retention_period_ended",
                "legal_basis": [basis(
                    "《中华人民共和国个人信息保护法》",
                    "第四十七条第一款第（二）项",
                    "2021-08-20",
                )],
                "request_reference": "天市监个删〔2031〕2号",
                "erasure_date": "2031-01-15",
            }),
        ),
        (
            "principal_registered",
            1,
            json!({
                "principal_id": "tax-bureau",
                "name": "天水市税务局",
                "roles": ["partner"],
                "department": "税务部门",
            }),
        ),
        (
            "principal_registered",
            1,
            json!({
                "principal_id": "discipline-office",
                "name": "天水市纪委监委",
                "roles": ["auditor", "partner"],
                "all_departments": true,
            }),
        ),
        (
            "token_issued",
            1,
            json!({
                "principal_id": "tax-bureau",
                "token_id": "01900000-0000-7000-8000-000000000002",
                "token_hash": "ab".repeat(32),
                "label": "征管系统 production",
            }),
        ),
        (
            "token_revoked",
            1,
            json!({
                "principal_id": "tax-bureau",
                "token_id": "01900000-0000-7000-8000-000000000002",
                "reason": "轮换密钥",
            }),
        ),
        (
            "access_logged",
            1,
            json!({
                "principal_id": "tax-bureau",
                "token_id": "01900000-0000-7000-8000-000000000002",
                "queried_at": "2025-06-02T08:30:00.123456Z",
                "query": "bulk_check",
                "department": "税务部门",
                "entities": [ENTITY_CODE, PLATFORM_CODE],
                "as_of": "2025-06-01",
                "known_at": "2025-06-02T00:00:00Z",
                "answer_hash": "cd".repeat(32),
                "answer_items": 2,
            }),
        ),
        (
            "access_logged",
            1,
            json!({
                "principal_id": "tax-bureau",
                "token_id": "01900000-0000-7000-8000-000000000002",
                "queried_at": "2025-06-02T08:31:00Z",
                "query": "changes",
                "department": "税务部门",
                "cursor": 42,
                "answer_hash": "cd".repeat(32),
                "answer_items": 0,
            }),
        ),
        (
            "access_logged",
            2,
            json!({
                "entries": [
                    {
                        "principal_id": "tax-bureau",
                        "token_id": "01900000-0000-7000-8000-000000000002",
                        "queried_at": "2025-06-02T08:30:00.123456Z",
                        "query": "restrictions",
                        "department": "税务部门",
                        "entities": [ENTITY_CODE],
                        "as_of": "2025-06-01",
                        "answer_hash": "cd".repeat(32),
                        "answer_items": 1,
                    },
                    {
                        "principal_id": "court",
                        "token_id": "01900000-0000-7000-8000-000000000003",
                        "queried_at": "2025-06-02T08:30:01Z",
                        "query": "changes_stream",
                        "cursor": 7,
                        "answer_hash": "ef".repeat(32),
                        "answer_items": 3,
                    },
                ],
            }),
        ),
        (
            "access_logged",
            3,
            json!({
                "callers": [
                    {
                        "principal_id": "tax-bureau",
                        "token_id": "01900000-0000-7000-8000-000000000002",
                        "department": "税务部门",
                        "entries": [
                            {
                                "queried_at": "2025-06-02T08:30:00.123456Z",
                                "query": "restrictions",
                                "entities": [ENTITY_CODE],
                                "as_of": "2025-06-01",
                                "answer_hash": "cd".repeat(32),
                                "answer_items": 1,
                            },
                            {
                                "queried_at": "2025-06-02T08:30:02Z",
                                "query": "bulk_check",
                                "entities": [ENTITY_CODE, PLATFORM_CODE],
                                "as_of": "2025-06-01",
                                "known_at": "2025-06-02T00:00:00Z",
                                "answer_hash": "ab".repeat(32),
                                "answer_items": 2,
                            },
                        ],
                    },
                    {
                        "principal_id": "court",
                        "token_id": "01900000-0000-7000-8000-000000000003",
                        "entries": [
                            {
                                "queried_at": "2025-06-02T08:30:01Z",
                                "query": "changes_stream",
                                "cursor": 7,
                                "answer_hash": "ef".repeat(32),
                                "answer_items": 3,
                            },
                        ],
                    },
                ],
            }),
        ),
    ]
}

fn penalty_decided() -> Value {
    json!({
        "decision_number": "天市监处罚〔2025〕12号",
        "authority": authority(),
        "decision_date": "2025-06-01",
        "case_category": "food",
        "penalty_kinds": ["warning", "fine", "confiscation_of_illegal_gains"],
        "fine_fen": 500_000,
        "confiscated_fen": 123_456,
        "procedure": "ordinary",
        "violation_facts": "经营超过保质期的食品",
        "violated_provisions": [
            basis(
                "《中华人民共和国食品安全法》",
                "第三十四条第（十）项",
                "2021-04-29",
            ),
        ],
        "penalty_provisions": [
            basis(
                "《中华人民共和国食品安全法》",
                "第一百二十四条第一款",
                "2021-04-29",
            ),
        ],
        "aggravated": false,
        "restriction_period_days": 365,
    })
}

fn parse_error(event_type: &str, version: u32, payload: &Value) -> PayloadError {
    match DomainEvent::parse(event_type, version, payload) {
        Ok(event) => panic!("{event_type} payload should be refused, parsed as {event:?}"),
        Err(error) => error,
    }
}

#[test]
fn every_event_type_has_a_sample() {
    let samples = samples();
    for &(event_type, version) in EVENT_TYPES {
        assert!(
            samples.iter().any(|(t, v, _)| (*t, *v) == (event_type, version)),
            "no sample for {event_type} v{version}"
        );
    }
}

#[test]
fn samples_round_trip_through_parse_and_to_payload() {
    for (event_type, version, payload) in samples() {
        let event = DomainEvent::parse(event_type, version, &payload)
            .unwrap_or_else(|e| panic!("{event_type} sample: {e}"));
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.schema_version(), version);
        assert_eq!(event.to_payload(), payload, "{event_type} did not round-trip");
        let text = serde_json::to_vec(&payload).unwrap();
        assert_eq!(DomainEvent::parse_json(event_type, version, &text).as_ref(), Ok(&event));
        assert_eq!(
            event.to_canonical_payload().unwrap(),
            canonical::to_canonical_vec(&payload).unwrap(),
            "{event_type}"
        );
    }
}

#[test]
fn samples_validate_against_their_schemas() {
    for (event_type, version, payload) in samples() {
        let schema = payload_schema(event_type, version).unwrap().to_value();
        let errors = mini_schema::validate(&schema, &payload);
        assert!(errors.is_empty(), "{event_type} sample against its schema: {errors:?}");
    }
}

#[test]
fn unknown_fields_are_refused_by_parser_and_schema_alike() {
    for (event_type, version, mut payload) in samples() {
        payload["remarks"] = json!("x");
        let error = parse_error(event_type, version, &payload);
        let text = serde_json::to_vec(&payload).unwrap();
        assert_eq!(DomainEvent::parse_json(event_type, version, &text), Err(error.clone()));
        assert!(
            matches!(&error, PayloadError::Invalid { field, .. } if field == "/remarks"),
            "{event_type}: {error}"
        );
        let schema = payload_schema(event_type, version).unwrap().to_value();
        assert!(!mini_schema::validate(&schema, &payload).is_empty(), "{event_type} schema");
    }
}

#[test]
fn errors_name_the_offending_field() {
    let changed = |mutate: &dyn Fn(&mut Value)| {
        let mut payload = penalty_decided();
        mutate(&mut payload);
        payload
    };
    let cases = [
        (
            changed(&|p| p["authority"]["seal"] = json!(1)),
            "/authority/seal",
            "unknown field `seal`",
        ),
        (
            changed(&|p| drop(p.as_object_mut().unwrap().remove("decision_date"))),
            "/",
            "missing field `decision_date`",
        ),
        (
            changed(&|p| drop(p["authority"].as_object_mut().unwrap().remove("name"))),
            "/authority",
            "missing field `name`",
        ),
        (changed(&|p| p["fine_fen"] = json!("5000")), "/fine_fen", "invalid type: string"),
        (changed(&|p| p["fine_fen"] = json!(5000.5)), "/fine_fen", "invalid type: floating point"),
        (
            changed(&|p| p["case_category"] = json!("cosmetics")),
            "/case_category",
            "unknown variant `cosmetics`",
        ),
        (
            changed(&|p| p["penalty_kinds"][1] = json!("fines")),
            "/penalty_kinds/1",
            "unknown variant `fines`",
        ),
        (
            changed(&|p| p["decision_date"] = json!("2025-02-30")),
            "/decision_date",
            "input is out of range",
        ),
        (
            changed(&|p| p["authority"]["code"] = json!("11620500")),
            "/authority/code",
            "exactly 18 characters",
        ),
    ];
    for (payload, want_field, want_message) in cases {
        match parse_error("penalty_decided", 1, &payload) {
            PayloadError::Invalid { event_type, schema_version, field, message } => {
                assert_eq!((event_type, schema_version), ("penalty_decided", 1));
                assert_eq!(field, want_field, "{message}");
                assert!(message.contains(want_message), "{field}: {message}");
                assert!(!message.contains(" at line "), "{field}: {message}");
            }
            other => panic!("{want_field}: {other}"),
        }
    }

    // A missing member of the payload itself, after a last member that is an object.
    let mut payload = samples().into_iter().find(|s| s.0 == "entity_details_changed").unwrap().2;
    payload.as_object_mut().unwrap().remove("change_date");
    let error = parse_error("entity_details_changed", 1, &payload);
    assert!(matches!(&error, PayloadError::Invalid { field, .. } if field == "/"), "{error}");
}

#[test]
fn enums_with_data_name_the_offending_field() {
    let measure = || samples().into_iter().rfind(|s| s.0 == "measure_defined").unwrap().2;
    let cases = [
        (
            "trigger",
            json!({"penalty_class": {"case_categories": [], "penalty_kinds": [],
            "aggravated": true}}),
            "/trigger/penalty_class/aggravated",
            "unknown field",
        ),
        (
            "trigger",
            json!({"penalty_class": {"case_categories": ["cosmetics"],
            "penalty_kinds": []}}),
            "/trigger/penalty_class/case_categories/0",
            "unknown variant",
        ),
        ("trigger", json!({"kind": "serious_list"}), "/trigger/kind", "unknown variant `kind`"),
        ("trigger", json!("abnormal"), "/trigger", "unknown variant `abnormal`"),
        ("duration", json!({"fixed_days": -1}), "/duration/fixed_days", "expected u32"),
        (
            "duration",
            json!({"fixed_days": 30, "weeks": 1}),
            "/duration/fixed_days",
            "expected map with a single key",
        ),
        ("duration", json!("forever"), "/duration", "unknown variant `forever`"),
    ];
    for (member, value, want_field, want_message) in cases {
        let mut payload = measure();
        payload[member] = value;
        match parse_error("measure_defined", 1, &payload) {
            PayloadError::Invalid { field, message, .. } => {
                assert_eq!(field, want_field, "{message}");
                assert!(message.contains(want_message), "{field}: {message}");
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn unknown_types_and_versions_list_what_is_accepted() {
    let payload = penalty_decided();
    let error = DomainEvent::parse("penalty_imposed", 1, &payload).unwrap_err();
    assert!(matches!(error, PayloadError::UnknownType { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("\"penalty_imposed\""), "{text}");
    for (event_type, version) in EVENT_TYPES {
        assert!(text.contains(&format!("{event_type} v{version}")), "{text}");
    }

    let error = DomainEvent::parse("penalty_decided", 2, &payload).unwrap_err();
    assert_eq!(
        error.to_string(),
        "event type \"penalty_decided\" has no schema version 2; accepted versions are 1"
    );
}

#[test]
fn a_payload_must_be_an_object() {
    let error = parse_error("website_removed", 1, &json!(["https://x.cn"]));
    assert!(matches!(&error, PayloadError::Invalid { field, .. } if field == "/"), "{error}");
}

#[test]
fn parse_json_refuses_broken_text_and_unknown_types() {
    let broken =
        DomainEvent::parse_json("penalty_decided", 1, b"{\"decision_number\":").unwrap_err();
    assert!(matches!(&broken, PayloadError::Invalid { field, .. } if field == "/"), "{broken}");
    let unknown = DomainEvent::parse_json("penalty_invented", 1, b"{}").unwrap_err();
    assert!(matches!(unknown, PayloadError::UnknownType { .. }), "{unknown}");
    let version = DomainEvent::parse_json("penalty_decided", 9, b"{}").unwrap_err();
    assert!(matches!(version, PayloadError::UnknownVersion { .. }), "{version}");
}
