//! A guard record → OCSF 1.7.0: a real-time decision is a Detection Finding
//! (2004), a compliance evaluation a Compliance Finding (2003). The mapping
//! is documented in `docs/schema.md` (section "Mapping: security-group
//! guard").
//!
//! Both classes share the header objects of every fanin record
//! (`metadata`, `cloud`, `finding_info`, `unmapped.fanin`) and carry the
//! group and its attached interfaces in `resources`. The call that
//! triggered a decision (who, from where, with what) is `evidences[0]`, the
//! place OCSF 1.7.0 gives a finding for its actor, source endpoint, HTTP
//! request and API call. What OCSF has no place for is under
//! `unmapped.guard`, among it the time to revert at the stable path
//! `unmapped.guard.time_to_revert_ms` (a `long` in the index, so a dashboard
//! can aggregate it).
//!
//! Pure and total: the record is validated by the decoder
//! (`crate::sources::guard`) before it reaches this module.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::evaluate::{Verdict, is_internet};
use super::permission::{Direction, Permission};
use super::record::{GuardRecord, Outcome, RuleAction, RuleDecision};
use crate::enrich::FaninContext;
use crate::ids::Partition;
use crate::normalize::OcsfDocument;
use crate::normalize::limits::{DESCRIPTION_BYTES, NAME_BYTES, TITLE_BYTES, cap_string, parse_ip};
use crate::ocsf::{
    Account, Activity, CATEGORY_UID, Cloud, Feature, FindingInfo, Metadata, OCSF_VERSION, Product,
    Severity, Unmapped, millis_to_rfc3339,
};

/// `unmapped.fanin.source` of every guard record.
pub const SOURCE_NAME: &str = "guard";
/// `resources[].type` of the group.
pub const GROUP_TYPE: &str = "AWS::EC2::SecurityGroup";
/// `resources[].type` of an attached interface.
pub const INTERFACE_TYPE: &str = "AWS::EC2::NetworkInterface";

/// The OCSF document of a guard record (2004 for a decision, 2003 for a
/// compliance evaluation), `uid` its `metadata.uid`.
pub fn document(
    record: &GuardRecord,
    partition: &Partition,
    context: FaninContext,
    uid: String,
) -> OcsfDocument {
    let finding = to_ocsf(record, partition, context, uid);
    OcsfDocument {
        json: serde_json::to_string(&finding)
            .expect("OCSF records serialize")
            .into(),
        unparsed: Vec::new(),
        truncated: Vec::new(),
    }
}

/// Whether a record is a compliance evaluation (2003) rather than a
/// real-time decision (2004).
pub fn is_compliance(record: &GuardRecord) -> bool {
    record.change.is_none()
}

/// The guard finding, either class: the attributes both share, and the
/// class's own (`compliance` for 2003).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardFinding {
    pub activity_id: u8,
    pub activity_name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
    pub class_uid: u32,
    pub class_name: &'static str,
    pub type_uid: u32,
    pub type_name: String,
    pub severity_id: u8,
    pub severity: String,
    pub status_id: u8,
    pub status: &'static str,
    /// The outcome (`reverted`, `would_revert`, `non_compliant`...).
    pub status_detail: String,
    pub time: i64,
    pub time_dt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_alert: Option<bool>,
    pub metadata: Metadata,
    pub cloud: Cloud,
    pub finding_info: FindingInfo,
    pub resources: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidences: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance: Option<Value>,
    pub unmapped: GuardUnmapped,
}

/// `unmapped`: `fanin` as for every source, and `guard`, what OCSF has no
/// place for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardUnmapped {
    #[serde(flatten)]
    pub common: Unmapped,
    pub guard: Value,
}

/// OCSF `status_id` 1 New: the finding asks for attention.
const NEW: (u8, &str) = (1, "New");
/// OCSF `status_id` 4 Resolved: nothing is left to do.
const RESOLVED: (u8, &str) = (4, "Resolved");

/// The finding's status: resolved when the guard reverted, remediated or
/// found nothing wrong; new when an unapproved rule may stand.
pub fn status(outcome: Outcome) -> (u8, &'static str) {
    match outcome {
        Outcome::Failed | Outcome::WouldRevert | Outcome::NonCompliant | Outcome::BreakGlass => NEW,
        Outcome::Reverted | Outcome::Remediated | Outcome::Approved | Outcome::Compliant => {
            RESOLVED
        }
    }
}

