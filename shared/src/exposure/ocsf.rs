//! A usage record → OCSF 1.7.0 Compliance Finding (2003).
//!
//! Why 2003 and not a Detection Finding (2004): the finding is an
//! evaluation of a configuration (a security-group rule) against a standard
//! (internet-open ingress must carry internet traffic), re-evaluated every
//! day, passing or failing; nothing was detected happening. The control is
//! [`CONTROL`]; `compliance.status` is Pass (used), Fail (unused, used only
//! internally) or Unknown (too new to judge).
//!
//! `resources` holds the group (the rule and its usage in `data`), each
//! interface it is attached to, and each resource behind them (instance,
//! load balancer, database...). The critical vulnerability findings of the
//! same instances are `finding_info.related_events` (OCSF 1.7.0's list of
//! related events and findings, by their uid), and raise the severity: an
//! unused internet-open rule on an instance with a critical CVE ranks first.
//! What OCSF has no place for (the measured traffic, the rank) is under
//! `unmapped.exposure`, mapped in the 2003 index template
//! ([`index_properties`]).
//!
//! Pure and total: the record is validated by the decoder
//! (`crate::sources::exposure`) before it reaches this module.

use serde::Serialize;
use serde_json::{Value, json};

use super::evaluate::{RecommendedAction, SourceClass, UsageState};
use super::inventory::ResourceKind;
use super::record::UsageRecord;
use crate::enrich::FaninContext;
use crate::guard::permission::{Peer, Protocol};
use crate::ids::Partition;
use crate::normalize::OcsfDocument;
use crate::normalize::limits::{DESCRIPTION_BYTES, NAME_BYTES, TITLE_BYTES, cap_string};
use crate::ocsf::{
    Account, Activity, CATEGORY_UID, Cloud, Feature, FindingInfo, Metadata, OCSF_VERSION, Product,
    Severity, Unmapped, millis_to_rfc3339,
};

/// `unmapped.fanin.source` of every usage record.
pub const SOURCE_NAME: &str = "exposure";
/// `compliance.control`: the one control these findings evaluate.
pub const CONTROL: &str = "fanin.exposure.unused-internet-ingress";
/// `resources[].type` of the group.
pub const GROUP_TYPE: &str = "AWS::EC2::SecurityGroup";
/// `resources[].type` of an interface.
pub const INTERFACE_TYPE: &str = "AWS::EC2::NetworkInterface";
/// The severity from which a linked vulnerability finding counts
/// (OCSF severity_id 5 Critical, 6 Fatal).
pub const CRITICAL: u8 = 5;

/// The OCSF document of a usage record, `uid` its `metadata.uid`.
pub fn document(
    record: &UsageRecord,
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

/// The Compliance Finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureFinding {
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
    /// The usage state (`unused`, `used_internally`, `used`, `too_new`).
    pub status_detail: &'static str,
    pub time: i64,
    pub time_dt: String,
    /// The window measured.
    pub start_time: i64,
    pub start_time_dt: String,
    pub end_time: i64,
    pub end_time_dt: String,
    pub metadata: Metadata,
    pub cloud: Cloud,
    pub finding_info: ExposureFindingInfo,
    pub resources: Vec<Value>,
    pub remediation: Value,
    pub compliance: Value,
    pub unmapped: ExposureUnmapped,
}

/// `finding_info`, with the linked vulnerability findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureFindingInfo {
    #[serde(flatten)]
    pub common: FindingInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_events: Vec<Value>,
}

/// `unmapped`: `fanin` as for every source, and `exposure`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureUnmapped {
    #[serde(flatten)]
    pub common: Unmapped,
    pub exposure: Value,
}

const NEW: (u8, &str) = (1, "New");
const RESOLVED: (u8, &str) = (4, "Resolved");

/// The finding's status: resolved when the rule is used from the internet,
/// new otherwise (a failing rule, or one not judged yet).
pub fn status(state: UsageState) -> (u8, &'static str) {
    match state {
        UsageState::Used => RESOLVED,
        UsageState::Unused | UsageState::UsedInternally | UsageState::TooNew => NEW,
    }
}

/// The rank of a version among versions of the same time.
pub fn state_rank(state: UsageState) -> u8 {
    if status(state) == RESOLVED { 1 } else { 0 }
}

/// `compliance.status_id` and `status`: Pass (used), Fail (unused, used
/// internally), Warning (too new: OCSF 1.7.0's compliance status has no
/// Unknown; Warning is "did not yield a result due to missing
/// information"). `status_code` keeps the state.
pub fn compliance_status(state: UsageState) -> (u8, &'static str) {
    match state {
        UsageState::Used => (1, "Pass"),
        UsageState::Unused | UsageState::UsedInternally => (3, "Fail"),
        UsageState::TooNew => (2, "Warning"),
    }
}

