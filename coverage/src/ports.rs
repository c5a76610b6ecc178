//! The outside systems the coverage check reads, as small traits returning
//! the check's own types. The failure contract is fanin's
//! ([`fanin::ports::CallError`]): `Denied`, `Transient` or `Rejected`, with
//! the service's error code kept. No adapter retries on top of the SDK.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fanin::ids::{AccountId, Region};
use fanin::ports::{AccountSession, CallError};
use serde::Serialize;

/// One account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationAccount {
    pub id: AccountId,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE` (Organizations' words).
    pub status: String,
    pub name: String,
}

impl OrganizationAccount {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub accounts: Vec<OrganizationAccount>,
}

/// The organization and every one of its accounts.
///
/// Contract: every `ListAccounts` page is read; an account id that is not
/// twelve digits is left out (and logged), never passed on. Failing here
/// fails the whole check: without the list there is nothing to compare.
#[async_trait]
pub trait OrganizationDirectory: Send + Sync {
    async fn organization(&self) -> Result<Organization, CallError>;
}

/// Inspector2 findings indexed per (account, region).
pub type EventCounts = BTreeMap<(AccountId, Region), u64>;

/// The findings index, as a counter of recent Inspector2 findings.
///
/// Contract: one aggregation over every account and region (paged, not one
/// query per account); counts the latest-state documents of source
/// `inspector2` whose update time is at or after `since`. A missing index is
/// zero everywhere, not an error.
#[async_trait]
pub trait EventCounter: Send + Sync {
    async fn inspector2_counts(&self, since: DateTime<Utc>) -> Result<EventCounts, CallError>;
}

/// Whether a named resource exists in an account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Present,
    /// It exists but does nothing (an EventBridge rule in state DISABLED).
    Disabled,
    Missing,
}

/// Inspector Classic templates of one account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TemplateSubscriptions {
    pub templates: usize,
    /// Templates with a `FINDING_REPORTED` subscription to the central topic.
    pub subscribed: usize,
}

/// What the read role shows of fanin's resources in one account and region.
///
/// Contract: a resource that does not exist is `Ok(Presence::Missing)`, not
/// an error; `Denied` means the read role lacks the permission.
#[async_trait]
pub trait AccountInspector: Send + Sync {
    /// The forwarder Lambda (`fanin-forwarder`).
    async fn forwarder(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Presence, CallError>;
    /// The rule forwarding Inspector2 findings (`fanin-inspector2-to-central`).
    async fn inspector2_rule(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Presence, CallError>;
    /// Every assessment template, and how many report findings to `topic_arn`.
    async fn classic_subscriptions(
        &self,
        session: &AccountSession,
        region: &Region,
        topic_arn: &str,
    ) -> Result<TemplateSubscriptions, CallError>;
}

/// One CloudWatch value in the `fanin` namespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricValue {
    pub name: &'static str,
    /// `(dimension name, value)`, e.g. `("Kind", "read_role_unusable")`.
    pub dimension: Option<(&'static str, &'static str)>,
    pub value: f64,
}

/// Publishes metrics. Contract: all of them or an error.
#[async_trait]
pub trait MetricSink: Send + Sync {
    async fn publish(&self, values: &[MetricValue]) -> Result<(), CallError>;
}