/// The rank of a version among versions of the same time (for
/// `SourceFinding::state_rank`): a resolved finding ranks above an open one.
pub fn state_rank(outcome: Outcome) -> u8 {
    if status(outcome) == RESOLVED { 1 } else { 0 }
}

/// The outcome as it reads in `status_detail` and the index.
pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Failed => "failed",
        Outcome::Reverted => "reverted",
        Outcome::WouldRevert => "would_revert",
        Outcome::Remediated => "remediated",
        Outcome::NonCompliant => "non_compliant",
        Outcome::BreakGlass => "break_glass",
        Outcome::Approved => "approved",
        Outcome::Compliant => "compliant",
    }
}

/// Whether a rule admits traffic from (or to) the whole internet.
fn open_to_internet(permission: &Permission) -> bool {
    is_internet(&permission.peer, &[])
}

/// Whether any unapproved rule of the record (changed, or extra in the
/// desired-state comparison) is open to the internet.
fn unapproved_internet_rule(record: &GuardRecord) -> bool {
    let changed = record.rules.iter().any(|rule| {
        !matches!(rule.action, RuleAction::Kept | RuleAction::Authorized)
            && rule.before.as_ref().is_some_and(open_to_internet)
    });
    let extra = record.compliance.as_ref().is_some_and(|compliance| {
        compliance
            .extra
            .iter()
            .any(|rule| rule.direction == Direction::Ingress && open_to_internet(&rule.permission))
    });
    changed || extra
}

/// Severity by outcome and exposure: an unapproved rule open to the
/// internet on a group the internet can reach is High while it stands or
/// was only just reverted (failed, would revert, reverted, non-compliant);
/// otherwise an unapproved rule that stands is Medium and one that is gone
/// Low; approved and compliant groups are Informational.
pub fn severity(record: &GuardRecord) -> Severity {
    let exposed = record.internet_exposed && unapproved_internet_rule(record);
    let (id, caption) = match record.outcome {
        Outcome::Failed | Outcome::WouldRevert | Outcome::Reverted | Outcome::NonCompliant
            if exposed =>
        {
            (4, "High")
        }
        Outcome::Failed | Outcome::WouldRevert | Outcome::NonCompliant => (3, "Medium"),
        Outcome::Reverted | Outcome::Remediated | Outcome::BreakGlass => (2, "Low"),
        Outcome::Approved | Outcome::Compliant => (1, "Informational"),
    };
    Severity::new(id, caption)
}

fn capped(text: &str, max: usize) -> String {
    let mut text = text.to_owned();
    cap_string(&mut text, max);
    text
}

/// `finding_info.title`: what happened, on which group.
pub fn title(record: &GuardRecord) -> String {
    let what = match record.outcome {
        Outcome::Failed => "Revert of unapproved rule failed",
        Outcome::Reverted => "Unapproved rule reverted",
        Outcome::WouldRevert => "Unapproved rule would be reverted (audit)",
        Outcome::Remediated => "Security group remediated to its desired rules",
        Outcome::NonCompliant => "Security group differs from its desired rules",
        Outcome::BreakGlass => "Break-glass security group changed",
        Outcome::Approved => "Approved security group change",
        Outcome::Compliant => "Security group matches its desired rules",
    };
    capped(
        &format!(
            "{what} on {} ({})",
            record.group.group_id, record.group.group_name
        ),
        TITLE_BYTES,
    )
}

