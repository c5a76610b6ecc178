//! Least privilege from CloudTrail: what each principal of the organization
//! is allowed, what it used in a window, and what to remove. Pure; the AWS
//! reads, the ingest of trail objects and the scheduled evaluation are in
//! the `privileges/` crate.
//!
//! - [`principal`]: who made a call, as IAM names it (assumed-role sessions
//!   folded into their role).
//! - [`trail`]: CloudTrail log objects (`{"Records": [...]}`) read record by
//!   record, borrowing from the bytes; [`window`]: the bounded window a
//!   streamed object is read through.
//! - [`actions`]: CloudTrail event names mapped to IAM actions.
//! - [`usage`]: per (principal, action) first and last use, count and
//!   denied attempts; the per-object documents and their merge over a
//!   window.
//! - [`catalogue`]: the IAM actions of every service, embedded from a
//!   pinned, dated source.
//! - [`policy`]: IAM policy documents and their expansion into actions.
//! - [`authz`]: an account's authorization details and what each principal
//!   is granted.
//! - [`report`]: used / granted but unused / used but not granted, and the
//!   suggested policy.
//! - [`record`] and [`ocsf`]: the record put on the central bus and its
//!   OCSF 2003 Compliance Finding (`crate::sources::privileges` decodes it).
//!
//! `docs/privileges.md` describes the method and its limits.

pub mod actions;
pub mod authz;
pub mod catalogue;
pub mod ocsf;
pub mod policy;
pub mod principal;
pub mod record;
pub mod report;
pub mod trail;
pub mod usage;
pub mod window;
