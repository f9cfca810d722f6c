//! The endpoints, one module per kind of caller.

pub mod admin;
pub mod auditor;
pub mod operator;
pub mod partner;
pub mod projections;
pub mod recorder;
pub mod views;
