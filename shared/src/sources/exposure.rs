//! Unused exposure: `fanin.exposure` events (`Security Group Rule Usage`)
//! carry a whole [`UsageRecord`]; OCSF 2003 Compliance Finding (mapping in
//! `crate::exposure::ocsf`).
//!
//! Provenance: the evaluation runs in the central account and puts its
//! records on the central bus itself, so EventBridge sets the event's
//! `account` to the central account. Only the central account's events are
//! believed (the one of the accepted SNS topics,
//! [`crate::decode::AcceptedTopics::Named`]); any other account, or a collector with
//! listed topics that knows no central account, refuses them. The record
//! names the account it is about.
//!
//! Every id that reaches an S3 key, an index id or a log line is checked:
//! account, region (in the collector's partition), the uid
//! (`<account>/<region>/<group>/<rule>`), group, VPC, rule, interface and
//! instance ids, and the addresses the index maps as `ip`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EventSource;
use crate::decode::{DecodeError, Notification, Provenance};
use crate::enrich::{FaninContext, ReportedNetwork};
use crate::exposure::inventory::ResourceKind;
use crate::exposure::ocsf;
use crate::exposure::record::{DETAIL_TYPE, RECORD_VERSION, SOURCE, UsageRecord};
use crate::ids::{AccountId, Partition, Region, is_ec2_id, is_instance_id, truncate_for_message};
use crate::normalize::{EnrichmentTarget, FindingClass, OcsfDocument, Origin, SourceFinding};

/// Usage records: OCSF 2003.
pub const USAGE_EVENTS: EventSource = EventSource {
    source: SOURCE,
    detail_type: DETAIL_TYPE,
    in_sns_reason: "exposure_in_sns",
    decode: decode_event,
};

fn invalid(why: String) -> DecodeError {
    DecodeError::InvalidFinding(why)
}

/// Decodes a usage event and checks its provenance and every id.
pub fn decode_event(value: Value, provenance: &Provenance) -> Result<Notification, DecodeError> {
    let event = super::record_event::<UsageRecord>(value, SOURCE, &[DETAIL_TYPE], "exposure")?;
    let (event_account, record) = (event.account, event.record);
    super::check_record_version(record.record_version, RECORD_VERSION)?;
    let account = AccountId::parse(&record.account)?;
    let region = Region::parse(&record.region)?;
    provenance.partition.check_region(&region)?;
    if provenance.central_account() != Some(&event_account) {
        return Err(DecodeError::EventAccountMismatch {
            event_account,
            finding_account: account,
        });
    }
    check_record(&record)?;
    Ok(Notification::Finding {
        origin: Origin { account, region },
        finding: Box::new(ExposureFinding(record)),
    })
}

/// Every id well formed, and the uid the one of its rule.
fn check_record(record: &UsageRecord) -> Result<(), DecodeError> {
    let id = |field: &str, prefix: &str, raw: &str| {
        if is_ec2_id(prefix, raw) {
            Ok(())
        } else {
            Err(invalid(format!(
                "{field} is not an EC2 id ({prefix}-...): {:?}",
                truncate_for_message(raw)
            )))
        }
    };
    let usage = &record.usage;
    id("group.group_id", "sg", &usage.group.group_id)?;
    if let Some(vpc) = &usage.group.vpc_id {
        id("group.vpc_id", "vpc", vpc)?;
    }
    id("rule_id", "sgr", &usage.rule_id)?;
    for interface in &usage.interfaces {
        id("interfaces[].interface_id", "eni", &interface.interface_id)?;
        let resource = &interface.resource;
        if resource.kind == ResourceKind::Ec2Instance
            && let Some(instance) = &resource.uid
            && !is_instance_id(instance)
        {
            return Err(invalid(format!(
                "interfaces[].resource.uid is not an instance id: {:?}",
                truncate_for_message(instance)
            )));
        }
    }
    for vulnerability in &record.vulnerabilities {
        if !is_instance_id(&vulnerability.instance_id) {
            return Err(invalid(format!(
                "vulnerabilities[].instance_id is not an instance id: {:?}",
                truncate_for_message(&vulnerability.instance_id)
            )));
        }
        let uid = &vulnerability.finding_uid;
        if uid.is_empty() || uid.len() > 2048 || uid.chars().any(char::is_control) {
            return Err(invalid(format!(
                "vulnerabilities[].finding_uid is not a finding id: {:?}",
                truncate_for_message(uid)
            )));
        }
    }
    // The index maps these as `ip`: one that does not parse would refuse
    // the whole document.
    let sources = usage
        .accepted
        .top_sources
        .iter()
        .chain(&usage.rejected.top_sources);
    for source in sources {
        if source.address.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(format!(
                "top_sources[].address is not an address: {:?}",
                truncate_for_message(&source.address)
            )));
        }
    }
    let expected = crate::exposure::record::uid(
        &record.account,
        &record.region,
        &usage.group.group_id,
        &usage.rule_id,
    );
    if record.uid != expected {
        return Err(invalid(format!(
            "uid {:?} is not {expected:?}",
            truncate_for_message(&record.uid)
        )));
    }
    if crate::exposure::evaluate::internet_family(&usage.permission).is_none() {
        return Err(invalid(
            "the rule is not open to 0.0.0.0/0 or ::/0".to_owned(),
        ));
    }
    Ok(())
}

