//! The catalogue of joint-punishment measures (联合惩戒措施).
//!
//! A measure is data, not code: which department applies it, which kind of record triggers
//! it, how long it lasts, the law it rests on and the dates in which the measure itself is in
//! force. A new rule version is a new `measure_defined` event, never a code change.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{CaseCategory, LegalBasis, PenaltyKind};

/// The kind of record that makes a measure apply to an entity.
///
/// Serialised in serde's external form: a variant without data is its name
/// (`"serious_list"`), a variant with data an object with one member named after it
/// (`{"penalty_class": {...}}`). That form is read as a stream, so an error inside it is
/// reported at its exact field, and it refuses unknown members everywhere, which serde's
/// internally tagged form does not do for variants without data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MeasureTrigger {
    /// An entry into the abnormal-operations list.
    AbnormalList,
    /// An entry into the serious illegal and dishonest list.
    SeriousList,
    /// A penalty of a given class.
    PenaltyClass {
        /// The case categories the measure applies to; empty means every category.
        case_categories: Vec<CaseCategory>,
        /// The penalty kinds the measure applies to; a penalty matches when it imposes at
        /// least one of them. Empty means every kind.
        penalty_kinds: Vec<PenaltyKind>,
    },
    /// The revocation of the business licence.
    LicenceRevoked,
}

/// How long a measure applies once triggered, in the same form as [`MeasureTrigger`]:
/// `"while_listed"`, `{"fixed_days": 90}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DurationRule {
    /// As long as the entity stays on the triggering list.
    WhileListed,
    /// This many calendar days from the trigger's decision date.
    FixedDays(u32),
    /// As long as the triggering penalty is published.
    UntilPublicationEnds,
    /// This many years from the trigger's decision date (for example the 3-year bar on a legal
    /// representative).
    YearsAfterTrigger(u32),
}

/// A measure was added to the catalogue, or a new version of it defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureDefined {
    /// The measure's stable identifier in the catalogue, for example "procurement-bar".
    pub measure_id: String,
    /// The department that applies it, for example "财政部门".
    pub department: String,
    /// The measure's title, for example "依法限制参与政府采购活动".
    pub title: String,
    /// What triggers it.
    pub trigger: MeasureTrigger,
    /// The provisions the measure rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// How long it applies once triggered.
    pub duration: DurationRule,
    /// The first day this definition is in force.
    pub in_force_from: NaiveDate,
    /// The last day this definition is in force, when it has an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_force_until: Option<NaiveDate>,
}

/// A measure was taken out of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureRetired {
    /// The identifier of the retired measure.
    pub measure_id: String,
    /// The first day on which the measure is no longer in force.
    pub retirement_date: NaiveDate,
    /// Why it was retired, for example the repeal of its legal basis.
    pub reason: String,
}
