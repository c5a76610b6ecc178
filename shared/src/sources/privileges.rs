//! Least privilege: `fanin.privileges` events (`IAM Principal
//! Privileges`) carry a whole [`PrivilegeRecord`]; OCSF 2003 Compliance
//! Finding (mapping in `crate::privileges::ocsf`).
//!
//! Provenance: the evaluation runs in the central account and puts its
//! records on the central bus itself, so EventBridge sets the event's
//! `account` to the central account. Only the central account's events are
//! believed ([`Provenance::central_account`]); any other account, or a
//! collector that knows no central account, refuses them. The record names
//! the account it is about.
//!
//! Every id that reaches an S3 key, an index id or a log line is checked:
//! the account, the region (in the collector's partition), the uid (the
//! principal's ARN, an IAM ARN of the collector's partition and of the
//! record's account, of the kind the record says), and the actions listed.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EventSource;
use crate::decode::{DecodeError, Notification, Provenance};
use crate::enrich::{FaninContext, ReportedNetwork};
use crate::ids::{AccountId, Partition, Region, truncate_for_message};
use crate::normalize::{EnrichmentTarget, FindingClass, OcsfDocument, Origin, SourceFinding};
use crate::privileges::ocsf;
use crate::privileges::principal::PrincipalKind;
use crate::privileges::record::{DETAIL_TYPE, PrivilegeRecord, RECORD_VERSION, SOURCE};

/// Privilege records: OCSF 2003.
pub const PRIVILEGE_EVENTS: EventSource = EventSource {
    source: SOURCE,
    detail_type: DETAIL_TYPE,
    in_sns_reason: "privileges_in_sns",
    decode: decode_event,
};

fn invalid(why: String) -> DecodeError {
    DecodeError::InvalidFinding(why)
}

/// Decodes a privilege event and checks its provenance and every id.
pub fn decode_event(value: Value, provenance: &Provenance) -> Result<Notification, DecodeError> {
    let event =
        super::record_event::<PrivilegeRecord>(value, SOURCE, &[DETAIL_TYPE], "privileges")?;
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
    check_record(&record, &provenance.partition)?;
    Ok(Notification::Finding {
        origin: Origin { account, region },
        finding: Box::new(PrivilegeFindingSource(record)),
    })
}

/// Whether `arn` is the IAM ARN of a principal of `kind` in `account` and
/// `partition`: `arn:<p>:iam::<account>:user/<path><name>`, `role/...`
/// (service-linked: `role/aws-service-role/...`), `root`, or
/// `arn:<p>:sts::<account>:federated-user/<name>`; path and name in IAM's
/// characters (letters, digits, `+=,.@_-`, `/` between).
pub fn is_principal_arn(
    arn: &str,
    partition: &Partition,
    account: &str,
    kind: PrincipalKind,
) -> bool {
    let name_chars = |text: &str| {
        !text.is_empty()
            && text.len() <= 1024
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
            && !text.starts_with('/')
            && !text.ends_with('/')
            && !text.contains("//")
    };
    let (service, resource) = match kind {
        PrincipalKind::FederatedUser => ("sts", "federated-user/"),
        PrincipalKind::User => ("iam", "user/"),
        PrincipalKind::Role => ("iam", "role/"),
        PrincipalKind::ServiceLinkedRole => ("iam", "role/aws-service-role/"),
        PrincipalKind::Root => ("iam", "root"),
    };
    if AccountId::parse(account).is_err() {
        return false;
    }
    let prefix = format!("arn:{}:{service}::{account}:", partition.as_str());
    let Some(rest) = arn.strip_prefix(&prefix) else {
        return false;
    };
    match kind {
        PrincipalKind::Root => rest == "root",
        PrincipalKind::Role if rest.starts_with("role/aws-service-role/") => false,
        _ => rest.strip_prefix(resource).is_some_and(name_chars),
    }
}

/// An action, pattern or policy name of the record: printable, bounded.
fn is_listed_name(text: &str) -> bool {
    !text.is_empty() && text.len() <= 2048 && !text.chars().any(char::is_control)
}