fn to_ocsf(
    record: &GuardRecord,
    partition: &Partition,
    mut context: FaninContext,
    uid: String,
) -> GuardFinding {
    let compliance_kind = is_compliance(record);
    let (class_uid, class_name) = if compliance_kind {
        (2003, "Compliance Finding")
    } else {
        (2004, "Detection Finding")
    };
    let activity = if compliance_kind {
        Activity::Update
    } else {
        Activity::Create
    };
    let decided = record.decided_at.timestamp_millis();
    let created = record
        .change
        .as_ref()
        .map_or(decided, |change| change.event_time.timestamp_millis());
    let severity = severity(record);
    let (status_id, status) = status(record.outcome);
    let metadata = Metadata {
        version: OCSF_VERSION,
        product: Product {
            name: "fanin security-group guard",
            vendor_name: "fanin",
            feature: Some(Feature {
                name: capped(&record.selector, NAME_BYTES),
                uid: Some(record.policy_digest.clone()),
            }),
        },
        uid,
        profiles: vec!["cloud", "datetime"],
        original_time: record.change.as_ref().map(|c| rfc3339(&c.event_time)),
    };
    let cloud = Cloud {
        provider: "AWS".to_owned(),
        region: Some(record.region.clone()),
        cloud_partition: Some(partition.to_string()),
        account: Some(Account::aws(&record.account)),
        org: None,
    };
    let finding_info = FindingInfo {
        uid: record.uid.clone(),
        title: title(record),
        desc: Some(capped(&description(record), DESCRIPTION_BYTES)),
        types: vec![format!(
            "Security Group Guard/{}",
            outcome_name(record.outcome)
        )],
        created_time: Some(created),
        created_time_dt: Some(millis_to_rfc3339(created)),
        first_seen_time: None,
        first_seen_time_dt: None,
        last_seen_time: None,
        last_seen_time_dt: None,
        modified_time: Some(decided),
        modified_time_dt: Some(millis_to_rfc3339(decided)),
        src_url: None,
    };
    context.details.clear();
    GuardFinding {
        activity_id: activity as u8,
        activity_name: activity.name(),
        category_uid: CATEGORY_UID,
        category_name: "Findings",
        class_uid,
        class_name,
        type_uid: class_uid * 100 + activity as u32,
        type_name: format!("{class_name}: {}", activity.name()),
        severity_id: severity.id,
        severity: severity.caption,
        status_id,
        status,
        status_detail: outcome_name(record.outcome).to_owned(),
        time: decided,
        time_dt: millis_to_rfc3339(decided),
        is_alert: (!compliance_kind).then_some(status_id == NEW.0),
        metadata,
        cloud,
        finding_info,
        resources: resources(record, partition),
        evidences: evidences(record),
        remediation: remediation(record),
        compliance: compliance_kind.then(|| compliance(record)),
        unmapped: GuardUnmapped {
            common: Unmapped::new(context),
            guard: guard_details(record),
        },
    }
}

fn rfc3339(time: &DateTime<Utc>) -> String {
    crate::timestamps::rfc3339(time)
}

/// `finding_info.desc`: the annotation of an evaluation, or one line per
/// judged rule of a change.
fn description(record: &GuardRecord) -> String {
    if let Some(compliance) = &record.compliance
        && record.change.is_none()
    {
        return format!("{}: {}", compliance.status, compliance.annotation);
    }
    let rules: Vec<String> = record
        .rules
        .iter()
        .map(|rule| {
            let permission = rule
                .before
                .as_ref()
                .or(rule.after.as_ref())
                .map_or_else(|| "(rule unknown)".to_owned(), ToString::to_string);
            format!(
                "{} {} {}: {} ({})",
                rule.rule_id,
                direction_name(rule.direction),
                permission,
                action_name(rule.action),
                verdict_name(&rule.verdict)
            )
        })
        .collect();
    if rules.is_empty() {
        return format!("{} in mode {:?}", record.selector, record.mode).to_lowercase();
    }
    rules.join("; ")
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

pub fn action_name(action: RuleAction) -> &'static str {
    match action {
        RuleAction::Kept => "kept",
        RuleAction::Revoked => "revoked",
        RuleAction::WouldRevoke => "would_revoke",
        RuleAction::AlreadyGone => "already_gone",
        RuleAction::Failed => "failed",
        RuleAction::Authorized => "authorized",
    }
}

fn verdict_name(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Approver { pattern } => format!("approver {pattern}"),
        Verdict::BreakGlass => "break_glass".into(),
        Verdict::InDesiredSet => "in_desired_set".into(),
        Verdict::WithinLimits => "within_limits".into(),
        Verdict::NotJudged => "not_judged".into(),
        Verdict::NotInDesiredSet => "not_in_desired_set".into(),
        Verdict::OutsideLimits => "outside_limits".into(),
    }
}

