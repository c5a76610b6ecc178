//! The evaluation's outside systems, each behind a small trait returning
//! fanin's own types. AWS and OpenSearch adapters are in
//! [`super::aws`]; in-memory fakes in [`super::fakes`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use fanin::exposure::evaluate::Traffic;
use fanin::exposure::record::{LinkedVulnerability, UsageRecord};
use fanin::ids::{AccountId, Region};
use fanin::ports::{AccountSession, CallError};

/// Security-group rule changes in an account and region.
///
/// Failure contract: `Denied` when the read role may not call
/// `cloudtrail:LookupEvents` (the evaluation then judges every rule from
/// the window's start and says so in its summary); `Transient` otherwise.
#[async_trait]
pub trait RuleChangeLog: Send + Sync {
    /// The last time each rule was added or modified since `since`
    /// (`AuthorizeSecurityGroupIngress`, `ModifySecurityGroupRules`), by
    /// rule id. Failed calls are not changes.
    async fn rule_changes(
        &self,
        session: &AccountSession,
        region: &Region,
        since: DateTime<Utc>,
    ) -> Result<BTreeMap<String, DateTime<Utc>>, CallError>;
}

/// The flow aggregates ingest wrote to the archive
/// (`flow-aggregates/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/`).
///
/// Failure contract: `Transient` on throttling and 5xx; an object that does
/// not read (bad gzip, a line that is not an aggregate) is left out and
/// logged with its key, never a failure of the evaluation.
#[async_trait]
pub trait AggregateArchive: Send + Sync {
    /// The accounts and regions with aggregates on any of `days`.
    async fn partitions(
        &self,
        days: &[NaiveDate],
    ) -> Result<BTreeSet<(AccountId, Region)>, CallError>;

    /// The aggregates and the coverage of an account and region on `days`,
    /// merged.
    async fn traffic(
        &self,
        account: &AccountId,
        region: &Region,
        days: &[NaiveDate],
    ) -> Result<Traffic, CallError>;
}

/// The vulnerability findings of instances (OCSF 2002, latest index).
///
/// Failure contract: `Transient` or `Denied` from the cluster; the
/// evaluation then emits its records without the link and says so.
#[async_trait]
pub trait VulnerabilityIndex: Send + Sync {
    /// Open findings of severity_id >= 5 on any of `instance_ids`.
    async fn critical_findings(
        &self,
        instance_ids: &[String],
    ) -> Result<Vec<LinkedVulnerability>, CallError>;
}

/// The central bus.
///
/// Failure contract: the call's error (`Transient` or `Denied`) fails the
/// whole batch; entries EventBridge refused one by one are answered by
/// position, for a retry of those only.
#[async_trait]
pub trait RecordBus: Send + Sync {
    /// Puts up to 10 records; answers the positions of the refused ones.
    async fn put(&self, records: &[UsageRecord]) -> Result<Vec<usize>, CallError>;
}
