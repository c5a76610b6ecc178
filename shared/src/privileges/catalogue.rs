//! The IAM actions of every service, embedded from a pinned, dated source.
//!
//! OWNER: helper "grants". Contract: `Catalogue::embedded()`,
//! `expand(pattern)` (IAM wildcards `*` and `?`, case-insensitive, answers
//! the catalogue's spelling `service:Action`), `canonical(action)`,
//! `has_service(prefix)`, and [`SOURCE`] (package, version, date) for the
//! docs and the findings.

/// Where the catalogue comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueSource {
    /// The registry package it is generated from.
    pub package: &'static str,
    pub version: &'static str,
    /// The package's own `updatedAt` (RFC 3339).
    pub updated_at: &'static str,
}