/// Whether the rule admits every port of its protocol, or every protocol.
fn wide_open(record: &UsageRecord) -> bool {
    let permission = &record.usage.permission;
    match (permission.protocol, permission.ports) {
        (Protocol::All | Protocol::Number(_), _) => true,
        (Protocol::Tcp | Protocol::Udp, Some(ports)) => ports.to - ports.from >= 1_000,
        _ => false,
    }
}

fn has_critical_vulnerability(record: &UsageRecord) -> bool {
    record
        .vulnerabilities
        .iter()
        .any(|v| v.severity_id >= CRITICAL)
}

/// Severity: an unused (or only internally used) internet-open rule on an
/// instance with a critical vulnerability is Critical; unused and scanned
/// (rejected attempts seen) or wide open, High; unused, Medium; used only
/// internally, Low; used or too new, Informational.
pub fn severity(record: &UsageRecord) -> Severity {
    let usage = &record.usage;
    let failing = matches!(usage.state, UsageState::Unused | UsageState::UsedInternally);
    let (id, caption) = match usage.state {
        _ if failing && has_critical_vulnerability(record) => (5, "Critical"),
        UsageState::Unused if usage.rejected.flows > 0 || wide_open(record) => (4, "High"),
        UsageState::Unused => (3, "Medium"),
        UsageState::UsedInternally => (2, "Low"),
        UsageState::Used | UsageState::TooNew => (1, "Informational"),
    };
    Severity::new(id, caption)
}

/// The rank among findings of the same severity, 0 to 100, stored at
/// `unmapped.exposure.risk_score`: the state, a critical vulnerability
/// behind the rule, how wide the rule is, and how much scanning it
/// draws.
pub fn risk_score(record: &UsageRecord) -> u32 {
    let usage = &record.usage;
    let state = match usage.state {
        UsageState::Unused => 50,
        UsageState::UsedInternally => 35,
        UsageState::TooNew => 10,
        UsageState::Used => 5,
    };
    let failing = matches!(usage.state, UsageState::Unused | UsageState::UsedInternally);
    let vulnerable = if failing && has_critical_vulnerability(record) {
        30
    } else {
        0
    };
    let wide = if wide_open(record) { 10 } else { 0 };
    // 1 point per doubling of the distinct scanning sources, at most 10.
    let scanning = (u64::BITS - usage.rejected.distinct_sources.leading_zeros()).min(10);
    (state + vulnerable + wide + scanning).min(100)
}

fn capped(text: &str, max: usize) -> String {
    let mut text = text.to_owned();
    cap_string(&mut text, max);
    text
}

/// `finding_info.title`.
pub fn title(record: &UsageRecord) -> String {
    let usage = &record.usage;
    let what = match usage.state {
        UsageState::Unused => "Internet-open rule unused",
        UsageState::UsedInternally => "Internet-open rule used only from private networks",
        UsageState::Used => "Internet-open rule used",
        UsageState::TooNew => "Internet-open rule too new to judge",
    };
    capped(
        &format!(
            "{what}: {} on {} ({})",
            usage.permission, usage.group.group_id, usage.group.group_name
        ),
        TITLE_BYTES,
    )
}

