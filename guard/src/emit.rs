//! Records out: every decision becomes a [`GuardRecord`] on the account's
//! event bus (batches of 10, refused entries fail the invocation), and the
//! decisions a person should hear of become a short SNS notification.
//! Also the pieces of a record both paths build alike.

use chrono::Utc;
use fanin::guard::evaluate::{Coverage, GroupFacts, StateDiff, is_internet};
use fanin::guard::permission::{Direction, GroupRule};
use fanin::guard::policy::RuleSet;
use fanin::guard::record::{
    AttachedInterface, ComplianceSummary, ExtraRule, GroupSummary, GuardRecord, Outcome,
    RECORD_VERSION, RuleDecision,
};
use tracing::{info, warn};

use crate::ports::RecordEntry;
use crate::{Guard, GuardError};

/// EventBridge's limit of entries per `PutEvents`.
pub const PUT_EVENTS_BATCH: usize = 10;
/// SNS's limit on a subject.
pub const SUBJECT_LIMIT: usize = 100;

/// Puts the records on the bus, then notifies. Answers how many went out.
pub async fn emit(
    guard: &Guard,
    records: &[GuardRecord],
    detail_type: &'static str,
) -> Result<usize, GuardError> {
    let entries = records
        .iter()
        .map(|record| {
            Ok(RecordEntry {
                detail_type,
                detail: serde_json::to_string(record)?,
            })
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    let mut refused = 0;
    for batch in entries.chunks(PUT_EVENTS_BATCH) {
        refused += guard.records.put_records(batch).await?;
    }
    if refused > 0 {
        return Err(GuardError::RecordsRefused(refused));
    }
    for record in records {
        info!(
            uid = %record.uid,
            account_id = %record.account,
            region = %record.region,
            group_id = %record.group.group_id,
            outcome = ?record.outcome,
            "guard record emitted"
        );
    }
    if let Some(notifier) = &guard.notifier {
        for record in records.iter().filter(|r| notable(r.outcome)) {
            let (subject, message) = notification(record);
            if let Err(error) = notifier.notify(&subject, &message).await {
                warn!(uid = %record.uid, error = %error, "notification not sent");
            }
        }
    }
    Ok(records.len())
}

/// The outcomes a person is told of.
pub fn notable(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Reverted | Outcome::WouldRevert | Outcome::Failed | Outcome::NonCompliant
    )
}

fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Failed => "failed",
        Outcome::Reverted => "reverted",
        Outcome::WouldRevert => "would revert",
        Outcome::Remediated => "remediated",
        Outcome::NonCompliant => "non-compliant",
        Outcome::BreakGlass => "break-glass",
        Outcome::Approved => "approved",
        Outcome::Compliant => "compliant",
    }
}

/// Subject (at most 100 characters) and text of a notification: the
/// decision, the group, who changed what. Nothing secret is in a record.
pub fn notification(record: &GuardRecord) -> (String, String) {
    let mut subject = format!(
        "fanin guard: {} {} in {} {}",
        outcome_words(record.outcome),
        record.group.group_id,
        record.account,
        record.region
    );
    subject.truncate(SUBJECT_LIMIT);
    let mut lines = vec![
        format!("Outcome: {}", outcome_words(record.outcome)),
        format!(
            "Group: {} ({}) in account {} region {}",
            record.group.group_id, record.group.group_name, record.account, record.region
        ),
        format!("Selector: {} (mode {:?})", record.selector, record.mode),
    ];
    if let Some(change) = &record.change {
        lines.push(format!(
            "Call: {:?} at {} by {}",
            change.event_name,
            change.event_time.to_rfc3339(),
            change.actor.arn.as_deref().unwrap_or("unknown")
        ));
        if let Some(ip) = &change.source_ip {
            lines.push(format!("Source IP: {ip}"));
        }
    }
    for rule in &record.rules {
        let permission = rule.before.as_ref().or(rule.after.as_ref());
        lines.push(format!(
            "Rule {} {:?}: {} -> {:?}{}",
            rule.rule_id,
            rule.direction,
            permission.map(ToString::to_string).unwrap_or_default(),
            rule.action,
            rule.error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    if let Some(compliance) = &record.compliance {
        lines.push(format!(
            "Compliance: {} ({})",
            compliance.status, compliance.annotation
        ));
    }
    if let Some(ms) = record.timing.as_ref().and_then(|t| t.time_to_revert_ms) {
        lines.push(format!("Time to revert: {ms} ms"));
    }
    lines.push(format!("Record: {}", record.uid));
    (subject, lines.join("\n"))
}

/// A record of `outcome` about the group of `facts`, decided now under
/// `coverage`, with uid `<account>/<region>/<group>/<what>`: what both paths
/// set alike. The caller adds its change, rules, compliance, interfaces and
/// timing.
pub fn record_about(
    guard: &Guard,
    facts: &GroupFacts,
    coverage: &Coverage<'_>,
    what: &str,
    outcome: Outcome,
) -> GuardRecord {
    GuardRecord {
        record_version: RECORD_VERSION,
        uid: format!(
            "{}/{}/{}/{what}",
            facts.account, facts.region, facts.group_id
        ),
        account: facts.account.to_string(),
        region: facts.region.to_string(),
        group: GroupSummary {
            group_id: facts.group_id.clone(),
            group_name: facts.group_name.clone(),
            vpc_id: facts.vpc_id.clone(),
            tags: facts.tags.clone(),
            break_glass: coverage.break_glass,
        },
        selector: coverage.selector.name.clone(),
        mode: coverage.mode(),
        policy_digest: guard.policy.digest.clone(),
        outcome,
        decided_at: Utc::now(),
        change: None,
        rules: Vec::new(),
        compliance: None,
        attached: Vec::new(),
        internet_exposed: false,
        timing: None,
    }
}

/// The compliance part of a record, from the diff.
pub fn compliance_summary(
    diff: &StateDiff,
    status: &str,
    annotation: String,
    remediation: Vec<RuleDecision>,
    trigger: Option<&str>,
) -> ComplianceSummary {
    ComplianceSummary {
        compliant: diff.compliant(),
        status: status.to_owned(),
        annotation,
        extra: diff
            .extra
            .iter()
            .map(|rule| ExtraRule {
                rule_id: rule.rule_id.clone(),
                direction: rule.direction,
                permission: rule.permission.clone(),
            })
            .collect(),
        missing: diff.missing.clone(),
        remediation,
        trigger: trigger.map(str::to_owned),
    }
}

/// Reachable from the internet: an interface with a public IPv4 or an IPv6
/// address, and an ingress rule open to the internet (outside the
/// selector's trusted CIDRs).
pub fn internet_exposed(
    attached: &[AttachedInterface],
    rules: &[GroupRule],
    ingress: Option<&RuleSet>,
) -> bool {
    let reachable = attached
        .iter()
        .any(|i| !i.public_ips.is_empty() || !i.ipv6_addresses.is_empty());
    let trusted = trusted_cidrs(ingress);
    reachable
        && rules
            .iter()
            .any(|r| r.direction == Direction::Ingress && is_internet(&r.permission.peer, trusted))
}

/// The selector's trusted public CIDRs (limits only).
fn trusted_cidrs(ingress: Option<&RuleSet>) -> &[ipnet::IpNet] {
    match ingress {
        Some(RuleSet::Limits { trusted_cidrs, .. }) => trusted_cidrs,
        _ => &[],
    }
}
