//! The security-group guard's core: one policy ([`policy`]) read by both
//! paths, the permission model every AWS shape is read into
//! ([`permission`]), the pure decisions ([`evaluate`]), the CloudTrail
//! change events the real-time path takes ([`cloudtrail`]), and the record
//! of each decision ([`record`]) that reaches the central store.
//!
//! The guard function (crate `fanin-guard`) does the calls around these:
//! it describes the group, asks [`evaluate`] what stands, revokes what does
//! not by rule id, and emits a [`record::GuardRecord`]. The collector turns
//! records into OCSF findings (`crate::sources::guard`). `docs/guard.md`
//! describes the whole.

pub mod cloudtrail;
pub mod evaluate;
pub mod ocsf;
pub mod permission;
pub mod policy;
pub mod record;