fn to_ocsf(
    record: &UsageRecord,
    partition: &Partition,
    mut context: FaninContext,
    uid: String,
) -> ExposureFinding {
    let usage = &record.usage;
    let evaluated = record.evaluated_at.timestamp_millis();
    let start = usage.window_start.timestamp_millis();
    let end = usage.window_end.timestamp_millis();
    let severity = severity(record);
    let (status_id, status) = status(usage.state);
    let activity = Activity::Update;
    let metadata = Metadata {
        version: OCSF_VERSION,
        product: Product {
            name: "fanin unused exposure",
            vendor_name: "fanin",
            feature: Some(Feature {
                name: "VPC Flow Logs against security-group rules".to_owned(),
                uid: Some(CONTROL.to_owned()),
            }),
        },
        uid,
        profiles: vec!["cloud", "datetime"],
        original_time: None,
    };
    let cloud = Cloud {
        provider: "AWS".to_owned(),
        region: Some(record.region.clone()),
        cloud_partition: Some(partition.to_string()),
        account: Some(Account::aws(&record.account)),
        org: None,
    };
    let judged = usage.judged_from.timestamp_millis();
    let last_seen = usage.accepted.last_seen.map(|t| t.timestamp_millis());
    let first_seen = usage.accepted.first_seen.map(|t| t.timestamp_millis());
    let finding_info = ExposureFindingInfo {
        common: FindingInfo {
            uid: record.uid.clone(),
            title: title(record),
            desc: Some(capped(&description(record), DESCRIPTION_BYTES)),
            types: vec![format!("Unused Exposure/{}", usage.state.as_str())],
            created_time: Some(judged),
            created_time_dt: Some(millis_to_rfc3339(judged)),
            first_seen_time: first_seen,
            first_seen_time_dt: first_seen.map(millis_to_rfc3339),
            last_seen_time: last_seen,
            last_seen_time_dt: last_seen.map(millis_to_rfc3339),
            modified_time: Some(evaluated),
            modified_time_dt: Some(millis_to_rfc3339(evaluated)),
            src_url: None,
        },
        related_events: record
            .vulnerabilities
            .iter()
            .map(|v| {
                let mut event = json!({
                    "uid": capped(&v.finding_uid, NAME_BYTES),
                    "type_uid": 200200 + Activity::Create as u32,
                    "type_name": "Vulnerability Finding: Create",
                    "severity_id": v.severity_id,
                });
                if let Some(title) = &v.title {
                    event["title"] = json!(capped(title, NAME_BYTES));
                }
                event
            })
            .collect(),
    };
    context.details.clear();
    let (compliance_id, compliance_caption) = compliance_status(usage.state);
    ExposureFinding {
        activity_id: activity as u8,
        activity_name: activity.name(),
        category_uid: CATEGORY_UID,
        category_name: "Findings",
        class_uid: 2003,
        class_name: "Compliance Finding",
        type_uid: 2003 * 100 + activity as u32,
        type_name: format!("Compliance Finding: {}", activity.name()),
        severity_id: severity.id,
        severity: severity.caption,
        status_id,
        status,
        status_detail: usage.state.as_str(),
        time: evaluated,
        time_dt: millis_to_rfc3339(evaluated),
        start_time: start,
        start_time_dt: millis_to_rfc3339(start),
        end_time: end,
        end_time_dt: millis_to_rfc3339(end),
        metadata,
        cloud,
        finding_info,
        resources: resources(record, partition),
        remediation: json!({"desc": capped(&remediation(record), DESCRIPTION_BYTES)}),
        compliance: json!({
            "status_id": compliance_id,
            "status": compliance_caption,
            "status_code": usage.state.as_str(),
            "status_detail": capped(&usage.recommendation.desc, DESCRIPTION_BYTES),
            "control": CONTROL,
            "standards": ["fanin unused exposure"],
            "requirements": ["An ingress rule open to 0.0.0.0/0 or ::/0 carries accepted inbound traffic from the internet."],
            "desc": "Internet-open ingress rules are measured against the VPC Flow Logs of the interfaces their group is attached to.",
        }),
        unmapped: ExposureUnmapped {
            common: Unmapped::new(context),
            exposure: exposure_details(record),
        },
    }
}

/// `finding_info.desc`: the verdict with its evidence.
fn description(record: &UsageRecord) -> String {
    let usage = &record.usage;
    let logged = usage.interfaces.iter().filter(|i| i.flow_logged).count();
    let mut text = format!(
        "{} {} of {} ({}): {} since {} on {logged} flow-logged interface(s) of {}; accepted {} flow(s), rejected {} flow(s) from {} source(s).",
        usage.rule_id,
        usage.permission,
        usage.group.group_id,
        usage.group.group_name,
        usage.state.as_str(),
        crate::timestamps::rfc3339(&usage.judged_from),
        record.interface_count,
        usage.accepted.flows,
        usage.rejected.flows,
        usage.rejected.distinct_sources,
    );
    if let Some(last) = usage.accepted.last_seen {
        text.push_str(&format!(
            " Last accepted {}.",
            crate::timestamps::rfc3339(&last)
        ));
    }
    if has_critical_vulnerability(record) {
        text.push_str(&format!(
            " {} critical vulnerability finding(s) on the instances behind it.",
            record.vulnerabilities.len()
        ));
    }
    text
}

/// `remediation.desc`: the recommended change, as an operator would make it.
fn remediation(record: &UsageRecord) -> String {
    let usage = &record.usage;
    let recommendation = &usage.recommendation;
    match recommendation.action {
        RecommendedAction::Remove => format!(
            "{}. aws ec2 revoke-security-group-ingress --group-id {} --security-group-rule-ids {}",
            recommendation.desc, usage.group.group_id, usage.rule_id
        ),
        _ => recommendation.desc.clone(),
    }
}

