//! Completion reports at the edge (docs/contract.md, Completion reports): the bounded queue ([`queue`]) and
//! the sender that POSTs each signed report to its `notify_url` ([`sender`]).
//!
//! What a report says and how it is signed is [`crate::core::report`]'s; the server builds reports from
//! what a download knew and hands them here. This module must not delay a download: submitting never
//! waits.

pub mod queue;
pub mod sender;

pub use sender::{Drained, Job, ReportSettings, Reports};
