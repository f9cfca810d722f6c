//! The rules catalogue: joint-punishment measures and the versioned list and publication
//! rules, read from a JSON file.
//!
//! The default catalogue ships as `catalogue/default.json`, embedded in the binary, so that a
//! ledger works out of the box and a change of rules is a reviewed change of a readable file.
//! The measures part is also recorded in the ledger as `measure_defined` events (see
//! [`measure_events`]), so that which measures were in force when is itself audited; a
//! catalogue can be rebuilt from those events with [`Catalogue::with_measures`] and
//! [`measures_from_events`].
//!
//! Reading a catalogue checks it: every version has a legal basis and dates that run
//! forwards, versions of one rule never overlap (two versions in force on one day would make
//! the answer depend on file order), and every period stays below [`RULE_PERIOD_MONTHS_MAX`].

mod measures;
mod rules;

use chrono::NaiveDate;
use ledger_core::events::{AbnormalGround, LegalBasis, MeasureDefined};
use serde::{Deserialize, Serialize};

pub use measures::{
    catalogue_stream, measure_events, measures_from_events, MeasureScope, CATALOGUE_STREAM,
};
pub use rules::{
    AbnormalGroundRule, AbnormalListRules, GeneralRemovalRule, PenaltyMatch, PublicationClass,
    PublicationRule, RegistrationRules, RepairRule, SeriousGroundRule, SeriousListRule,
    TransferRule, Validity,
};

use crate::calendar::{CalendarError, HolidayCalendar};

/// The embedded default catalogue, `catalogue/default.json`.
pub const DEFAULT_CATALOGUE_JSON: &str = include_str!("../../catalogue/default.json");

/// The largest catalogue file accepted, in bytes.
pub const CATALOGUE_BYTES_MAX: usize = 1024 * 1024;

/// The most measure versions one catalogue may hold.
pub const CATALOGUE_MEASURES_MAX: usize = 2000;

/// The most versions of list and publication rules one catalogue may hold, per kind.
pub const CATALOGUE_RULE_VERSIONS_MAX: usize = 500;

/// The longest period any rule may set, in months (100 years).
pub const RULE_PERIOD_MONTHS_MAX: u32 = 1200;

/// Why a catalogue could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// The file is larger than [`CATALOGUE_BYTES_MAX`].
    #[error("catalogue has {0} bytes; at most {CATALOGUE_BYTES_MAX} are accepted")]
    TooLarge(usize),
    /// The file is not JSON of the catalogue's form.
    #[error("catalogue is not in the accepted form: {0}")]
    Parse(String),
    /// A list of the catalogue is longer than its limit.
    #[error("catalogue has {count} {what}; at most {max} are accepted")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// One rule version or measure is not acceptable.
    #[error("catalogue rule {id}: {problem}")]
    Rule {
        /// The id of the rule or measure.
        id: String,
        /// What is wrong, and what is accepted.
        problem: String,
    },
    /// Two versions of one rule are in force on the same day.
    #[error(
        "catalogue rules {first} and {second} are both in force on {date}; versions of one rule \
         must not overlap"
    )]
    Overlap {
        /// The earlier version.
        first: String,
        /// The later version.
        second: String,
        /// The first day both are in force.
        date: NaiveDate,
    },
    /// The holiday calendar is not acceptable.
    #[error("catalogue calendar: {0}")]
    Calendar(#[from] CalendarError),
}

/// The rules as data. Fields are public so that tests and tools can build variants; a
/// catalogue read from a file has passed [`Catalogue::check`], and the fold never panics on
/// one that has not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The catalogue's own version label, for example `2026-04`.
    pub catalogue_version: String,
    /// What the catalogue is.
    pub description: String,
    /// Caveats about the data, in words.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The credit-code rule.
    pub registration: RegistrationRules,
    /// The abnormal-operations list.
    pub abnormal_list: AbnormalListRules,
    /// The serious list, one entry per version.
    pub serious_list: Vec<SeriousListRule>,
    /// Penalty publication and repair, one entry per version.
    pub publication: Vec<PublicationRule>,
    /// The joint-punishment measures, one entry per version, in the form of their
    /// `measure_defined` events.
    pub measures: Vec<MeasureDefined>,
    /// Narrower triggers of some measures, which the v1 measure payload cannot express.
    #[serde(default)]
    pub measure_scopes: Vec<MeasureScope>,
    /// The working-day calendar; kept in its own file.
    #[serde(skip)]
    pub calendar: HolidayCalendar,
}

impl Catalogue {
    /// The embedded default catalogue with the embedded Chinese holiday calendar.
    pub fn builtin() -> Self {
        // Both embedded files are read by a test on every build, so this cannot fail at run
        // time.
        Self::from_json(DEFAULT_CATALOGUE_JSON, HolidayCalendar::cn())
            .expect("the embedded default catalogue is valid")
    }

