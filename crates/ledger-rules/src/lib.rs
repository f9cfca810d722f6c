//! The rules of Credit Ledger as data, and the one function that applies them.
//!
//! Partner departments ask "which of my measures apply to entity X on date D, and why". The
//! answer depends on the entity's recorded facts and on rules that change over time: list
//! grounds come and go, terms differ between the 2016 and 2021 measures, publication periods
//! get a new classification in 2026, and each joint-punishment measure has its own dates in
//! force. So this crate keeps the rules as versioned data (a [`Catalogue`] read from
//! `catalogue/default.json`, with a [`HolidayCalendar`] for working-day deadlines) and offers:
//!
//! - [`validate`]: whether a new fact fits the entity's history and the rules in force on its
//!   date, with a [`RuleViolation`] naming the rule and its legal basis when it does not;
//! - [`fold`]: the entity's [`CreditStatus`] on a date, as known now or as the ledger knew it
//!   at a position; every view of the ledger is a cache of this function;
//! - [`intervals`] and [`timeline`]: the same status as intervals over all time, which
//!   projections store and read at a date, so that time passing ends restrictions with no
//!   event.
//!
//! The crate does no I/O: it opens no file (the default catalogue and calendar are embedded at
//! compile time with `include_str!`), reads no clock (every date is an argument) and touches no
//! database. The same code therefore gives the same answer in the server, in a rebuild job and
//! in a test.

pub mod calendar;
pub mod catalogue;
mod dates;
mod fold;
mod history;
mod restrict;
pub mod status;
pub mod validate;

pub use calendar::{CalendarError, HolidayCalendar};
pub use catalogue::{
    catalogue_stream, measure_events, measures_from_events, Catalogue, CatalogueError,
    CATALOGUE_STREAM,
};
pub use dates::{china_date, CHINA_STANDARD_TIME_OFFSET_SECONDS};
pub use fold::{fold, intervals, timeline};
pub use status::{
    CreditStatus, ListEnd, ListGround, ListInterval, ListKind, PublicationEnd, PublicationInterval,
    RestrictionInterval, Timeline, TriggerKind,
};
pub use validate::{validate, Rule, RuleViolation};
