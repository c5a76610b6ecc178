//! A privilege record → OCSF 1.7.0 Compliance Finding (2003).
//!
//! Why 2003: the finding is an evaluation of a configuration (what an IAM
//! principal is granted) against a rule (least privilege: a grant is used
//! within the window), re-evaluated on a schedule, passing or failing;
//! nothing was detected happening, so not a Detection Finding (2004), and
//! it names no software flaw, so not a Vulnerability Finding (2002). The
//! control is [`CONTROL`]; `compliance.status` is Pass (every granted
//! action used), Fail (granted actions unused) or Warning (too new to
//! judge). `docs/privileges.md` ("Findings") says the same.
//!
//! `resources` holds the principal (its ARN, kind and name). Severity
//! and risk score rank a role that principals outside the organization can
//! assume first, then unused Permissions-management and Write actions.
//! `remediation.desc` is the suggested least-privilege policy. What OCSF
//! has no place for (the lists, the counts, the window) is under
//! `unmapped.privileges`, mapped in the 2003 index template
//! ([`index_properties`]).
//!
//! Pure and total: the record is validated by the decoder
//! (`crate::sources::privileges`) before it reaches this module.

use serde::Serialize;
use serde_json::{Value, json};

use super::principal::PrincipalKind;
use super::record::{PrivilegeRecord, PrivilegeState};
use crate::enrich::FaninContext;
use crate::ids::Partition;
use crate::normalize::OcsfDocument;
use crate::normalize::limits::{
    DESCRIPTION_BYTES, LIST_ITEMS, NAME_BYTES, REMEDIATION_BYTES, TITLE_BYTES, cap_string,
};
use crate::ocsf::{
    Account, Activity, CATEGORY_UID, Cloud, Feature, FindingInfo, Metadata, OCSF_VERSION, Product,
    Severity, Unmapped, millis_to_rfc3339,
};

/// `unmapped.fanin.source` of every privilege record.
pub const SOURCE_NAME: &str = "privileges";
/// `compliance.control`: the one control these findings evaluate.
pub const CONTROL: &str = "fanin.privileges.unused-permissions";

/// The OCSF document of a privilege record, `uid` its `metadata.uid`.
pub fn document(
    record: &PrivilegeRecord,
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
pub struct PrivilegeFinding {
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
    pub status_detail: &'static str,
    pub time: i64,
    pub time_dt: String,
    /// The window judged.
    pub start_time: i64,
    pub start_time_dt: String,
    pub end_time: i64,
    pub end_time_dt: String,
    pub metadata: Metadata,
    pub cloud: Cloud,
    pub finding_info: FindingInfo,
    pub resources: Vec<Value>,
    pub remediation: Value,
    pub compliance: Value,
    pub unmapped: PrivilegeUnmapped,
}

/// `unmapped`: `fanin` as for every source, and `privileges`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivilegeUnmapped {
    #[serde(flatten)]
    pub common: Unmapped,
    pub privileges: Value,
}

/// The finding's status: resolved when nothing granted is unused, new
/// otherwise.
pub fn status(state: PrivilegeState) -> (u8, &'static str) {
    match state {
        PrivilegeState::NoneUnused => (4, "Resolved"),
        PrivilegeState::Unused | PrivilegeState::TooNew => (1, "New"),
    }
}

/// The rank of a version among versions of the same time.
pub fn state_rank(state: PrivilegeState) -> u8 {
    u8::from(state == PrivilegeState::NoneUnused)
}

/// `compliance.status_id` and `status`: Pass, Fail, Warning (too new: OCSF
/// 1.7.0 has no Unknown; Warning is "did not yield a result due to missing
/// information").
pub fn compliance_status(state: PrivilegeState) -> (u8, &'static str) {
    match state {
        PrivilegeState::NoneUnused => (1, "Pass"),
        PrivilegeState::Unused => (3, "Fail"),
        PrivilegeState::TooNew => (2, "Warning"),
    }
}

fn unused_of(record: &PrivilegeRecord, level: &str) -> usize {
    record.unused_by_level.get(level).copied().unwrap_or(0)
}

/// Severity: Critical for a role assumable from outside the organization
/// with unused Permissions-management actions, High for either alone,
/// Medium for unused Write actions, Low for unused reading only,
/// Informational when nothing is unused or it is too new.
pub fn severity(record: &PrivilegeRecord) -> Severity {
    if record.state != PrivilegeState::Unused {
        return Severity::new(1, "Informational");
    }
    let external = !record.report.external_trust.is_empty();
    let permissions = unused_of(record, "permissions_management") > 0;
    let write = unused_of(record, "write") + unused_of(record, "unknown") > 0;
    let (id, caption) = match (external, permissions, write) {
        (true, true, _) => (5, "Critical"),
        (true, false, _) | (false, true, _) => (4, "High"),
        (false, false, true) => (3, "Medium"),
        (false, false, false) => (2, "Low"),
    };
    Severity::new(id, caption)
}