/// One judged rule, as `resources[0].data.rules[]` holds it.
fn rule_json(rule: &RuleDecision) -> Value {
    json!({
        "rule_id": rule.rule_id,
        "direction": direction_name(rule.direction),
        "before": rule.before,
        "after": rule.after,
        "open_to_internet": rule.before.as_ref().or(rule.after.as_ref()).is_some_and(open_to_internet),
        "verdict": verdict_name(&rule.verdict),
        "action": action_name(rule.action),
        "error": rule.error,
    })
}

/// `resources`: the group (its rules before and after in `data`), then each
/// attached interface with its addresses.
fn resources(record: &GuardRecord, partition: &Partition) -> Vec<Value> {
    let group = &record.group;
    let labels: Vec<String> = group
        .tags
        .iter()
        .map(|(key, value)| capped(&format!("{key}={value}"), NAME_BYTES))
        .collect();
    let mut data = json!({
        "vpc_id": group.vpc_id,
        "break_glass": group.break_glass,
        "internet_exposed": record.internet_exposed,
        "rules": record.rules.iter().map(rule_json).collect::<Vec<_>>(),
    });
    if let Some(compliance) = &record.compliance {
        data["extra"] = json!(
            compliance
                .extra
                .iter()
                .map(|rule| json!({
                    "rule_id": rule.rule_id,
                    "direction": direction_name(rule.direction),
                    "permission": rule.permission,
                    "open_to_internet": open_to_internet(&rule.permission),
                }))
                .collect::<Vec<_>>()
        );
        data["missing"] = json!(
            compliance
                .missing
                .iter()
                .map(|rule| json!({
                    "direction": direction_name(rule.direction),
                    "permission": rule.permission,
                }))
                .collect::<Vec<_>>()
        );
    }
    let mut resources = vec![json!({
        "uid": group.group_id,
        "name": capped(&group.group_name, NAME_BYTES),
        "type": GROUP_TYPE,
        "region": record.region,
        "cloud_partition": partition.as_str(),
        "labels": labels,
        "data": data,
    })];
    for interface in &record.attached {
        let addresses = |list: &[String]| -> Vec<String> {
            list.iter().filter_map(|ip| parse_ip(ip)).collect()
        };
        let private_ips = addresses(&interface.private_ips);
        let public_ips = addresses(&interface.public_ips);
        let ipv6_addresses = addresses(&interface.ipv6_addresses);
        let mut resource = json!({
            "uid": interface.interface_id,
            "type": INTERFACE_TYPE,
            "region": record.region,
            "cloud_partition": partition.as_str(),
            "data": {
                "interface_type": interface.interface_type,
                "resource_id": interface.resource_id,
                "description": interface.description.as_deref().map(|d| capped(d, NAME_BYTES)),
                "private_ips": private_ips,
                "public_ips": public_ips,
                "ipv6_addresses": ipv6_addresses,
                "internet_exposed": !public_ips.is_empty() || !ipv6_addresses.is_empty(),
            },
        });
        if let Some(name) = &interface.resource_id {
            resource["name"] = json!(capped(name, NAME_BYTES));
        }
        if let Some(ip) = public_ips.first().or(private_ips.first()) {
            resource["ip"] = json!(ip);
        }
        resources.push(resource);
    }
    resources
}

/// The last segment of an ARN's resource (`user/alice` → `alice`,
/// `assumed-role/Admin/alice` → `alice`).
fn arn_name(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    resource.rsplit('/').next().filter(|name| !name.is_empty())
}