    /// Reads and checks a catalogue in the form of `catalogue/default.json`.
    pub fn from_json(text: &str, calendar: HolidayCalendar) -> Result<Self, CatalogueError> {
        if text.len() > CATALOGUE_BYTES_MAX {
            return Err(CatalogueError::TooLarge(text.len()));
        }
        let mut catalogue: Catalogue =
            serde_json::from_str(text).map_err(|e| CatalogueError::Parse(e.to_string()))?;
        catalogue.calendar = calendar;
        catalogue.check()?;
        Ok(catalogue)
    }

    /// The same rules with the measures replaced, for example by those rebuilt from the
    /// catalogue stream with [`measures_from_events`].
    pub fn with_measures(mut self, measures: Vec<MeasureDefined>) -> Result<Self, CatalogueError> {
        self.measures = measures;
        self.check()?;
        Ok(self)
    }

    /// Checks limits, legal bases, dates and overlaps (see the module docs).
    pub fn check(&self) -> Result<(), CatalogueError> {
        check_count("measure versions", self.measures.len(), CATALOGUE_MEASURES_MAX)?;
        check_count("serious-list versions", self.serious_list.len(), CATALOGUE_RULE_VERSIONS_MAX)?;
        check_count("publication versions", self.publication.len(), CATALOGUE_RULE_VERSIONS_MAX)?;
        let abnormal = &self.abnormal_list;
        check_count(
            "abnormal-ground versions",
            abnormal.grounds.len(),
            CATALOGUE_RULE_VERSIONS_MAX,
        )?;
        check_count("transfer versions", abnormal.transfer.len(), CATALOGUE_RULE_VERSIONS_MAX)?;

        check_basis(&self.registration.id, &self.registration.legal_basis)?;
        let general = &abnormal.general_removal;
        check_version(&general.id, &general.in_force, &general.legal_basis, &[])?;
        for rule in &abnormal.grounds {
            check_version(&rule.id, &rule.in_force, &rule.legal_basis, &[])?;
        }
        for rule in &abnormal.transfer {
            let months = [rule.after_months, rule.application_window_months];
            check_version(&rule.id, &rule.in_force, &rule.legal_basis, &months)?;
        }
        for rule in &self.serious_list {
            let months = [rule.term_months, rule.early_removal_min_months.unwrap_or(0)];
            check_version(&rule.id, &rule.in_force, &rule.legal_basis, &months)?;
        }
        for rule in &self.publication {
            check_publication(rule)?;
        }
        for measure in &self.measures {
            check_measure(measure)?;
        }
        self.check_scopes()?;
        self.check_overlaps()
    }

    fn check_scopes(&self) -> Result<(), CatalogueError> {
        for scope in &self.measure_scopes {
            if !self.measures.iter().any(|m| m.measure_id == scope.measure_id) {
                return Err(rule_error(
                    &scope.measure_id,
                    "scope names a measure the catalogue lacks",
                ));
            }
        }
        Ok(())
    }

    fn check_overlaps(&self) -> Result<(), CatalogueError> {
        let abnormal = &self.abnormal_list;
        for ground in ABNORMAL_GROUNDS {
            let versions = abnormal.grounds.iter().filter(|r| r.ground == ground);
            no_overlap(versions.map(|r| (r.id.as_str(), r.in_force)))?;
        }
        no_overlap(abnormal.transfer.iter().map(|r| (r.id.as_str(), r.in_force)))?;
        no_overlap(self.serious_list.iter().map(|r| (r.id.as_str(), r.in_force)))?;
        no_overlap(self.publication.iter().map(|r| (r.id.as_str(), r.in_force)))?;
        let mut ids: Vec<&str> = self.measures.iter().map(|m| m.measure_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let versions = self.measures.iter().filter(|m| m.measure_id == id);
            no_overlap(versions.map(|m| {
                (m.measure_id.as_str(), Validity { from: m.in_force_from, until: m.in_force_until })
            }))?;
        }
        Ok(())
    }

    /// The version of an abnormal-list ground in force on `date`.
    pub fn abnormal_ground(
        &self,
        ground: AbnormalGround,
        date: NaiveDate,
    ) -> Option<&AbnormalGroundRule> {
        self.abnormal_list.grounds.iter().find(|r| r.ground == ground && r.in_force.contains(date))
    }

    /// The version of the three-year transfer rule in force on `date`.
    pub fn transfer(&self, date: NaiveDate) -> Option<&TransferRule> {
        self.abnormal_list.transfer.iter().find(|r| r.in_force.contains(date))
    }

    /// The version of the serious-list rules in force on `date`.
    pub fn serious(&self, date: NaiveDate) -> Option<&SeriousListRule> {
        self.serious_list.iter().find(|r| r.in_force.contains(date))
    }

