//! The evaluation's outside systems, each behind a small trait returning
//! fanin's own types. AWS adapters are in [`super::aws`]; in-memory fakes
//! in [`super::fakes`].

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fanin::ids::AccountId;
use fanin::ports::CallError;
use fanin::privileges::authz::PrincipalEntry;
use fanin::privileges::record::PrivilegeRecord;
use fanin::privileges::usage::WindowUsage;

/// The usage the ingest wrote to the archive (`iam-usage/`), merged over a
/// window (`crate::ingest::read_window`).
///
/// Failure contract: an error fails the run (nothing can be judged without
/// the usage); an object that does not read is left out and logged by the
/// reader, never an error.
#[async_trait]
pub trait UsageArchive: Send + Sync {
    /// The usage of `accounts` (every account with objects when `None`)
    /// between `start` and `end`.
    async fn window(
        &self,
        accounts: Option<&[String]>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> anyhow::Result<WindowUsage>;
}

/// What each user and role of an account is granted, from its
/// authorization details read through the read role
/// (`crate::authz::AuthorizationReader` and
/// `AuthorizationDetails::principals`).
///
/// Failure contract: `Denied` when the read role cannot be assumed or may
/// not call `iam:GetAccountAuthorizationDetails`, `Transient` on throttling
/// and 5xx; the account is then left out of the run and named in its
/// summary.
#[async_trait]
pub trait GrantsReader: Send + Sync {
    /// `organization`: the accounts of the organization (those the trail
    /// covers, and the central one); a role trusted by any other is
    /// trusted from outside.
    async fn principals(
        &self,
        account: &AccountId,
        organization: &BTreeSet<String>,
    ) -> Result<Vec<PrincipalEntry>, CallError>;
}

/// The central bus.
///
/// Failure contract: the call's error (`Transient` or `Denied`) fails the
/// run; entries EventBridge refused one by one are answered by position,
/// for a retry of those only.
#[async_trait]
pub trait RecordBus: Send + Sync {
    /// Puts up to 10 records; answers the positions of the refused ones.
    async fn put(&self, records: &[PrivilegeRecord]) -> Result<Vec<usize>, CallError>;
}