/// `evidences[0]`: the CloudTrail call of a decision, with its actor, source
/// address, user agent and API operation.
fn evidences(record: &GuardRecord) -> Vec<Value> {
    let Some(change) = &record.change else {
        return Vec::new();
    };
    let actor = &change.actor;
    let mut user = json!({});
    if let Some(uid) = actor.arn.as_ref().or(actor.principal_id.as_ref()) {
        user["uid"] = json!(uid);
    }
    if let Some(name) = actor.arn.as_deref().and_then(arn_name) {
        user["name"] = json!(name);
    }
    if let Some(principal) = &actor.principal_id {
        user["uid_alt"] = json!(principal);
    }
    if let Some(account) = &actor.account_id {
        user["account"] = json!(Account::aws(account));
    }
    let mut actor_json = json!({"user": user});
    if let Some(issuer) = &actor.session_issuer_arn {
        actor_json["session"] = json!({"issuer": issuer});
    }
    if let Some(service) = &actor.invoked_by {
        actor_json["invoked_by"] = json!(service);
    }
    let event_name = serde_json::to_value(change.event_name)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut api = json!({
        "operation": event_name,
        "service": {"name": "ec2.amazonaws.com"},
    });
    if let Some(request) = &change.request_id {
        api["request"] = json!({"uid": request});
    }
    let mut evidence = json!({
        "uid": change.event_id,
        "name": "CloudTrail",
        "actor": actor_json,
        "api": api,
    });
    // CloudTrail's `sourceIPAddress` is an address, or the service's name
    // when a service called on the principal's behalf.
    if let Some(raw) = change.source_ip.as_deref() {
        evidence["src_endpoint"] = match parse_ip(raw) {
            Some(ip) => json!({"ip": ip}),
            None => json!({"domain": capped(raw, NAME_BYTES)}),
        };
    }
    if let Some(agent) = &change.user_agent {
        evidence["http_request"] = json!({"user_agent": capped(agent, NAME_BYTES)});
    }
    vec![evidence]
}