/// The rank among findings of the same severity, 0 to 100, at
/// `unmapped.privileges.risk_score`: assumable from outside the
/// organization 60, unused Permissions management 15, unused Write 8, and
/// up to 17 for the weight of what is unused (1 point per doubling), so
/// that a principal trusted from outside always ranks above one that is
/// not (at most 40).
pub fn risk_score(record: &PrivilegeRecord) -> u32 {
    if record.state != PrivilegeState::Unused {
        return 0;
    }
    let external = if record.report.external_trust.is_empty() {
        0
    } else {
        60
    };
    let permissions = if unused_of(record, "permissions_management") > 0 {
        15
    } else {
        0
    };
    let write = if unused_of(record, "write") + unused_of(record, "unknown") > 0 {
        8
    } else {
        0
    };
    let weight = (u64::BITS - record.unused_weight.leading_zeros()).min(17);
    (external + permissions + write + weight).min(100)
}

fn capped(text: &str, max: usize) -> String {
    let mut text = text.to_owned();
    cap_string(&mut text, max);
    text
}

fn kind_name(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::Role => "role",
        PrincipalKind::ServiceLinkedRole => "service_linked_role",
        PrincipalKind::FederatedUser => "federated_user",
        PrincipalKind::Root => "root",
    }
}

fn resource_type(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "AWS::IAM::User",
        PrincipalKind::Role | PrincipalKind::ServiceLinkedRole => "AWS::IAM::Role",
        PrincipalKind::FederatedUser => "AWS::STS::FederatedUser",
        PrincipalKind::Root => "AWS::IAM::Root",
    }
}

/// `finding_info.title`.
pub fn title(record: &PrivilegeRecord) -> String {
    let report = &record.report;
    let kind = kind_name(report.principal.kind).replace('_', "-");
    let what = match record.state {
        PrivilegeState::Unused => format!(
            "{} of {} granted actions unused",
            record.totals.unused, report.granted
        ),
        PrivilegeState::NoneUnused => format!("all {} granted actions used", report.granted),
        PrivilegeState::TooNew => "too new to judge".to_owned(),
    };
    capped(
        &format!("IAM {kind} {} ({}): {what}", report.name, record.account),
        TITLE_BYTES,
    )
}