/// `resources`: the group, its interfaces, and the resources behind them.
fn resources(record: &UsageRecord, partition: &Partition) -> Vec<Value> {
    let usage = &record.usage;
    let mut resources = vec![json!({
        "uid": usage.group.group_id,
        "name": capped(&usage.group.group_name, NAME_BYTES),
        "type": GROUP_TYPE,
        "region": record.region,
        "cloud_partition": partition.as_str(),
        "data": {
            "vpc_id": usage.group.vpc_id,
            "rule_id": usage.rule_id,
            "permission": usage.permission,
            "open_to_internet": true,
            "usage_state": usage.state.as_str(),
        },
    })];
    let mut behind: Vec<Value> = Vec::new();
    for interface in &usage.interfaces {
        let mut resource = json!({
            "uid": interface.interface_id,
            "type": INTERFACE_TYPE,
            "region": record.region,
            "cloud_partition": partition.as_str(),
            "data": {
                "interface_type": interface.interface_type,
                "resource_kind": interface.resource.kind.as_str(),
                "resource_id": interface.resource.uid,
                "private_ips": interface.private_ips,
                "public_ips": interface.public_ips,
                "ipv6_addresses": interface.ipv6_addresses,
                "flow_logged": interface.flow_logged,
                "internet_exposed": !interface.public_ips.is_empty() || !interface.ipv6_addresses.is_empty(),
            },
        });
        if let Some(ip) = interface
            .public_ips
            .first()
            .or(interface.private_ips.first())
        {
            resource["ip"] = json!(ip);
        }
        resources.push(resource);
        let target = &interface.resource;
        let Some(kind) = target.kind.resource_type() else {
            continue;
        };
        let Some(id) = target.uid.as_ref().or(target.name.as_ref()) else {
            continue;
        };
        if behind.iter().any(|r| r["uid"] == json!(id)) {
            continue;
        }
        let mut entry = json!({
            "uid": capped(id, NAME_BYTES),
            "type": kind,
            "region": record.region,
            "cloud_partition": partition.as_str(),
            "data": {"resource_kind": target.kind.as_str()},
        });
        if let Some(name) = &target.name {
            entry["name"] = json!(capped(name, NAME_BYTES));
        }
        behind.push(entry);
    }
    resources.extend(behind);
    resources
}

/// `unmapped.exposure`: the measured traffic, the recommendation, the rank.
fn exposure_details(record: &UsageRecord) -> Value {
    let usage = &record.usage;
    let permission = &usage.permission;
    let (cidr, ip_version) = match &permission.peer {
        Peer::Ipv4(net) => (net.to_string(), 4),
        Peer::Ipv6(net) => (net.to_string(), 6),
        _ => (String::new(), 0),
    };
    let class_flows = |class: SourceClass| {
        usage
            .accepted
            .by_source_class
            .get(&class)
            .copied()
            .unwrap_or(0)
    };
    let seconds = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_millis());
    let mut kinds: Vec<&str> = usage
        .interfaces
        .iter()
        .map(|i| i.resource.kind)
        .filter(|k| *k != ResourceKind::Unknown)
        .map(|k| k.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let instances: Vec<&str> = usage
        .interfaces
        .iter()
        .filter(|i| i.resource.kind == ResourceKind::Ec2Instance)
        .filter_map(|i| i.resource.uid.as_deref())
        .collect();
    json!({
        "record_version": record.record_version,
        "state": usage.state.as_str(),
        "rule_id": usage.rule_id,
        "group_id": usage.group.group_id,
        "vpc_id": usage.group.vpc_id,
        "protocol": permission.protocol.as_aws(),
        "from_port": permission.ports.map(|p| p.from),
        "to_port": permission.ports.map(|p| p.to),
        "cidr": cidr,
        "ip_version": ip_version,
        "window_start": usage.window_start.timestamp_millis(),
        "window_end": usage.window_end.timestamp_millis(),
        "judged_from": usage.judged_from.timestamp_millis(),
        "changed_at": seconds(usage.changed_at),
        "accepted": {
            "flows": usage.accepted.flows,
            "packets": usage.accepted.packets,
            "bytes": usage.accepted.bytes,
            "first_seen": seconds(usage.accepted.first_seen),
            "last_seen": seconds(usage.accepted.last_seen),
            "internet_flows": class_flows(SourceClass::Internet),
            "same_vpc_flows": class_flows(SourceClass::SameVpc),
            "peered_flows": class_flows(SourceClass::Peered),
            "private_flows": class_flows(SourceClass::Private),
            "ports": usage.accepted.ports,
        },
        "top_sources": usage.accepted.top_sources,
        "rejected": {
            "flows": usage.rejected.flows,
            "packets": usage.rejected.packets,
            "distinct_sources": usage.rejected.distinct_sources,
            "last_seen": seconds(usage.rejected.last_seen),
            "top_sources": usage.rejected.top_sources,
        },
        "recommendation": usage.recommendation.action,
        "interface_count": record.interface_count,
        "interface_ids": usage.interfaces.iter().map(|i| i.interface_id.as_str()).collect::<Vec<_>>(),
        "resource_kinds": kinds,
        "instance_ids": instances,
        "critical_vulnerabilities": record.vulnerabilities.iter().filter(|v| v.severity_id >= CRITICAL).count(),
        "vulnerability_uids": record.vulnerabilities.iter().map(|v| v.finding_uid.as_str()).collect::<Vec<_>>(),
        "risk_score": risk_score(record),
    })
}

