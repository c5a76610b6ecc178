//! The record of one guard decision: what the guard function puts on its
//! account's default bus (`source: fanin.guard`), what the StackSet rule
//! forwards to the central bus, and what the collector turns into an OCSF
//! finding (2004 for a change, 2003 for a compliance evaluation).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cloudtrail::ChangeKind;
use super::evaluate::{Actor, MissingRule, Verdict};
use super::permission::{Direction, Permission};
use super::policy::Mode;

/// The records' EventBridge `source`.
pub const SOURCE: &str = "fanin.guard";
/// `detail-type` of a real-time decision (OCSF 2004 Detection Finding).
pub const DECISION_DETAIL_TYPE: &str = "Security Group Guard Decision";
/// `detail-type` of a compliance evaluation (OCSF 2003 Compliance Finding).
pub const COMPLIANCE_DETAIL_TYPE: &str = "Security Group Compliance";
/// The record format's version.
pub const RECORD_VERSION: u32 = 1;

/// One decision on one security group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardRecord {
    pub record_version: u32,
    /// Stable id: `<account>/<region>/<group>/<event id>` for a change,
    /// `<account>/<region>/<group>/compliance` for an evaluation (whose
    /// successive evaluations are versions of one finding).
    pub uid: String,
    pub account: String,
    pub region: String,
    pub group: GroupSummary,
    /// The covering selector, its mode, and the policy's digest.
    pub selector: String,
    pub mode: Mode,
    pub policy_digest: String,
    pub outcome: Outcome,
    /// When the guard decided (and the record's version time).
    pub decided_at: DateTime<Utc>,
    /// The call that triggered a real-time decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeSummary>,
    /// Each rule the call added or changed, judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleDecision>,
    /// The group against its desired rules (after the decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance: Option<ComplianceSummary>,
    /// What uses the group, and whether it is reachable from the internet.
    #[serde(default)]
    pub attached: Vec<AttachedInterface>,
    pub internet_exposed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// The group as it was when decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group_id: String,
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub break_glass: bool,
}

/// The decision's outcome, most severe first when a call has several rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A revoke (or a remediation) failed: the unapproved rule may stand.
    Failed,
    /// Unapproved rules were revoked.
    Reverted,
    /// Audit mode: unapproved rules stand, recorded.
    WouldRevert,
    /// Config remediation made the group equal to its desired rules.
    Remediated,
    /// Config: the group differs from its desired rules.
    NonCompliant,
    /// The group carries the break-glass tag: left alone.
    BreakGlass,
    /// Every changed rule is approved.
    Approved,
    /// Config: the group equals its desired rules.
    Compliant,
}

/// The CloudTrail call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeSummary {
    pub event_id: String,
    pub event_name: ChangeKind,
    pub event_time: DateTime<Utc>,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What was done with one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Approved: left as it is.
    Kept,
    /// Revoked by its rule id.
    Revoked,
    /// Audit mode: would have been revoked.
    WouldRevoke,
    /// Already gone when the guard revoked it (success).
    AlreadyGone,
    /// The revoke failed (`error` says why).
    Failed,
    /// Config remediation authorized a missing permission.
    Authorized,
}

/// One rule, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleDecision {
    pub rule_id: String,
    pub direction: Direction,
    /// The rule as the call left it (`None` when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Permission>,
    /// The rule after the guard acted (`None` once revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Permission>,
    pub verdict: Verdict,
    pub action: RuleAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The group against its desired rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceSummary {
    pub compliant: bool,
    /// `COMPLIANT`, `NON_COMPLIANT` or `NOT_APPLICABLE`, as reported to Config.
    pub status: String,
    pub annotation: String,
    #[serde(default)]
    pub extra: Vec<ExtraRule>,
    #[serde(default)]
    pub missing: Vec<MissingRule>,
    /// Config path: what remediation did (empty when off).
    #[serde(default)]
    pub remediation: Vec<RuleDecision>,
    /// Config path: `change` or `scheduled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// A rule the desired set does not have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraRule {
    pub rule_id: String,
    pub direction: Direction,
    pub permission: Permission,
}

/// A network interface that uses the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedInterface {
    pub interface_id: String,
    /// `interface`, `lambda`, `nat_gateway`, `network_load_balancer`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_type: Option<String>,
    /// The instance, or what the requester/description says it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub private_ips: Vec<String>,
    #[serde(default)]
    pub public_ips: Vec<String>,
    #[serde(default)]
    pub ipv6_addresses: Vec<String>,
}

/// Time to revert: from CloudTrail's event time to the revoke's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub event_time: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// When the last revoke answered (`None` when nothing was revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// `revoked_at - event_time`, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_revert_ms: Option<i64>,
    /// From receiving the event to the last revoke's answer, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_ms: Option<i64>,
}

impl Timing {
    pub fn new(
        event_time: DateTime<Utc>,
        received_at: DateTime<Utc>,
        revoked_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            event_time,
            received_at,
            revoked_at,
            time_to_revert_ms: revoked_at.map(|t| (t - event_time).num_milliseconds()),
            guard_ms: revoked_at.map(|t| (t - received_at).num_milliseconds()),
        }
    }
}

/// The overall outcome of a change: the most severe of its rules'.
pub fn change_outcome(rules: &[RuleDecision], break_glass: bool) -> Outcome {
    let worst = rules
        .iter()
        .map(|rule| match rule.action {
            RuleAction::Failed => Outcome::Failed,
            RuleAction::Revoked | RuleAction::AlreadyGone => Outcome::Reverted,
            RuleAction::WouldRevoke => Outcome::WouldRevert,
            RuleAction::Authorized => Outcome::Remediated,
            RuleAction::Kept => Outcome::Approved,
        })
        .min()
        .unwrap_or(Outcome::Approved);
    if break_glass && worst == Outcome::Approved {
        Outcome::BreakGlass
    } else {
        worst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(action: RuleAction) -> RuleDecision {
        RuleDecision {
            rule_id: "sgr-01".into(),
            direction: Direction::Ingress,
            before: None,
            after: None,
            verdict: Verdict::NotInDesiredSet,
            action,
            error: None,
        }
    }

    #[test]
    fn the_worst_rule_decides_the_outcome() {
        assert_eq!(
            change_outcome(
                &[decision(RuleAction::Kept), decision(RuleAction::Revoked)],
                false
            ),
            Outcome::Reverted
        );
        assert_eq!(
            change_outcome(
                &[decision(RuleAction::Revoked), decision(RuleAction::Failed)],
                false
            ),
            Outcome::Failed
        );
        assert_eq!(
            change_outcome(&[decision(RuleAction::Kept)], true),
            Outcome::BreakGlass
        );
        assert_eq!(change_outcome(&[], false), Outcome::Approved);
    }

    #[test]
    fn timing_counts_from_the_event() {
        let event = DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .unwrap()
            .to_utc();
        let received = DateTime::parse_from_rfc3339("2026-11-30T12:00:02.500Z")
            .unwrap()
            .to_utc();
        let revoked = DateTime::parse_from_rfc3339("2026-11-30T12:00:02.740Z")
            .unwrap()
            .to_utc();
        let timing = Timing::new(event, received, Some(revoked));
        assert_eq!(timing.time_to_revert_ms, Some(2740));
        assert_eq!(timing.guard_ms, Some(240));
    }
}
