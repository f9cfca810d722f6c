//! The pure domain of Credit Ledger.
//!
//! This crate holds everything that must mean the same thing on the server, in a rebuild job
//! and in an auditor's offline verifier: the unified social credit code, the event envelope and
//! its hash, the canonical JSON form of payloads, the Merkle log with its proofs, and signed
//! checkpoints. It does no I/O: no files, no network, no database, no clock. Callers hand it
//! bytes and times and get values back, which is what lets the same code run everywhere.

pub mod bundle;
pub mod canonical;
pub mod checkpoint;
pub mod code;
pub mod event;
pub mod events;
pub mod hash;
pub mod merkle;

pub use code::{CheckOverride, CheckStatus, CodeError, CreditCode};
pub use event::{EventError, EventHash, RecordedEvent, StreamName};
pub use hash::Hash32;