fn to_ocsf(
    record: &PrivilegeRecord,
    partition: &Partition,
    mut context: FaninContext,
    uid: String,
) -> PrivilegeFinding {
    let report = &record.report;
    let evaluated = record.evaluated_at.timestamp_millis();
    let start = report.window.start.timestamp_millis();
    let end = report.window.end.timestamp_millis();
    let judged = report.judged_from.timestamp_millis();
    let severity = severity(record);
    let (status_id, status) = status(record.state);
    let activity = Activity::Update;
    let metadata = Metadata {
        version: OCSF_VERSION,
        product: Product {
            name: "fanin least privilege",
            vendor_name: "fanin",
            feature: Some(Feature {
                name: "CloudTrail usage against IAM authorization details".to_owned(),
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
    let last_used = report.used.iter().map(|u| u.last_used).max();
    let last_used = last_used.map(|seconds| seconds * 1000);
    let finding_info = FindingInfo {
        uid: record.uid.clone(),
        title: title(record),
        desc: Some(capped(&description(record), DESCRIPTION_BYTES)),
        types: vec![format!("Least Privilege/{}", record.state.as_str())],
        created_time: Some(judged),
        created_time_dt: Some(millis_to_rfc3339(judged)),
        first_seen_time: None,
        first_seen_time_dt: None,
        last_seen_time: last_used,
        last_seen_time_dt: last_used.map(millis_to_rfc3339),
        modified_time: Some(evaluated),
        modified_time_dt: Some(millis_to_rfc3339(evaluated)),
        src_url: None,
    };
    context.details.clear();
    let (compliance_id, compliance_caption) = compliance_status(record.state);
    PrivilegeFinding {
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
        status_detail: record.state.as_str(),
        time: evaluated,
        time_dt: millis_to_rfc3339(evaluated),
        start_time: start,
        start_time_dt: millis_to_rfc3339(start),
        end_time: end,
        end_time_dt: millis_to_rfc3339(end),
        metadata,
        cloud,
        finding_info,
        resources: vec![json!({
            "uid": capped(&report.principal.arn, NAME_BYTES),
            "name": capped(&report.name, NAME_BYTES),
            "type": resource_type(report.principal.kind),
            "cloud_partition": partition.as_str(),
            "data": {"principal_kind": kind_name(report.principal.kind)},
        })],
        remediation: json!({"desc": capped(&remediation(record), REMEDIATION_BYTES)}),
        compliance: json!({
            "status_id": compliance_id,
            "status": compliance_caption,
            "status_code": record.state.as_str(),
            "status_detail": capped(&verdict(record), DESCRIPTION_BYTES),
            "control": CONTROL,
            "standards": ["fanin least privilege"],
            "requirements": ["Every action an IAM user or role is granted is used within the window."],
            "desc": "The actions each principal is granted (its authorization details, wildcards expanded) are compared with the calls CloudTrail recorded for it.",
        }),
        unmapped: PrivilegeUnmapped {
            common: Unmapped::new(context),
            privileges: privilege_details(record),
        },
    }
}

/// `compliance.status_detail`: the verdict in one sentence.
fn verdict(record: &PrivilegeRecord) -> String {
    let report = &record.report;
    match record.state {
        PrivilegeState::Unused => format!(
            "{} of {} granted actions unused since {} ({} service(s) entirely)",
            record.totals.unused,
            report.granted,
            crate::timestamps::rfc3339(&report.judged_from),
            record.totals.unused_services,
        ),
        PrivilegeState::NoneUnused => format!(
            "every granted action used since {}",
            crate::timestamps::rfc3339(&report.judged_from)
        ),
        PrivilegeState::TooNew => format!(
            "created {}: too new to judge",
            crate::timestamps::rfc3339(&report.judged_from)
        ),
    }
}

/// `finding_info.desc`: the verdict with its evidence.
fn description(record: &PrivilegeRecord) -> String {
    let report = &record.report;
    let totals = &record.totals;
    let mut text = format!(
        "{}: {}. Used {} granted action(s); {} action(s) used without a grant; {} denied attempt(s); {} call(s) of unknown mapping.",
        report.principal.arn,
        verdict(record),
        totals.used,
        totals.used_not_granted,
        totals.denied_attempts,
        totals.unknown_mappings,
    );
    if !report.unused_services.is_empty() {
        text.push_str(&format!(
            " Unused services: {}.",
            report.unused_services.join(", ")
        ));
    }
    if !report.external_trust.is_empty() {
        text.push_str(&format!(
            " Assumable from outside the organization by: {}.",
            report.external_trust.join(", ")
        ));
    }
    if totals.not_evaluated > 0 {
        text.push_str(&format!(
            " {} policy part(s) not evaluated (see unmapped.privileges.not_evaluated).",
            totals.not_evaluated
        ));
    }
    text
}

/// `remediation.desc`: the suggested policy, as an operator attaches it.
fn remediation(record: &PrivilegeRecord) -> String {
    let policy =
        serde_json::to_string_pretty(&record.report.suggested_policy).expect("policies serialize");
    match record.state {
        PrivilegeState::NoneUnused => "Nothing to remove.".to_owned(),
        PrivilegeState::TooNew => {
            "Judged once the principal has been observed long enough.".to_owned()
        }
        PrivilegeState::Unused => format!(
            "Replace the policies of {} with what it used in the window. {}\n{policy}",
            record.report.name,
            super::report::SUGGESTED_POLICY_NOTE
        ),
    }
}

fn first<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    name: impl Fn(&T) -> &str,
) -> Vec<String> {
    items
        .into_iter()
        .take(LIST_ITEMS)
        .map(|item| capped(name(item), NAME_BYTES))
        .collect()
}

/// `unmapped.privileges`: the lists, the counts, the rank.
fn privilege_details(record: &PrivilegeRecord) -> Value {
    let report = &record.report;
    let totals = &record.totals;
    let millis = |seconds: i64| seconds * 1000;
    let level = |name: &str| unused_of(record, name);
    json!({
        "record_version": record.record_version,
        "state": record.state.as_str(),
        "principal_arn": report.principal.arn,
        "principal_kind": kind_name(report.principal.kind),
        "principal_name": report.name,
        "judged": report.judged,
        "window_start": report.window.start.timestamp_millis(),
        "window_end": report.window.end.timestamp_millis(),
        "judged_from": report.judged_from.timestamp_millis(),
        "external_trust": report.external_trust,
        "externally_trusted": !report.external_trust.is_empty(),
        "granted": report.granted,
        "used_count": totals.used,
        "unused_count": totals.unused,
        "unused_services_count": totals.unused_services,
        "used_not_granted_count": totals.used_not_granted,
        "unknown_mappings_count": totals.unknown_mappings,
        "not_evaluated_count": totals.not_evaluated,
        "denied_attempts": totals.denied_attempts,
        "unused_actions": first(&report.unused, |u| &u.action),
        "unused_services": first(&report.unused_services, |s| s),
        "used_actions": first(&report.used, |u| &u.action),
        "used_not_granted": report.used_not_granted.iter().take(LIST_ITEMS).map(|u| json!({
            "action": capped(&u.action, NAME_BYTES),
            "count": u.count,
            "denied": u.denied,
            "denied_by_policy": u.denied_by_policy,
            "last_used": millis(u.last_used),
        })).collect::<Vec<_>>(),
        "unknown_mappings": first(&report.unknown_mappings, |u| &u.action),
        "not_evaluated": report.not_evaluated.iter().take(LIST_ITEMS).map(|n| json!({
            "policy": capped(&n.policy, NAME_BYTES),
            "statement": capped(&n.statement, NAME_BYTES),
            "reason": capped(&n.reason, NAME_BYTES),
        })).collect::<Vec<_>>(),
        "unused_by_level": {
            "list": level("list"),
            "read": level("read"),
            "tagging": level("tagging"),
            "write": level("write"),
            "permissions_management": level("permissions_management"),
            "unknown": level("unknown"),
        },
        "unused_weight": record.unused_weight,
        "suggested_policy": serde_json::to_string(&report.suggested_policy).expect("policies serialize"),
        "risk_score": risk_score(record),
    })
}

/// The index fields of privilege findings, merged into the 2003 template
/// (`crate::search::template::class_template`): names `keyword`, counts
/// `long`, times `date`, the policy a stored string.
pub fn index_properties() -> Value {
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    let integer = json!({"type": "integer"});
    let long = json!({"type": "long"});
    let boolean = json!({"type": "boolean"});
    let epoch = json!({"type": "date", "format": "epoch_millis"});
    json!({
        "resources": {"properties": {"data": {"properties": {"principal_kind": keyword}}}},
        "unmapped": {"properties": {"privileges": {"properties": {
            "record_version": integer, "state": keyword, "principal_arn": keyword,
            "principal_kind": keyword, "principal_name": keyword, "judged": boolean,
            "window_start": epoch, "window_end": epoch, "judged_from": epoch,
            "external_trust": keyword, "externally_trusted": boolean,
            "granted": long, "used_count": long, "unused_count": long,
            "unused_services_count": long, "used_not_granted_count": long,
            "unknown_mappings_count": long, "not_evaluated_count": long, "denied_attempts": long,
            "unused_actions": keyword, "unused_services": keyword, "used_actions": keyword,
            "used_not_granted": {"properties": {
                "action": keyword, "count": long, "denied": long, "denied_by_policy": boolean,
                "last_used": epoch,
            }},
            "unknown_mappings": keyword,
            "not_evaluated": {"properties": {"policy": keyword, "statement": keyword, "reason": keyword}},
            "unused_by_level": {"properties": {
                "list": long, "read": long, "tagging": long, "write": long,
                "permissions_management": long, "unknown": long,
            }},
            "unused_weight": long,
            "suggested_policy": {"type": "text", "index": false},
            "risk_score": integer,
        }}}},
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::normalize::FindingClass;
    use crate::search::template::class_template;

    #[test]
    fn the_compliance_template_maps_privileges_beside_exposure() {
        let template = class_template(FindingClass::ComplianceFinding, "fanin");
        let properties = &template["template"]["mappings"]["properties"];
        let privileges = &properties["unmapped"]["properties"]["privileges"]["properties"];
        assert_eq!(privileges["risk_score"], json!({"type": "integer"}));
        assert_eq!(privileges["unused_count"], json!({"type": "long"}));
        assert_eq!(privileges["judged_from"]["format"], "epoch_millis");
        assert_eq!(
            privileges["unused_by_level"]["properties"]["permissions_management"]["type"],
            "long"
        );
        assert_eq!(
            properties["resources"]["properties"]["data"]["properties"]["principal_kind"]["type"],
            "keyword"
        );
        assert!(properties["unmapped"]["properties"]["exposure"].is_object());
        let detection = class_template(FindingClass::DetectionFinding, "fanin");
        assert!(
            detection["template"]["mappings"]["properties"]["unmapped"]["properties"]
                .get("privileges")
                .is_none()
        );
    }
}
