//! The guard's outside systems, each behind a trait the guard owns. The AWS
//! adapters (`crate::aws`) are one method per SDK call, paginated; the
//! in-memory fakes (`crate::fakes`) play them in the handler tests.
//!
//! Every method fails with [`CallError`], which keeps the AWS error code:
//! the handler decides from it (a rule already gone is success, a duplicate
//! authorization is success, anything else is recorded and fails the
//! invocation so that EventBridge or Config delivers the event again).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fanin::guard::permission::{Direction, GroupRule, Permission};
use fanin::guard::record::AttachedInterface;
use fanin::ports::CallError;

/// A security group without its rules (`DescribeSecurityGroups`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDescription {
    pub group_id: String,
    pub group_name: String,
    pub vpc_id: Option<String>,
    pub owner_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// How a call names its group: by id, or by name in the default VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    Id(String),
    Name(String),
}

/// One rule with the group it belongs to (`DescribeSecurityGroupRules`).
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedRule {
    pub group_id: String,
    pub rule: GroupRule,
}

/// EC2 security groups of the function's own account and region.
///
/// Failure contract: every error is the call's [`CallError`] with its AWS
/// code. A group that does not exist is `Ok(None)` / an empty list, not an
/// error. Revoking a rule id that no longer exists fails with the code EC2
/// gives (`InvalidSecurityGroupRuleId.NotFound` or
/// `InvalidPermission.NotFound`); authorizing an existing permission fails
/// with `InvalidPermission.Duplicate`: the caller treats both as success.
#[async_trait]
pub trait SecurityGroups: Send + Sync {
    /// One group by id or name (`DescribeSecurityGroups`).
    async fn describe_group(
        &self,
        lookup: &GroupLookup,
    ) -> Result<Option<GroupDescription>, CallError>;

    /// Every group of the account and region (`DescribeSecurityGroups`,
    /// paginated).
    async fn list_groups(&self) -> Result<Vec<GroupDescription>, CallError>;

    /// The rules of these groups, with their ids; every rule of the region
    /// when `group_ids` is empty (`DescribeSecurityGroupRules`, paginated).
    async fn describe_rules(&self, group_ids: &[String]) -> Result<Vec<DescribedRule>, CallError>;

    /// The network interfaces that use a group (`DescribeNetworkInterfaces`
    /// filtered on `group-id`, paginated).
    async fn describe_interfaces(
        &self,
        group_id: &str,
    ) -> Result<Vec<AttachedInterface>, CallError>;

    /// Revokes rules of one direction by their ids, in one call
    /// (`RevokeSecurityGroupIngress` / `RevokeSecurityGroupEgress` with
    /// `SecurityGroupRuleIds`).
    async fn revoke_rules(
        &self,
        group_id: &str,
        direction: Direction,
        rule_ids: &[String],
    ) -> Result<(), CallError>;

    /// Authorizes permissions of one direction, one `IpPermission` each, in
    /// one call (`AuthorizeSecurityGroupIngress` / `...Egress`).
    async fn authorize(
        &self,
        group_id: &str,
        direction: Direction,
        permissions: &[Permission],
    ) -> Result<(), CallError>;
}

/// One evaluation reported to AWS Config.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// `AWS::EC2::SecurityGroup`.
    pub resource_type: String,
    pub resource_id: String,
    /// `COMPLIANT`, `NON_COMPLIANT` or `NOT_APPLICABLE`.
    pub compliance: String,
    pub annotation: Option<String>,
    pub ordering_timestamp: DateTime<Utc>,
}

/// AWS Config's evaluation results.
///
/// Failure contract: the call's [`CallError`]; `Ok` carries the resource ids
/// of the evaluations Config did not accept (`FailedEvaluations`), which the
/// caller treats as a failed invocation.
#[async_trait]
pub trait ComplianceReporter: Send + Sync {
    /// `PutEvaluations` with at most 100 evaluations.
    async fn put_evaluations(
        &self,
        result_token: &str,
        evaluations: &[Evaluation],
    ) -> Result<Vec<String>, CallError>;
}

/// One EventBridge entry: a guard record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordEntry {
    pub detail_type: &'static str,
    /// The `GuardRecord` as JSON.
    pub detail: String,
}

/// Where records go: the account's event bus, forwarded to the central bus.
///
/// Failure contract: the call's [`CallError`]; `Ok` carries the number of
/// entries EventBridge refused (`FailedEntryCount`), which the caller treats
/// as a failed invocation: a record is the only thing that reaches the
/// central store, so it is never dropped silently.
#[async_trait]
pub trait RecordSink: Send + Sync {
    /// `PutEvents` with at most 10 entries, `source` `fanin.guard`.
    async fn put_records(&self, entries: &[RecordEntry]) -> Result<usize, CallError>;
}

/// Human notifications (SNS).
///
/// Failure contract: the call's [`CallError`]. A failed notification is
/// logged and does not fail the invocation: the record already carries the
/// decision.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, subject: &str, message: &str) -> Result<(), CallError>;
}