/// A decoded usage record, as the pipeline sees every source's finding.
#[derive(Debug)]
pub struct ExposureFinding(pub UsageRecord);

impl SourceFinding for ExposureFinding {
    fn source_name(&self) -> &'static str {
        ocsf::SOURCE_NAME
    }
    fn class(&self) -> FindingClass {
        FindingClass::ComplianceFinding
    }
    /// `<account>/<region>/<group>/<rule>`.
    fn uid(&self) -> &str {
        &self.0.uid
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.0.evaluated_at
    }
    /// Resolved 1 (used), open 0.
    fn state_rank(&self) -> u8 {
        ocsf::state_rank(self.0.usage.state)
    }
    fn content_hash(&self) -> [u8; 32] {
        super::content_hash_of(&self.0)
    }
    /// The record already carries the interfaces and what is behind them.
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

    pub(crate) fn fixture(name: &str) -> Value {
        super::super::record_tests::fixture("exposure", name)
    }

    /// The record in the EventBridge envelope PutEvents delivers.
    fn event(record: &Value, account: &str) -> Value {
        envelope(SOURCE, DETAIL_TYPE, account, &json!("us-east-1"), record)
    }

    fn decode(value: Value) -> Result<(Origin, Box<dyn SourceFinding>), DecodeError> {
        decode_with(decode_event, value)
    }

    fn reason(value: Value) -> &'static str {
        decode(value).unwrap_err().reason_code()
    }

    const FIXTURES: [&str; 4] = [
        "record-unused-critical",
        "record-used",
        "record-used-internally",
        "record-too-new",
    ];

    fn document(name: &str) -> Value {
        let (origin, finding) = decode(event(&fixture(name), CENTRAL)).unwrap();
        document_of(origin, finding, "2026-11-30T06:05:00Z")
    }

    #[test]
    fn registered_once() {
        let registered = super::super::event_source(SOURCE, DETAIL_TYPE).unwrap();
        assert_eq!(registered.in_sns_reason, "exposure_in_sns");
    }

    #[test]
    fn a_record_from_the_central_account_is_a_compliance_finding_about_its_own_account() {
        let (origin, finding) = decode(event(&fixture("record-unused-critical"), CENTRAL)).unwrap();
        assert_eq!(origin.account.as_str(), "111122223333");
        assert_eq!(origin.region.as_str(), "us-east-1");
        assert_eq!(finding.class(), FindingClass::ComplianceFinding);
        assert_eq!(
            finding.uid(),
            "111122223333/us-east-1/sg-0a1b2c3d4e5f60718/sgr-0b1c2d3e4f5061728"
        );
        assert_eq!(
            finding.updated_at().to_rfc3339(),
            "2026-11-30T06:00:00+00:00"
        );
        assert_eq!(finding.state_rank(), 0);
        let (_, used) = decode(event(&fixture("record-used"), CENTRAL)).unwrap();
        assert_eq!(used.state_rank(), 1);
    }

    #[test]
    fn any_other_account_is_refused_even_the_records_own() {
        let record = fixture("record-unused-critical");
        assert_eq!(
            reason(event(&record, "111122223333")),
            "event_account_mismatch"
        );
        assert_eq!(
            reason(event(&record, "444455556666")),
            "event_account_mismatch"
        );
        let listed = Provenance {
            topics: AcceptedTopics::Listed(Default::default()),
            ..provenance()
        };
        let error = decode_event(event(&record, CENTRAL), &listed).unwrap_err();
        assert_eq!(error.reason_code(), "event_account_mismatch");
    }

    #[test]
    fn bad_ids_and_versions_are_refused_before_they_reach_a_key_or_a_log() {
        let bad = |pointer: &str, value: Value| {
            let mut record = fixture("record-unused-critical");
            *record.pointer_mut(pointer).unwrap() = value;
            reason(event(&record, CENTRAL))
        };
        assert_eq!(bad("/account", json!("11112222333x")), "invalid_identifier");
        assert_eq!(bad("/region", json!("cn-north-1")), "foreign_partition");
        assert_eq!(
            bad("/group/group_id", json!("sg-../../x")),
            "invalid_finding"
        );
        assert_eq!(bad("/group/vpc_id", json!("vpc-zz")), "invalid_finding");
        assert_eq!(bad("/rule_id", json!("sgr-\nforged")), "invalid_finding");
        assert_eq!(
            bad("/interfaces/0/interface_id", json!("eni-x/y")),
            "invalid_finding"
        );
        assert_eq!(
            bad("/interfaces/0/resource/uid", json!("i-../../z")),
            "invalid_finding"
        );
        assert_eq!(
            bad("/vulnerabilities/0/instance_id", json!("web")),
            "invalid_finding"
        );
        assert_eq!(
            bad("/rejected/top_sources/0/address", json!("not an ip")),
            "invalid_finding"
        );
        assert_eq!(
            bad(
                "/uid",
                json!("111122223333/us-east-1/sg-0a1b2c3d4e5f60718/other")
            ),
            "invalid_finding"
        );
        assert_eq!(
            bad("/permission/cidr_ipv4", json!("10.0.0.0/8")),
            "invalid_finding"
        );
        assert_eq!(bad("/record_version", json!(2)), "invalid_finding");
        assert_eq!(bad("/state", json!("maybe")), "invalid_finding");
        let mut unknown = event(&fixture("record-used"), CENTRAL);
        unknown["detail-type"] = json!("Security Group Rule Opinion");
        assert_eq!(reason(unknown), "unknown_event");
    }

    #[test]
    fn in_sns_is_quarantined_under_the_exposure_reason() {
        let envelope = json!({
            "Type": "Notification",
            "TopicArn": format!("arn:aws:sns:us-east-1:{CENTRAL}:fanin-inspector"),
            "Message": event(&fixture("record-used"), CENTRAL).to_string(),
        });
        let error = crate::decode::decode(&envelope.to_string(), &provenance()).unwrap_err();
        assert_eq!(error.reason_code(), "exposure_in_sns");
    }

    #[test]
    fn an_unused_rule_on_a_vulnerable_instance_ranks_first() {
        let doc = document("record-unused-critical");
        assert_eq!(doc["class_uid"], 2003);
        assert_eq!(doc["type_uid"], 200302);
        assert_eq!(doc["severity_id"], 5);
        assert_eq!(doc["severity"], "Critical");
        assert_eq!(doc["status"], "New");
        assert_eq!(doc["status_detail"], "unused");
        assert_eq!(doc["compliance"]["status"], "Fail");
        assert_eq!(doc["compliance"]["status_id"], 3);
        assert_eq!(doc["compliance"]["control"], ocsf::CONTROL);
        assert_eq!(
            doc["finding_info"]["title"],
            "Internet-open rule unused: tcp/22 0.0.0.0/0 on sg-0a1b2c3d4e5f60718 (web)"
        );
        assert_eq!(
            doc["finding_info"]["related_events"][0]["uid"],
            "arn:aws:inspector2:us-east-1:111122223333:finding/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        );
        assert_eq!(doc["finding_info"]["related_events"][0]["severity_id"], 5);
        assert_eq!(doc["start_time_dt"], "2026-11-16T06:00:00.000Z");
        assert_eq!(doc["end_time_dt"], "2026-11-30T06:00:00.000Z");
        let resources = doc["resources"].as_array().unwrap();
        let types: Vec<&str> = resources
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "AWS::EC2::SecurityGroup",
                "AWS::EC2::NetworkInterface",
                "AWS::EC2::NetworkInterface",
                "AWS::EC2::Instance",
                "AWS::ElasticLoadBalancingV2::LoadBalancer"
            ]
        );
        assert_eq!(resources[0]["data"]["rule_id"], "sgr-0b1c2d3e4f5061728");
        assert_eq!(resources[0]["data"]["permission"]["from_port"], 22);
        assert_eq!(resources[1]["ip"], "203.0.113.25");
        assert_eq!(resources[3]["uid"], "i-0a1b2c3d4e5f60720");
        assert_eq!(resources[4]["name"], "public-web");
        let remediation = doc["remediation"]["desc"].as_str().unwrap();
        assert!(
            remediation.ends_with(
                "revoke-security-group-ingress --group-id sg-0a1b2c3d4e5f60718 --security-group-rule-ids sgr-0b1c2d3e4f5061728"
            ),
            "{remediation}"
        );
        let exposure = &doc["unmapped"]["exposure"];
        assert_eq!(exposure["state"], "unused");
        assert_eq!(exposure["rejected"]["flows"], 412);
        assert_eq!(exposure["rejected"]["distinct_sources"], 96);
        assert_eq!(
            exposure["rejected"]["top_sources"][0]["address"],
            "192.0.2.44"
        );
        assert_eq!(exposure["instance_ids"], json!(["i-0a1b2c3d4e5f60720"]));
        assert_eq!(exposure["critical_vulnerabilities"], 1);
        // unused 50 + critical CVE 30 + 96 scanners (7 doublings).
        assert_eq!(exposure["risk_score"], 87);
        assert_eq!(doc["unmapped"]["fanin"]["source"], "exposure");
    }

    #[test]
    fn used_internal_and_young_rules_read_as_they_should() {
        let used = document("record-used");
        assert_eq!(used["severity"], "Informational");
        assert_eq!(used["status"], "Resolved");
        assert_eq!(used["compliance"]["status"], "Pass");
        assert_eq!(
            used["finding_info"]["last_seen_time_dt"],
            "2026-11-29T23:41:07.000Z"
        );
        assert_eq!(
            used["unmapped"]["exposure"]["top_sources"][0]["address"],
            "198.51.100.23"
        );
        assert_eq!(
            used["unmapped"]["exposure"]["accepted"]["internet_flows"],
            5210
        );
        assert!(used["finding_info"].get("related_events").is_none());

        let internal = document("record-used-internally");
        assert_eq!(internal["severity"], "Low");
        assert_eq!(internal["compliance"]["status"], "Fail");
        assert_eq!(
            internal["unmapped"]["exposure"]["recommendation"],
            "restrict_sources"
        );
        assert_eq!(internal["unmapped"]["exposure"]["cidr"], "::/0");
        assert_eq!(internal["unmapped"]["exposure"]["ip_version"], 6);

        let young = document("record-too-new");
        assert_eq!(young["severity"], "Informational");
        assert_eq!(young["compliance"]["status"], "Warning");
        assert_eq!(young["compliance"]["status_id"], 2);
        assert_eq!(young["compliance"]["status_code"], "too_new");
        assert_eq!(
            young["unmapped"]["exposure"]["changed_at"],
            1795953600000_i64
        );
    }

    #[test]
    fn the_same_record_hashes_the_same_and_a_new_state_differs() {
        let (_, first) = decode(event(&fixture("record-used"), CENTRAL)).unwrap();
        let (_, again) = decode(event(&fixture("record-used"), CENTRAL)).unwrap();
        assert_eq!(first.content_hash(), again.content_hash());
        let mut record = fixture("record-used");
        record["accepted"]["flows"] = json!(1);
        let (_, changed) = decode(event(&record, CENTRAL)).unwrap();
        assert_ne!(first.content_hash(), changed.content_hash());
    }

    /// A used rule's document is Resolved (read as New by the validator).
    #[test]
    fn documents_are_valid_compliance_findings() {
        let documents: Vec<Value> = FIXTURES.iter().map(|name| document(name)).collect();
        assert_eq!(document("record-used")["status_id"], 4);
        super::super::validate_compliance_findings(&documents);
    }
}