    /// The version of the publication rules in force on `date`.
    pub fn publication(&self, date: NaiveDate) -> Option<&PublicationRule> {
        self.publication.iter().find(|r| r.in_force.contains(date))
    }

    /// The narrower trigger of a measure, if the catalogue gives one.
    pub fn scope(&self, measure_id: &str) -> Option<&MeasureScope> {
        self.measure_scopes.iter().find(|s| s.measure_id == measure_id)
    }
}

/// Every abnormal-list ground, for checks that must visit each.
const ABNORMAL_GROUNDS: [AbnormalGround; 5] = [
    AbnormalGround::AnnualReportNotFiled,
    AbnormalGround::DisclosureOrderNotMet,
    AbnormalGround::FalseDisclosure,
    AbnormalGround::UnreachableAtAddress,
    AbnormalGround::NameChangeNotMade,
];

fn rule_error(id: &str, problem: impl Into<String>) -> CatalogueError {
    CatalogueError::Rule { id: id.to_owned(), problem: problem.into() }
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), CatalogueError> {
    if count > max {
        return Err(CatalogueError::TooMany { what, count, max });
    }
    Ok(())
}

fn check_basis(id: &str, basis: &[LegalBasis]) -> Result<(), CatalogueError> {
    if id.trim().is_empty() {
        return Err(rule_error(id, "every rule needs a non-empty id"));
    }
    if basis.is_empty() {
        return Err(rule_error(id, "every rule must cite at least one legal basis"));
    }
    Ok(())
}

fn check_version(
    id: &str,
    in_force: &Validity,
    basis: &[LegalBasis],
    months: &[u32],
) -> Result<(), CatalogueError> {
    check_basis(id, basis)?;
    if in_force.until.is_some_and(|until| until < in_force.from) {
        return Err(rule_error(id, "in_force.until must not be before in_force.from"));
    }
    if months.iter().any(|m| *m > RULE_PERIOD_MONTHS_MAX) {
        return Err(rule_error(id, format!("periods are at most {RULE_PERIOD_MONTHS_MAX} months")));
    }
    Ok(())
}

fn check_publication(rule: &PublicationRule) -> Result<(), CatalogueError> {
    let months: Vec<u32> = rule
        .classes
        .iter()
        .flat_map(|c| [c.publication_months, c.repair_min_months.unwrap_or(0)])
        .collect();
    check_version(&rule.id, &rule.in_force, &rule.legal_basis, &months)?;
    check_basis(&rule.id, &rule.repair.legal_basis)?;
    if rule.classes.is_empty() {
        return Err(rule_error(&rule.id, "a publication rule needs at least one class"));
    }
    Ok(())
}

pub(crate) fn check_measure(measure: &MeasureDefined) -> Result<(), CatalogueError> {
    let in_force = Validity { from: measure.in_force_from, until: measure.in_force_until };
    check_version(&measure.measure_id, &in_force, &measure.legal_basis, &[])?;
    if measure.department.trim().is_empty() || measure.title.trim().is_empty() {
        return Err(rule_error(&measure.measure_id, "a measure needs a department and a title"));
    }
    Ok(())
}

/// Fails when two of the versions share a day.
fn no_overlap<'a>(
    versions: impl Iterator<Item = (&'a str, Validity)>,
) -> Result<(), CatalogueError> {
    let mut versions: Vec<(&str, Validity)> = versions.collect();
    versions.sort_by_key(|(_, v)| v.from);
    for pair in versions.windows(2) {
        let ((first, earlier), (second, later)) = (pair[0], pair[1]);
        if earlier.until.is_none_or(|until| until >= later.from) {
            return Err(CatalogueError::Overlap {
                first: first.to_owned(),
                second: second.to_owned(),
                date: later.from,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalogue_reads_and_checks() {
        let catalogue = Catalogue::builtin();
        assert!(!catalogue.measures.is_empty());
        assert_eq!(catalogue.calendar.name(), "cn-public-holidays");
    }

    #[test]
    fn overlapping_versions_are_refused() {
        let mut catalogue = Catalogue::builtin();
        let mut copy = catalogue.serious_list[1].clone();
        copy.id = "serious/copy".into();
        catalogue.serious_list.push(copy);
        assert!(matches!(catalogue.check(), Err(CatalogueError::Overlap { .. })));
    }

    #[test]
    fn rules_without_legal_basis_are_refused() {
        let mut catalogue = Catalogue::builtin();
        catalogue.measures[0].legal_basis.clear();
        let error = catalogue.check().unwrap_err();
        assert!(error.to_string().contains("legal basis"), "{error}");
    }

    #[test]
    fn oversized_input_is_refused() {
        let text = " ".repeat(CATALOGUE_BYTES_MAX + 1);
        assert_eq!(
            Catalogue::from_json(&text, HolidayCalendar::default()),
            Err(CatalogueError::TooLarge(CATALOGUE_BYTES_MAX + 1))
        );
    }
}
