//! The security-group guard: `fanin.guard` events (`Security Group Guard
//! Decision`, `Security Group Compliance`) carry a whole
//! [`GuardRecord`]; OCSF 2004 Detection Finding for a decision, 2003
//! Compliance Finding for an evaluation (mapping in `crate::guard::ocsf`).
//!
//! Provenance: the event's `account` is the record's `account`, or the
//! central account itself. The guard runs in each application account and
//! puts its records on that account's default bus, whose rule
//! `fanin-guard-to-central` forwards them to the central bus: EventBridge
//! sets `account` to the account whose principal called `PutEvents`, and a
//! member cannot choose it, so a record about account A arrives with
//! `account` A. The one other account that can put a `fanin.guard` event
//! on the central bus is the central account, through its own principals
//! (the bus policy admits the organization's rules, which forward with
//! their own account): its records are believed for any account. The local
//! stack shows the second case too, for a different reason: moto rewrites a
//! forwarded event's `account` to the receiving bus's account. The central
//! account is the one of the accepted SNS topics
//! ([`crate::decode::AcceptedTopics::Named`]); with listed topics only the record's own
//! account is believed.
//!
//! Every id that reaches an S3 key, an index id or a log line is checked:
//! account, region (in the collector's partition), the record's uid
//! (`<account>/<region>/<group>/<event id or "compliance">`), group, VPC,
//! rule and interface ids.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EventSource;
use crate::decode::{DecodeError, Notification, Provenance};
use crate::enrich::{FaninContext, ReportedNetwork};
use crate::guard::ocsf;
use crate::guard::record::{
    COMPLIANCE_DETAIL_TYPE, DECISION_DETAIL_TYPE, GuardRecord, RECORD_VERSION, SOURCE,
};
use crate::ids::{AccountId, Partition, Region, is_ec2_id, truncate_for_message};
use crate::normalize::{EnrichmentTarget, FindingClass, OcsfDocument, Origin, SourceFinding};

/// Real-time decisions: OCSF 2004.
pub const DECISION_EVENTS: EventSource = EventSource {
    source: SOURCE,
    detail_type: DECISION_DETAIL_TYPE,
    in_sns_reason: "guard_in_sns",
    decode: decode_event,
};

/// Compliance evaluations: OCSF 2003.
pub const COMPLIANCE_EVENTS: EventSource = EventSource {
    source: SOURCE,
    detail_type: COMPLIANCE_DETAIL_TYPE,
    in_sns_reason: "guard_in_sns",
    decode: decode_event,
};

fn invalid(why: String) -> DecodeError {
    DecodeError::InvalidFinding(why)
}

/// Decodes a guard event and checks its provenance and every id.
pub fn decode_event(value: Value, provenance: &Provenance) -> Result<Notification, DecodeError> {
    let event = super::record_event::<GuardRecord>(
        value,
        SOURCE,
        &[DECISION_DETAIL_TYPE, COMPLIANCE_DETAIL_TYPE],
        "guard",
    )?;
    let compliance_kind = event.detail_type == COMPLIANCE_DETAIL_TYPE;
    let (event_account, record) = (event.account, event.record);
    super::check_record_version(record.record_version, RECORD_VERSION)?;
    let account = AccountId::parse(&record.account)?;
    let region = Region::parse(&record.region)?;
    provenance.partition.check_region(&region)?;
    if event_account != account && provenance.central_account() != Some(&event_account) {
        return Err(DecodeError::EventAccountMismatch {
            event_account,
            finding_account: account,
        });
    }
    check_record(&record, compliance_kind)?;
    Ok(Notification::Finding {
        origin: Origin { account, region },
        finding: Box::new(GuardFinding(record)),
    })
}