/// The uid the principal's ARN, in the record's account and the collector's
/// partition; the account the principal's; every listed name printable.
fn check_record(record: &PrivilegeRecord, partition: &Partition) -> Result<(), DecodeError> {
    let principal = &record.report.principal;
    if record.uid != principal.arn || principal.account != record.account {
        return Err(invalid(format!(
            "uid {:?} is not the principal {:?} of account {}",
            truncate_for_message(&record.uid),
            truncate_for_message(&principal.arn),
            record.account
        )));
    }
    if !is_principal_arn(&record.uid, partition, &record.account, principal.kind) {
        return Err(invalid(format!(
            "uid is not an IAM ARN of a {:?} of {} in {partition}: {:?}",
            principal.kind,
            record.account,
            truncate_for_message(&record.uid)
        )));
    }
    let report = &record.report;
    let names = report
        .used
        .iter()
        .map(|u| &u.action)
        .chain(report.unused.iter().map(|u| &u.action))
        .chain(report.unused.iter().flat_map(|u| &u.via))
        .chain(&report.unused_services)
        .chain(report.used_not_granted.iter().map(|u| &u.action))
        .chain(report.unknown_mappings.iter().map(|u| &u.action))
        .chain(&report.unknown_patterns)
        .chain(&report.external_trust)
        .chain(report.not_evaluated.iter().map(|n| &n.policy))
        .chain(std::iter::once(&report.name));
    for name in names {
        if !is_listed_name(name) {
            return Err(invalid(format!(
                "a listed name is empty, too long or has control characters: {:?}",
                truncate_for_message(name)
            )));
        }
    }
    if report.window.start > report.window.end {
        return Err(invalid("the window ends before it starts".to_owned()));
    }
    Ok(())
}

/// A decoded privilege record, as the pipeline sees every source's finding.
#[derive(Debug)]
pub struct PrivilegeFindingSource(pub PrivilegeRecord);