/// `remediation.desc`: what was revoked or authorized (or, in audit mode,
/// would be). `None` when nothing was done or proposed.
fn remediation(record: &GuardRecord) -> Option<Value> {
    let mut done: Vec<&RuleDecision> = record
        .rules
        .iter()
        .filter(|rule| !matches!(rule.action, RuleAction::Kept))
        .collect();
    if let Some(compliance) = &record.compliance {
        done.extend(compliance.remediation.iter());
    }
    let lines: Vec<String> = done
        .iter()
        .map(|rule| {
            let permission = rule
                .before
                .as_ref()
                .or(rule.after.as_ref())
                .map_or_else(|| "(rule unknown)".to_owned(), ToString::to_string);
            let verb = match rule.action {
                RuleAction::Revoked => "revoked",
                RuleAction::AlreadyGone => "already gone",
                RuleAction::WouldRevoke => "would revoke",
                RuleAction::Failed => "revoke failed",
                RuleAction::Authorized => "authorized",
                RuleAction::Kept => "kept",
            };
            format!(
                "{verb} {} {} {permission}",
                rule.rule_id,
                direction_name(rule.direction)
            )
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(json!({"desc": capped(&lines.join("; "), DESCRIPTION_BYTES)}))
}

/// `compliance` (2003): the group against the covering selector's desired
/// rules.
fn compliance(record: &GuardRecord) -> Value {
    let Some(summary) = &record.compliance else {
        return json!({"status_id": 0, "status": "Unknown"});
    };
    let (status_id, status) = match summary.status.as_str() {
        "COMPLIANT" => (1, "Pass"),
        "NON_COMPLIANT" => (3, "Fail"),
        _ => (2, "Warning"),
    };
    let requirements: Vec<String> = summary
        .missing
        .iter()
        .map(|rule| format!("{} {}", direction_name(rule.direction), rule.permission))
        .collect();
    json!({
        "status_id": status_id,
        "status": status,
        "status_code": summary.status,
        "status_detail": summary.annotation,
        "control": capped(&record.selector, NAME_BYTES),
        "standards": [format!("fanin guard policy {}", record.policy_digest)],
        "requirements": requirements,
        "desc": "The security group's rules equal the desired rules of its selector.",
    })
}

/// `unmapped.guard`: the decision's facts OCSF has no attribute for.
fn guard_details(record: &GuardRecord) -> Value {
    let mut guard = json!({
        "record_version": record.record_version,
        "outcome": outcome_name(record.outcome),
        "mode": record.mode,
        "selector": capped(&record.selector, NAME_BYTES),
        "policy_digest": record.policy_digest,
        "group_id": record.group.group_id,
        "vpc_id": record.group.vpc_id,
        "break_glass": record.group.break_glass,
        "internet_exposed": record.internet_exposed,
    });
    if let Some(timing) = &record.timing {
        guard["event_time"] = json!(timing.event_time.timestamp_millis());
        guard["received_at"] = json!(timing.received_at.timestamp_millis());
        if let Some(revoked) = timing.revoked_at {
            guard["revoked_at"] = json!(revoked.timestamp_millis());
        }
        if let Some(ms) = timing.time_to_revert_ms {
            guard["time_to_revert_ms"] = json!(ms);
        }
        if let Some(ms) = timing.guard_ms {
            guard["guard_ms"] = json!(ms);
        }
    }
    if let Some(change) = &record.change {
        guard["identity_type"] = json!(capped(&change.actor.identity_type, NAME_BYTES));
    }
    if let Some(trigger) = record.compliance.as_ref().and_then(|c| c.trigger.as_ref()) {
        guard["trigger"] = json!(trigger);
    }
    guard
}

/// The index fields of guard findings, merged into the 2003 and 2004
/// templates (`crate::search::template::class_template`): ids and CIDRs
/// `keyword`, ports `integer`, addresses `ip`, times `date`, the time to
/// revert `long`.
pub fn index_properties() -> Value {
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    let integer = json!({"type": "integer"});
    let boolean = json!({"type": "boolean"});
    let ip = json!({"type": "ip"});
    let epoch = json!({"type": "date", "format": "epoch_millis"});
    let permission = json!({"properties": {
        "protocol": keyword, "from_port": integer, "to_port": integer,
        "cidr_ipv4": keyword, "cidr_ipv6": keyword, "prefix_list_id": keyword,
        "referenced_group_id": keyword, "referenced_user_id": keyword,
        "description": keyword,
    }});
    json!({
        "resources": {"properties": {"data": {"properties": {
            "vpc_id": keyword, "break_glass": boolean, "internet_exposed": boolean,
            "rules": {"properties": {
                "rule_id": keyword, "direction": keyword, "before": permission,
                "after": permission, "open_to_internet": boolean, "verdict": keyword,
                "action": keyword, "error": keyword,
            }},
            "extra": {"properties": {
                "rule_id": keyword, "direction": keyword, "permission": permission,
                "open_to_internet": boolean,
            }},
            "missing": {"properties": {"direction": keyword, "permission": permission}},
            "interface_type": keyword, "resource_id": keyword, "description": keyword,
            "private_ips": ip, "public_ips": ip, "ipv6_addresses": ip,
        }}}},
        "status_detail": keyword,
        "compliance": {"properties": {
            "status_id": integer, "status": keyword, "status_code": keyword,
            "status_detail": {"type": "text"}, "control": keyword, "standards": keyword,
            "requirements": keyword,
        }},
        "remediation": {"properties": {"desc": {"type": "text"}}},
        "evidences": {"properties": {
            "uid": keyword,
            "src_endpoint": {"properties": {"ip": ip, "domain": keyword}},
            "http_request": {"properties": {"user_agent": keyword}},
            "api": {"properties": {
                "operation": keyword, "request": {"properties": {"uid": keyword}},
            }},
            "actor": {"properties": {
                "invoked_by": keyword,
                "session": {"properties": {"issuer": keyword}},
                "user": {"properties": {
                    "uid": keyword, "uid_alt": keyword, "name": keyword,
                    "account": {"properties": {"uid": keyword}},
                }},
            }},
        }},
        "unmapped": {"properties": {"guard": {"properties": {
            "outcome": keyword, "mode": keyword, "selector": keyword, "policy_digest": keyword,
            "group_id": keyword, "vpc_id": keyword, "trigger": keyword, "identity_type": keyword,
            "break_glass": boolean, "internet_exposed": boolean,
            "record_version": integer,
            "event_time": epoch, "received_at": epoch, "revoked_at": epoch,
            "time_to_revert_ms": {"type": "long"}, "guard_ms": {"type": "long"},
        }}}},
    })
}

/// Merges `extra` into `into`, object by object (for the index templates:
/// the guard's properties added to a class's).
pub fn merge_properties(into: &mut Value, extra: &Value) {
    match (into, extra) {
        (Value::Object(into), Value::Object(extra)) => {
            for (key, value) in extra {
                match into.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge_properties(existing, value)
                    }
                    _ => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (into, extra) => *into = extra.clone(),
    }
}