/// The record's kind matches its detail type, and every id is well formed.
fn check_record(record: &GuardRecord, compliance_kind: bool) -> Result<(), DecodeError> {
    match (compliance_kind, &record.change, &record.compliance) {
        (false, Some(_), _) | (true, None, Some(_)) => {}
        (false, None, _) => return Err(invalid("a guard decision without its `change`".into())),
        (true, Some(_), _) => {
            return Err(invalid("a compliance evaluation with a `change`".into()));
        }
        (true, None, None) => {
            return Err(invalid(
                "a compliance evaluation without `compliance`".into(),
            ));
        }
    }
    let id = |kind: &str, prefix: &str, raw: &str| {
        if is_ec2_id(prefix, raw) {
            Ok(())
        } else {
            Err(invalid(format!(
                "{kind} is not an EC2 id ({prefix}-...): {:?}",
                truncate_for_message(raw)
            )))
        }
    };
    let group = &record.group;
    id("group.group_id", "sg", &group.group_id)?;
    if let Some(vpc) = &group.vpc_id {
        id("group.vpc_id", "vpc", vpc)?;
    }
    let rules = record.rules.iter().chain(
        record
            .compliance
            .iter()
            .flat_map(|compliance| &compliance.remediation),
    );
    for rule in rules {
        // A rule authorized by remediation may have no id yet.
        if !(rule.rule_id.is_empty() && rule.after.is_some()) {
            id("rules[].rule_id", "sgr", &rule.rule_id)?;
        }
    }
    for extra in record.compliance.iter().flat_map(|c| &c.extra) {
        id("compliance.extra[].rule_id", "sgr", &extra.rule_id)?;
    }
    for interface in &record.attached {
        id("attached[].interface_id", "eni", &interface.interface_id)?;
    }
    let last = match &record.change {
        Some(change) => {
            let event_id = &change.event_id;
            let safe = !event_id.is_empty()
                && event_id.len() <= 64
                && event_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !safe {
                return Err(invalid(format!(
                    "change.event_id is not a CloudTrail event id: {:?}",
                    truncate_for_message(event_id)
                )));
            }
            event_id.as_str()
        }
        None => "compliance",
    };
    let expected = format!(
        "{}/{}/{}/{last}",
        record.account, record.region, group.group_id
    );
    if record.uid != expected {
        return Err(invalid(format!(
            "uid {:?} is not {expected:?}",
            truncate_for_message(&record.uid)
        )));
    }
    if record.policy_digest.len() > 128
        || !record
            .policy_digest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-')
    {
        return Err(invalid(format!(
            "policy_digest is not a digest: {:?}",
            truncate_for_message(&record.policy_digest)
        )));
    }
    Ok(())
}

/// A decoded guard record, as the pipeline sees every source's finding.
#[derive(Debug)]
pub struct GuardFinding(pub GuardRecord);