impl SourceFinding for PrivilegeFindingSource {
    fn source_name(&self) -> &'static str {
        ocsf::SOURCE_NAME
    }
    fn class(&self) -> FindingClass {
        FindingClass::ComplianceFinding
    }
    /// The principal's ARN.
    fn uid(&self) -> &str {
        &self.0.uid
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.0.evaluated_at
    }
    /// Resolved 1 (nothing unused), open 0.
    fn state_rank(&self) -> u8 {
        ocsf::state_rank(self.0.state)
    }
    fn content_hash(&self) -> [u8; 32] {
        super::content_hash_of(&self.0)
    }
    /// An IAM principal has no network.
    fn enrichment_target(&self) -> EnrichmentTarget {
        EnrichmentTarget::NotApplicable("AWS::IAM::Principal".to_owned())
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
        super::super::record_tests::fixture("privileges", name)
    }

    fn event(record: &Value, account: &str) -> Value {
        envelope(SOURCE, DETAIL_TYPE, account, &json!("us-east-1"), record)
    }

    fn decode(value: Value) -> Result<(Origin, Box<dyn SourceFinding>), DecodeError> {
        decode_with(decode_event, value)
    }

    fn reason(value: Value) -> &'static str {
        decode(value).unwrap_err().reason_code()
    }

    const FIXTURES: [&str; 3] = [
        "record-unused-external",
        "record-none-unused",
        "record-too-new",
    ];

    fn document(name: &str) -> Value {
        let (origin, finding) = decode(event(&fixture(name), CENTRAL)).unwrap();
        document_of(origin, finding, "2026-11-30T06:05:00Z")
    }

    #[test]
    fn registered_once() {
        let registered = super::super::event_source(SOURCE, DETAIL_TYPE).unwrap();
        assert_eq!(registered.in_sns_reason, "privileges_in_sns");
    }

    #[test]
    fn a_record_from_the_central_account_is_a_compliance_finding_about_its_principal() {
        let (origin, finding) = decode(event(&fixture("record-unused-external"), CENTRAL)).unwrap();
        assert_eq!(origin.account.as_str(), "111122223333");
        assert_eq!(origin.region.as_str(), "us-east-1");
        assert_eq!(finding.class(), FindingClass::ComplianceFinding);
        assert_eq!(finding.uid(), "arn:aws:iam::111122223333:role/deploy");
        assert_eq!(finding.state_rank(), 0);
        let (_, tidy) = decode(event(&fixture("record-none-unused"), CENTRAL)).unwrap();
        assert_eq!(tidy.state_rank(), 1);
    }

    #[test]
    fn a_forged_account_is_refused_even_the_records_own() {
        let record = fixture("record-unused-external");
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
    fn bad_arns_ids_and_versions_are_refused_before_they_reach_a_key_or_a_log() {
        let bad = |changes: &[(&str, Value)]| {
            let mut record = fixture("record-unused-external");
            for (pointer, value) in changes {
                *record.pointer_mut(pointer).unwrap() = value.clone();
            }
            reason(event(&record, CENTRAL))
        };
        let arn = |arn: &str| vec![("/uid", json!(arn)), ("/report/principal/arn", json!(arn))];
        assert_eq!(
            bad(&[("/account", json!("11112222333x"))]),
            "invalid_identifier"
        );
        assert_eq!(
            bad(&[("/region", json!("cn-north-1"))]),
            "foreign_partition"
        );
        assert_eq!(
            bad(&arn("arn:aws:iam::111122223333:role/../../x y")),
            "invalid_finding"
        );
        assert_eq!(
            bad(&arn("arn:aws-cn:iam::111122223333:role/deploy")),
            "invalid_finding",
            "another partition"
        );
        assert_eq!(
            bad(&arn("arn:aws:iam::444455556666:role/deploy")),
            "invalid_finding",
            "another account"
        );
        assert_eq!(
            bad(&arn("arn:aws:iam::111122223333:user/deploy")),
            "invalid_finding",
            "a user said to be a role"
        );
        assert_eq!(
            bad(&arn("arn:aws:s3:::111122223333-role-deploy")),
            "invalid_finding"
        );
        assert_eq!(
            bad(&[("/uid", json!("arn:aws:iam::111122223333:role/other"))]),
            "invalid_finding",
            "the uid is the principal's"
        );
        assert_eq!(
            bad(&[("/report/unused/0/action", json!("s3:Get\nObject"))]),
            "invalid_finding"
        );
        assert_eq!(bad(&[("/record_version", json!(2))]), "invalid_finding");
        assert_eq!(bad(&[("/state", json!("maybe"))]), "invalid_finding");
        let mut unknown = event(&fixture("record-none-unused"), CENTRAL);
        unknown["detail-type"] = json!("IAM Principal Opinion");
        assert_eq!(reason(unknown), "unknown_event");
    }

    #[test]
    fn principal_arns_of_every_kind() {
        let aws = Partition::parse("aws").unwrap();
        let ok = |arn: &str, kind| is_principal_arn(arn, &aws, "111122223333", kind);
        assert!(ok(
            "arn:aws:iam::111122223333:user/ops/alice",
            PrincipalKind::User
        ));
        assert!(ok(
            "arn:aws:iam::111122223333:role/deploy",
            PrincipalKind::Role
        ));
        assert!(ok(
            "arn:aws:iam::111122223333:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
            PrincipalKind::ServiceLinkedRole
        ));
        assert!(!ok(
            "arn:aws:iam::111122223333:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
            PrincipalKind::Role
        ));
        assert!(ok("arn:aws:iam::111122223333:root", PrincipalKind::Root));
        assert!(ok(
            "arn:aws:sts::111122223333:federated-user/bob",
            PrincipalKind::FederatedUser
        ));
        assert!(!ok(
            "arn:aws:sts::111122223333:assumed-role/deploy/s",
            PrincipalKind::Role
        ));
        assert!(!ok("arn:aws:iam::111122223333:user/", PrincipalKind::User));
        assert!(!ok(
            "arn:aws:iam::111122223333:user/a//b",
            PrincipalKind::User
        ));
    }

    #[test]
    fn in_sns_is_quarantined_under_the_privileges_reason() {
        let envelope = json!({
            "Type": "Notification",
            "TopicArn": format!("arn:aws:sns:us-east-1:{CENTRAL}:fanin-inspector"),
            "Message": event(&fixture("record-none-unused"), CENTRAL).to_string(),
        });
        let error = crate::decode::decode(&envelope.to_string(), &provenance()).unwrap_err();
        assert_eq!(error.reason_code(), "privileges_in_sns");
    }

    #[test]
    fn an_externally_trusted_role_with_unused_permissions_is_critical() {
        let doc = document("record-unused-external");
        assert_eq!(doc["class_uid"], 2003);
        assert_eq!(doc["type_uid"], 200302);
        assert_eq!(doc["severity"], "Critical");
        assert_eq!(doc["status"], "New");
        assert_eq!(doc["status_detail"], "unused");
        assert_eq!(doc["compliance"]["status"], "Fail");
        assert_eq!(doc["compliance"]["control"], ocsf::CONTROL);
        assert_eq!(doc["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(
            doc["resources"][0]["uid"],
            "arn:aws:iam::111122223333:role/deploy"
        );
        assert_eq!(doc["resources"][0]["type"], "AWS::IAM::Role");
        assert_eq!(
            doc["finding_info"]["title"],
            "IAM role deploy (111122223333): 3 of 5 granted actions unused"
        );
        assert_eq!(doc["start_time_dt"], "2026-11-01T00:00:00.000Z");
        assert_eq!(doc["end_time_dt"], "2026-11-30T06:00:00.000Z");
        let remediation = doc["remediation"]["desc"].as_str().unwrap();
        assert!(remediation.contains("\"s3:GetObject\""), "{remediation}");
        assert!(remediation.contains("\"Resource\": \"*\""), "{remediation}");
        let privileges = &doc["unmapped"]["privileges"];
        assert_eq!(privileges["unused_count"], 3);
        assert_eq!(
            privileges["unused_actions"],
            json!([
                "ec2:DescribeInstances",
                "iam:PassRole",
                "s3:GetBucketPolicy"
            ])
        );
        assert_eq!(privileges["unused_services"], json!(["ec2", "iam"]));
        assert_eq!(privileges["externally_trusted"], true);
        assert_eq!(privileges["external_trust"], json!(["444455556666"]));
        assert_eq!(privileges["unused_by_level"]["permissions_management"], 1);
        assert_eq!(
            privileges["used_not_granted"][0]["action"],
            "iam:CreateUser"
        );
        assert_eq!(privileges["used_not_granted"][0]["denied"], 2);
        assert_eq!(privileges["denied_attempts"], 2);
        assert_eq!(
            privileges["risk_score"],
            ocsf_risk("record-unused-external")
        );
        assert!(privileges["risk_score"].as_u64().unwrap() >= 60);
        let policy: Value =
            serde_json::from_str(privileges["suggested_policy"].as_str().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"][0]["Action"],
            json!(["s3:GetObject", "s3:ListBucket"])
        );
    }

    fn ocsf_risk(name: &str) -> u32 {
        let record: PrivilegeRecord = serde_json::from_value(fixture(name)).unwrap();
        ocsf::risk_score(&record)
    }

    #[test]
    fn nothing_unused_passes_and_too_new_warns() {
        let tidy = document("record-none-unused");
        assert_eq!(tidy["status"], "Resolved");
        assert_eq!(tidy["severity"], "Informational");
        assert_eq!(tidy["compliance"]["status"], "Pass");
        assert_eq!(tidy["unmapped"]["privileges"]["risk_score"], 0);
        assert_eq!(tidy["resources"][0]["type"], "AWS::IAM::User");
        let young = document("record-too-new");
        assert_eq!(young["status"], "New");
        assert_eq!(young["compliance"]["status"], "Warning");
        assert_eq!(young["severity"], "Informational");
    }

    #[test]
    fn the_same_record_hashes_the_same_and_a_new_evaluation_differs() {
        let (_, first) = decode(event(&fixture("record-unused-external"), CENTRAL)).unwrap();
        let (_, again) = decode(event(&fixture("record-unused-external"), CENTRAL)).unwrap();
        assert_eq!(first.content_hash(), again.content_hash());
        let mut record = fixture("record-unused-external");
        record["state"] = json!("none_unused");
        let (_, changed) = decode(event(&record, CENTRAL)).unwrap();
        assert_ne!(first.content_hash(), changed.content_hash());
    }

    #[test]
    fn documents_are_valid_compliance_findings() {
        let documents: Vec<Value> = FIXTURES.iter().map(|name| document(name)).collect();
        assert_eq!(document("record-none-unused")["status_id"], 4);
        super::super::validate_compliance_findings(&documents);
    }
}
