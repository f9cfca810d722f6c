//! What the fold produces: an entity's list stays, publications and restrictions as intervals
//! of valid time, and its credit status on one date.
//!
//! Every interval is half-open, `[start, end)`, in calendar dates of China Standard Time; `end`
//! is the first day the thing no longer holds, and `None` means no end is known yet (an
//! abnormal-list stay until removal, a restriction while listed). Time passing ends many of
//! them with no event (a serious-list term, a publication period, a fixed-term measure), which
//! is why views store intervals and read them at a date: [`Timeline::at`] is the only reading,
//! and a [`CreditStatus`] is exactly the intervals that contain its date.

use chrono::NaiveDate;
use ledger_core::events::{AbnormalGround, CaseCategory, LegalBasis, PenaltyKind, SeriousGround};
use serde::{Deserialize, Serialize};

use crate::dates::contains;

/// The two lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// The abnormal-operations list (经营异常名录).
    Abnormal,
    /// The serious illegal and dishonest list (严重违法失信名单).
    Serious,
}

/// The ground of a list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListGround {
    /// A ground of the abnormal-operations list.
    Abnormal(AbnormalGround),
    /// A ground of the serious list.
    Serious(SeriousGround),
}

/// Why a list stay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListEnd {
    /// A removal decision, recorded at this position.
    Removed {
        /// The removal event's position.
        position: u64,
    },
    /// The term ran out; no event was needed.
    Expired,
    /// A penalty the entry rested on was revoked, at this position.
    PenaltyRevoked {
        /// The revocation event's position.
        position: u64,
    },
}

/// One stay of the entity on a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListInterval {
    /// Which list.
    pub list: ListKind,
    /// Why the entity was put on it.
    pub ground: ListGround,
    /// The entry decision's number.
    pub decision_number: String,
    /// The entry event's position.
    pub entry_position: u64,
    /// The first day on the list.
    pub start: NaiveDate,
    /// The first day off the list: the removal, the end of the term, or a revocation; `None`
    /// while no end is known.
    pub end: Option<NaiveDate>,
    /// Why the stay ends at `end`.
    pub end_reason: Option<ListEnd>,
    /// The id of the catalogue rule version that governs the stay, if any is in force on its
    /// first day.
    pub rule_version: Option<String>,
    /// The provisions the entry decision cites.
    pub legal_basis: Vec<LegalBasis>,
    /// Abnormal list: the day the old transfer to the serious list fell due, when the stay
    /// lasted that long and a transfer rule was in force on that day.
    pub transfer_due: Option<NaiveDate>,
    /// Serious list: the first day early removal may be decided, under the stay's rules.
    pub early_removal_from: Option<NaiveDate>,
}

/// Why a publication interval ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicationEnd {
    /// The publication period ran out.
    Expired,
    /// Credit repair ended it early, at this position.
    Repaired {
        /// The repair event's position.
        position: u64,
    },
    /// The penalty was revoked, at this position.
    Revoked {
        /// The revocation event's position.
        position: u64,
    },
    /// A change of the penalty took effect, at this position; publication may go on in a
    /// following interval with the changed attributes.
    Changed {
        /// The change event's position.
        position: u64,
    },
}

/// A stretch of time during which a penalty is publicly shown, with unchanged attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationInterval {
    /// The penalty decision's number.
    pub decision_number: String,
    /// The penalty decision event's position.
    pub decision_position: u64,
    /// The penalty's effective date, from which its periods count.
    pub decided_on: NaiveDate,
    /// The case category over this interval.
    pub case_category: CaseCategory,
    /// The penalty kinds over this interval.
    pub penalty_kinds: Vec<PenaltyKind>,
    /// The publication class that set the period, for example `light` or `serious`.
    pub class: String,
    /// The id of the publication rule version that governs the penalty.
    pub rule_version: String,
    /// The provisions of that rule version.
    pub legal_basis: Vec<LegalBasis>,
    /// The first day shown in this interval.
    pub start: NaiveDate,
    /// The first day no longer shown under these attributes.
    pub end: Option<NaiveDate>,
    /// Why it ends at `end`.
    pub end_reason: Option<PublicationEnd>,
    /// The decision and the changes that shaped this interval.
    pub caused_by: Vec<u64>,
    /// The last day by which the penalty must have been published, when the calendar covers
    /// the deadline.
    pub publication_due: Option<NaiveDate>,
    /// The first day credit repair may end publication; `None` when it never may.
    pub repair_allowed_from: Option<NaiveDate>,
}