impl SourceFinding for GuardFinding {
    fn source_name(&self) -> &'static str {
        ocsf::SOURCE_NAME
    }
    fn class(&self) -> FindingClass {
        if ocsf::is_compliance(&self.0) {
            FindingClass::ComplianceFinding
        } else {
            FindingClass::DetectionFinding
        }
    }
    /// `<account>/<region>/<group>/<event id>` or `.../compliance`.
    fn uid(&self) -> &str {
        &self.0.uid
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.0.decided_at
    }
    /// Resolved 1 (reverted, remediated, approved, compliant), open 0.
    fn state_rank(&self) -> u8 {
        ocsf::state_rank(self.0.outcome)
    }
    fn content_hash(&self) -> [u8; 32] {
        super::content_hash_of(&self.0)
    }
    /// The guard already reports the group's attached interfaces: nothing to
    /// look up.
    fn enrichment_target(&self) -> EnrichmentTarget {
        EnrichmentTarget::NotApplicable(ocsf::GROUP_TYPE.to_owned())
    }
    fn reported_network(&self) -> ReportedNetwork {
        ReportedNetwork::default()
    }
    fn to_ocsf(
        &self,
        _origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
        _now: &DateTime<Utc>,
    ) -> OcsfDocument {
        ocsf::document(&self.0, partition, context, uid)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::record_tests::{CENTRAL, decode_with, document_of, envelope, provenance};
    use super::*;
    use crate::decode::AcceptedTopics;

    fn fixture(name: &str) -> Value {
        super::super::record_tests::fixture("guard", name)
    }

    /// The record in the EventBridge envelope the central rule delivers.
    fn event(record: &Value, account: &str) -> Value {
        let detail_type = if record.get("compliance").is_some() && record.get("change").is_none() {
            COMPLIANCE_DETAIL_TYPE
        } else {
            DECISION_DETAIL_TYPE
        };
        envelope(SOURCE, detail_type, account, &record["region"], record)
    }

    fn own_event(name: &str) -> Value {
        let record = fixture(name);
        let account = record["account"].as_str().unwrap().to_owned();
        event(&record, &account)
    }

    fn decode(value: Value) -> Result<(Origin, Box<dyn SourceFinding>), DecodeError> {
        decode_with(decode_event, value)
    }

    fn reason(value: Value) -> &'static str {
        decode(value).unwrap_err().reason_code()
    }

    const FIXTURES: [&str; 4] = [
        "record-reverted",
        "record-approved",
        "record-break-glass",
        "record-compliance-remediated",
    ];

    /// The OCSF document the pipeline stores for a fixture.
    fn document(name: &str) -> Value {
        let (origin, finding) = decode(own_event(name)).unwrap();
        document_of(origin, finding, "2026-11-30T14:00:00Z")
    }

    #[test]
    fn registered_for_both_detail_types() {
        let decision = super::super::event_source(SOURCE, DECISION_DETAIL_TYPE).unwrap();
        let compliance = super::super::event_source(SOURCE, COMPLIANCE_DETAIL_TYPE).unwrap();
        assert_eq!(decision.in_sns_reason, "guard_in_sns");
        assert_eq!(compliance.in_sns_reason, "guard_in_sns");
    }

    #[test]
    fn a_decision_is_a_detection_about_its_own_account_and_region() {
        let (origin, finding) = decode(own_event("record-reverted")).unwrap();
        assert_eq!(origin.account.as_str(), "111122223333");
        assert_eq!(origin.region.as_str(), "eu-west-1");
        assert_eq!(finding.class(), FindingClass::DetectionFinding);
        assert_eq!(
            finding.uid(),
            "111122223333/eu-west-1/sg-0a1b2c3d4e5f60718/6e0b8a53-3c0f-4f4e-9d38-0f1c2a1b7e11"
        );
        assert_eq!(
            finding.updated_at().to_rfc3339(),
            "2026-11-30T12:00:02.740+00:00"
        );
        assert_eq!(finding.state_rank(), 1);
        assert_eq!(
            finding.enrichment_target(),
            EnrichmentTarget::NotApplicable("AWS::EC2::SecurityGroup".into())
        );
        let (_, compliance) = decode(own_event("record-compliance-remediated")).unwrap();
        assert_eq!(compliance.class(), FindingClass::ComplianceFinding);
        assert_eq!(compliance.state_rank(), 0);
    }

    #[test]
    fn another_account_is_refused_and_the_central_account_believed() {
        let record = fixture("record-reverted");
        assert_eq!(
            reason(event(&record, "444455556666")),
            "event_account_mismatch"
        );
        let (origin, _) = decode(event(&record, CENTRAL)).unwrap();
        assert_eq!(origin.account.as_str(), "111122223333");
        // With listed topics the collector does not know a central account.
        let listed = Provenance {
            topics: AcceptedTopics::Listed(Default::default()),
            ..provenance()
        };
        let error = decode_event(event(&record, CENTRAL), &listed).unwrap_err();
        assert_eq!(error.reason_code(), "event_account_mismatch");
    }

    #[test]
    fn bad_ids_are_refused_before_they_reach_a_key_or_a_log() {
        let bad = |pointer: &str, value: Value| {
            let mut record = fixture("record-reverted");
            *record.pointer_mut(pointer).unwrap() = value;
            let account = record["account"]
                .as_str()
                .unwrap_or("111122223333")
                .to_owned();
            let account = if AccountId::parse(&account).is_ok() {
                account
            } else {
                "111122223333".to_owned()
            };
            reason(event(&record, &account))
        };
        assert_eq!(bad("/account", json!("1111/../x")), "invalid_identifier");
        assert_eq!(
            bad("/region", json!("eu-west-1/../../x")),
            "invalid_identifier"
        );
        assert_eq!(bad("/region", json!("cn-north-1")), "foreign_partition");
        assert_eq!(
            bad("/group/group_id", json!("sg-../../x")),
            "invalid_finding"
        );
        assert_eq!(bad("/group/vpc_id", json!("vpc-zz")), "invalid_finding");
        assert_eq!(
            bad("/rules/0/rule_id", json!("sgr-\nforged")),
            "invalid_finding"
        );
        assert_eq!(
            bad("/attached/0/interface_id", json!("eni-1")),
            "invalid_finding"
        );
        assert_eq!(
            bad("/change/event_id", json!("x/../../y")),
            "invalid_finding"
        );
        assert_eq!(
            bad(
                "/uid",
                json!("111122223333/eu-west-1/sg-0a1b2c3d4e5f60718/other")
            ),
            "invalid_finding"
        );
        assert_eq!(bad("/policy_digest", json!("a b")), "invalid_finding");
        assert_eq!(bad("/record_version", json!(2)), "invalid_finding");
        assert_eq!(
            bad("/rules/0/before/cidr_ipv6", json!("not a cidr")),
            "invalid_finding"
        );
    }

    #[test]
    fn unknown_detail_types_and_mismatched_kinds_are_refused() {
        let mut unknown = own_event("record-reverted");
        unknown["detail-type"] = json!("Security Group Guard Opinion");
        assert_eq!(reason(unknown), "unknown_event");
        let mut compliance_as_decision = own_event("record-compliance-remediated");
        compliance_as_decision["detail-type"] = json!(DECISION_DETAIL_TYPE);
        assert_eq!(reason(compliance_as_decision), "invalid_finding");
        let mut decision_as_compliance = own_event("record-reverted");
        decision_as_compliance["detail-type"] = json!(COMPLIANCE_DETAIL_TYPE);
        assert_eq!(reason(decision_as_compliance), "invalid_finding");
        let mut no_detail = own_event("record-reverted");
        no_detail["detail"] = json!("text");
        assert_eq!(reason(no_detail), "invalid_finding");
    }

    #[test]
    fn in_sns_is_quarantined_under_the_guard_reason() {
        let envelope = json!({
            "Type": "Notification",
            "TopicArn": format!("arn:aws:sns:us-east-1:{CENTRAL}:fanin-inspector"),
            "Message": own_event("record-reverted").to_string(),
        });
        let error = crate::decode::decode(&envelope.to_string(), &provenance()).unwrap_err();
        assert_eq!(error.reason_code(), "guard_in_sns");
    }

    #[test]
    fn a_reverted_change_maps_actor_call_group_and_time_to_revert() {
        let doc = document("record-reverted");
        assert_eq!(doc["class_uid"], 2004);
        assert_eq!(doc["type_uid"], 200401);
        assert_eq!(doc["severity"], "High", "SSH from ::/0 on an exposed group");
        assert_eq!(doc["status"], "Resolved");
        assert_eq!(doc["status_detail"], "reverted");
        assert_eq!(doc["is_alert"], false);
        assert_eq!(
            doc["finding_info"]["title"],
            "Unapproved rule reverted on sg-0a1b2c3d4e5f60718 (web)"
        );
        assert_eq!(
            doc["finding_info"]["types"],
            json!(["Security Group Guard/reverted"])
        );
        assert_eq!(
            doc["finding_info"]["created_time_dt"],
            "2026-11-30T12:00:00.000Z"
        );
        assert_eq!(
            doc["finding_info"]["modified_time_dt"],
            "2026-11-30T12:00:02.740Z"
        );
        assert_eq!(doc["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(doc["cloud"]["region"], "eu-west-1");
        let call = &doc["evidences"][0];
        assert_eq!(
            call["actor"]["user"]["uid"],
            "arn:aws:sts::111122223333:assumed-role/Developer/alice"
        );
        assert_eq!(call["actor"]["user"]["name"], "alice");
        assert_eq!(
            call["actor"]["session"]["issuer"],
            "arn:aws:iam::111122223333:role/Developer"
        );
        assert_eq!(call["src_endpoint"]["ip"], "198.51.100.7");
        assert!(
            call["http_request"]["user_agent"]
                .as_str()
                .unwrap()
                .starts_with("aws-cli/2.15.0")
        );
        assert_eq!(call["api"]["operation"], "AuthorizeSecurityGroupIngress");
        assert_eq!(
            call["api"]["request"]["uid"],
            "0f2d6c1e-8a7b-4c3d-9e5f-1a2b3c4d5e6f"
        );
        let group = &doc["resources"][0];
        assert_eq!(group["uid"], "sg-0a1b2c3d4e5f60718");
        assert_eq!(group["type"], "AWS::EC2::SecurityGroup");
        assert_eq!(group["labels"], json!(["team=payments"]));
        let rules = group["data"]["rules"].as_array().unwrap();
        assert_eq!(rules[0]["before"]["cidr_ipv6"], "::/0");
        assert_eq!(rules[0]["before"]["from_port"], 22);
        assert_eq!(rules[0]["after"], Value::Null);
        assert_eq!(rules[0]["action"], "revoked");
        assert_eq!(rules[0]["open_to_internet"], true);
        assert_eq!(
            rules[1]["before"]["referenced_group_id"],
            "sg-0fedcba9876543210"
        );
        assert_eq!(rules[1]["before"]["referenced_user_id"], "444455556666");
        assert_eq!(rules[1]["action"], "already_gone");
        assert_eq!(rules[2]["action"], "kept");
        let interface = &doc["resources"][1];
        assert_eq!(interface["uid"], "eni-0a1b2c3d4e5f60719");
        assert_eq!(interface["name"], "i-0a1b2c3d4e5f60720");
        assert_eq!(interface["ip"], "203.0.113.25");
        assert_eq!(interface["data"]["ipv6_addresses"], json!(["2001:db8::15"]));
        assert_eq!(interface["data"]["internet_exposed"], true);
        let remediation = doc["remediation"]["desc"].as_str().unwrap();
        assert!(
            remediation.contains("revoked sgr-0b1c2d3e4f5061728 ingress"),
            "{remediation}"
        );
        assert!(
            !remediation.contains("sgr-0d1e2f30415263748"),
            "{remediation}"
        );
        assert_eq!(doc["unmapped"]["guard"]["time_to_revert_ms"], 2740);
        assert_eq!(doc["unmapped"]["guard"]["guard_ms"], 240);
        assert_eq!(doc["unmapped"]["guard"]["mode"], "enforce");
        assert_eq!(doc["unmapped"]["fanin"]["source"], "guard");
        assert_eq!(doc["metadata"]["product"]["feature"]["name"], "web-tier");
        assert!(doc.get("compliance").is_none());
    }

    #[test]
    fn approved_break_glass_and_compliance_read_as_they_should() {
        let approved = document("record-approved");
        assert_eq!(approved["severity"], "Informational");
        assert_eq!(approved["status"], "Resolved");
        assert!(approved.get("remediation").is_none());
        let call = &approved["evidences"][0];
        assert_eq!(
            call["src_endpoint"]["domain"],
            "cloudformation.amazonaws.com"
        );
        assert!(call["src_endpoint"].get("ip").is_none());
        assert!(
            approved["unmapped"]["guard"]
                .get("time_to_revert_ms")
                .is_none()
        );

        let glass = document("record-break-glass");
        assert_eq!(glass["severity"], "Low");
        assert_eq!(glass["status"], "New");
        assert_eq!(glass["status_detail"], "break_glass");
        assert_eq!(glass["evidences"][0]["actor"]["user"]["name"], "oncall");
        assert_eq!(glass["resources"][0]["data"]["break_glass"], true);

        let compliance = document("record-compliance-remediated");
        assert_eq!(compliance["class_uid"], 2003);
        assert_eq!(compliance["type_uid"], 200302);
        assert_eq!(
            compliance["severity"], "High",
            "SSH from 0.0.0.0/0, exposed"
        );
        assert_eq!(compliance["compliance"]["status"], "Fail");
        assert_eq!(compliance["compliance"]["status_id"], 3);
        assert_eq!(compliance["compliance"]["status_code"], "NON_COMPLIANT");
        assert_eq!(compliance["compliance"]["control"], "public-web");
        assert_eq!(
            compliance["compliance"]["standards"],
            json!(["fanin guard policy 3f9a1c2b7d8e0f41"])
        );
        assert_eq!(
            compliance["compliance"]["status_detail"],
            "extra ingress tcp 22 from 0.0.0.0/0; missing ingress tcp 443 from ::/0"
        );
        assert_eq!(
            compliance["compliance"]["requirements"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let remediation = compliance["remediation"]["desc"].as_str().unwrap();
        assert!(
            remediation.contains("revoked sgr-00112233445566779"),
            "{remediation}"
        );
        assert!(
            remediation.contains("authorized sgr-0011223344556677a"),
            "{remediation}"
        );
        let data = &compliance["resources"][0]["data"];
        assert_eq!(data["extra"][0]["permission"]["from_port"], 22);
        assert_eq!(data["missing"][0]["permission"]["cidr_ipv6"], "::/0");
        assert_eq!(compliance["unmapped"]["guard"]["trigger"], "scheduled");
        assert!(compliance.get("evidences").is_none());
        assert!(compliance.get("is_alert").is_none());
    }

    #[test]
    fn the_same_record_hashes_the_same_and_a_new_outcome_differs() {
        let (_, first) = decode(own_event("record-compliance-remediated")).unwrap();
        let (_, again) = decode(own_event("record-compliance-remediated")).unwrap();
        assert_eq!(first.content_hash(), again.content_hash());
        let mut record = fixture("record-compliance-remediated");
        record["outcome"] = json!("remediated");
        let (_, changed) = decode(event(&record, "444455556666")).unwrap();
        assert_ne!(first.content_hash(), changed.content_hash());
    }

    #[test]
    fn documents_are_valid_ocsf_of_their_class() {
        let (compliance, detections): (Vec<&str>, Vec<&str>) = FIXTURES
            .iter()
            .partition(|name| name.starts_with("record-compliance"));
        let documents = |names: &[&str]| names.iter().map(|n| document(n)).collect::<Vec<_>>();
        super::super::validate_ocsf("detection_finding", &documents(&detections));
        super::super::validate_ocsf("compliance_finding", &documents(&compliance));
    }
}