/// The index fields of exposure findings, merged into the 2003 template
/// (`crate::search::template::class_template`): ids `keyword`, counts
/// `long`, ports `integer`, times `date`.
pub fn index_properties() -> Value {
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    let integer = json!({"type": "integer"});
    let long = json!({"type": "long"});
    let boolean = json!({"type": "boolean"});
    let ip = json!({"type": "ip"});
    let epoch = json!({"type": "date", "format": "epoch_millis"});
    let sources = json!({"properties": {"address": ip, "flows": long}});
    json!({
        "start_time": epoch,
        "end_time": epoch,
        "finding_info": {"properties": {"related_events": {"properties": {
            "uid": keyword, "type_uid": integer, "severity_id": integer, "title": keyword,
        }}}},
        "resources": {"properties": {"data": {"properties": {
            "rule_id": keyword, "usage_state": keyword, "open_to_internet": boolean,
            "resource_kind": keyword, "flow_logged": boolean,
            "permission": {"properties": {
                "protocol": keyword, "from_port": integer, "to_port": integer,
                "cidr_ipv4": keyword, "cidr_ipv6": keyword, "prefix_list_id": keyword,
                "referenced_group_id": keyword, "referenced_user_id": keyword,
                "description": keyword,
            }},
        }}}},
        "unmapped": {"properties": {"exposure": {"properties": {
            "record_version": integer, "state": keyword, "rule_id": keyword, "group_id": keyword,
            "vpc_id": keyword, "protocol": keyword, "from_port": integer, "to_port": integer,
            "cidr": keyword, "ip_version": integer,
            "window_start": epoch, "window_end": epoch, "judged_from": epoch, "changed_at": epoch,
            "accepted": {"properties": {
                "flows": long, "packets": long, "bytes": long,
                "first_seen": epoch, "last_seen": epoch,
                "internet_flows": long, "same_vpc_flows": long, "peered_flows": long, "private_flows": long,
                "ports": {"properties": {"protocol": integer, "port": integer, "flows": long}},
            }},
            "top_sources": sources,
            "rejected": {"properties": {
                "flows": long, "packets": long, "distinct_sources": long, "last_seen": epoch,
                "top_sources": sources,
            }},
            "recommendation": keyword, "interface_count": integer, "interface_ids": keyword,
            "resource_kinds": keyword, "instance_ids": keyword, "critical_vulnerabilities": integer,
            "vulnerability_uids": keyword, "risk_score": integer,
        }}}},
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::normalize::FindingClass;
    use crate::search::template::class_template;

    #[test]
    fn the_compliance_template_maps_exposure_and_keeps_the_guards_fields() {
        let template = class_template(FindingClass::ComplianceFinding, "fanin");
        let properties = &template["template"]["mappings"]["properties"];
        let exposure = &properties["unmapped"]["properties"]["exposure"]["properties"];
        assert_eq!(exposure["risk_score"], json!({"type": "integer"}));
        assert_eq!(exposure["judged_from"]["format"], "epoch_millis");
        assert_eq!(
            exposure["rejected"]["properties"]["top_sources"]["properties"]["address"],
            json!({"type": "ip"})
        );
        let data = &properties["resources"]["properties"]["data"]["properties"];
        assert_eq!(data["usage_state"]["type"], "keyword");
        assert_eq!(
            data["permission"]["properties"]["from_port"]["type"],
            "integer"
        );
        assert_eq!(data["private_ips"]["type"], "ip", "the guard's field stays");
        assert!(properties["unmapped"]["properties"]["guard"].is_object());
        // Detections do not carry the exposure's fields.
        let detection = class_template(FindingClass::DetectionFinding, "fanin");
        assert!(
            detection["template"]["mappings"]["properties"]["unmapped"]["properties"]
                .get("exposure")
                .is_none()
        );
    }
}