/// What kind of record triggered a restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// An abnormal-list stay.
    AbnormalList,
    /// A serious-list stay.
    SeriousList,
    /// A penalty of the measure's class.
    Penalty,
    /// A revocation of the business licence.
    LicenceRevoked,
}

impl TriggerKind {
    /// The name used in JSON (`abnormal_list`, `serious_list`, `penalty`, `licence_revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AbnormalList => "abnormal_list",
            Self::SeriousList => "serious_list",
            Self::Penalty => "penalty",
            Self::LicenceRevoked => "licence_revoked",
        }
    }
}

/// One joint-punishment measure applying to the entity over a stretch of time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionInterval {
    /// The measure's catalogue id.
    pub measure_id: String,
    /// The measure version, named by its first day in force.
    pub measure_version: NaiveDate,
    /// The department that applies it.
    pub department: String,
    /// The measure's title.
    pub title: String,
    /// The provisions the measure rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// What kind of record triggered it.
    pub trigger: TriggerKind,
    /// The triggering record's decision number.
    pub trigger_decision_number: String,
    /// The first day it applies.
    pub start: NaiveDate,
    /// The first day it no longer applies; `None` while the trigger lasts with no known end.
    pub end: Option<NaiveDate>,
    /// The positions of the events that caused it: the triggering record and what it rests on.
    pub caused_by: Vec<u64>,
}

impl ListInterval {
    /// Whether the entity is on the list on `date`.
    pub fn contains(&self, date: NaiveDate) -> bool {
        contains(self.start, self.end, date)
    }
}

impl PublicationInterval {
    /// Whether the penalty is shown on `date`.
    pub fn contains(&self, date: NaiveDate) -> bool {
        contains(self.start, self.end, date)
    }
}

impl RestrictionInterval {
    /// Whether the measure applies on `date`.
    pub fn contains(&self, date: NaiveDate) -> bool {
        contains(self.start, self.end, date)
    }
}

/// Every interval of one entity over all time, as the ledger knew it at some position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// The position the timeline was computed as of; `None` for everything recorded.
    pub known_at_position: Option<u64>,
    /// Every list stay.
    pub lists: Vec<ListInterval>,
    /// Every stretch of publication.
    pub publications: Vec<PublicationInterval>,
    /// Every restriction.
    pub restrictions: Vec<RestrictionInterval>,
}

impl Timeline {
    /// The status on `date`: the intervals that contain it, in the timeline's order.
    pub fn at(&self, date: NaiveDate) -> CreditStatus {
        CreditStatus {
            as_of: date,
            known_at_position: self.known_at_position,
            lists: self.lists.iter().filter(|i| i.contains(date)).cloned().collect(),
            penalties: self.publications.iter().filter(|i| i.contains(date)).cloned().collect(),
            restrictions: self.restrictions_at(date).cloned().collect(),
        }
    }

    /// The restrictions in force on `date`, in the timeline's order: what [`Timeline::at`]
    /// returns as `restrictions`, without copying the lists and publications a partner's
    /// answer does not show.
    pub fn restrictions_at(&self, date: NaiveDate) -> impl Iterator<Item = &RestrictionInterval> {
        self.restrictions.iter().filter(move |i| i.contains(date))
    }
}

/// An entity's credit status on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditStatus {
    /// The date asked about.
    pub as_of: NaiveDate,
    /// The position the status was computed as of; `None` for everything recorded.
    pub known_at_position: Option<u64>,
    /// The lists the entity is on, and why.
    pub lists: Vec<ListInterval>,
    /// The penalties publicly shown, and until when.
    pub penalties: Vec<PublicationInterval>,
    /// Every restriction in force.
    pub restrictions: Vec<RestrictionInterval>,
}

impl CreditStatus {
    /// Whether the entity is on `list` on the date.
    pub fn is_listed(&self, list: ListKind) -> bool {
        self.lists.iter().any(|i| i.list == list)
    }

    /// Whether the measure applies on the date.
    pub fn is_restricted_by(&self, measure_id: &str) -> bool {
        self.restrictions.iter().any(|r| r.measure_id == measure_id)
    }
}

#[cfg(test)]
mod tests {
    use super::TriggerKind;

    #[test]
    fn trigger_names_are_their_json_names() {
        for kind in [
            TriggerKind::AbnormalList,
            TriggerKind::SeriousList,
            TriggerKind::Penalty,
            TriggerKind::LicenceRevoked,
        ] {
            let json = serde_json::to_value(kind).expect("serialises");
            assert_eq!(json.as_str(), Some(kind.as_str()), "{kind:?}");
        }
    }
}
