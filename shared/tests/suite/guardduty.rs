//! GuardDuty as a source, on published sample findings
//! (`tests/fixtures/published/guardduty/`, sources in
//! `tests/fixtures/README.md`): decoding and provenance, the golden OCSF
//! Detection Findings (asserted exactly and validated by pydantic-ocsf),
//! versions of recurring findings, the network enrichment, the index
//! template (on osmem-server, the local stack's OpenSearch API), and
//! property tests over the decoder and the mapping.
//!
//! `FANIN_REGENERATE_GOLDEN=1 cargo test -p fanin --test suite guardduty::` rewrites
//! the goldens; review the diff field by field before committing it.

use crate::support::mutate;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use fanin::enrich::{
    EnrichmentOutcome, EnrichmentStatus, FaninContext, InstanceLookup, enrich as enrich_network,
};
use fanin::guardduty::normalize::{self, SOURCE_NAME, enrichment_target, parse_time};
use fanin::guardduty::template::detection_index_template;
use fanin::guardduty::{GuardDutyEvent, GuardDutyProvenance, decode, enrichment_need};
use fanin::ids::{AccountId, Partition};
use fanin::model::{GroupRef, IngressRule, InstanceRecord, InterfaceRecord, SecurityGroupRecord};
use fanin::normalize::EnrichmentTarget;
use fanin::normalize::limits::{DETAIL_STRING_BYTES, LIST_ITEMS, TITLE_BYTES, parse_ip};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

const DIR: &str = "../tests/fixtures/published/guardduty";

/// The published findings that decode, each with its golden.
const ACCEPTED: [&str; 10] = [
    "aws-samples-ec2-canary-finding",
    "aws-samples-iam-recon-finding",
    "aws-samples-s3-pentest-finding",
    "elastic-ec2-backdoor-dos-finding",
    "elastic-ec2-dns-blackhole-finding",
    "elastic-ec2-malicious-ip-inbound-finding",
    "elastic-ec2-port-probe-finding",
    "elastic-ec2-winrm-bruteforce-finding",
    "elastic-eks-anonymous-access-finding",
    "elastic-iam-password-policy-finding",
];

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{DIR}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn finding(name: &str) -> Value {
    serde_json::from_str(&read(&format!("{name}.json"))).unwrap()
}

/// The finding inside the EventBridge envelope AWS documents
/// (`eventbridge-envelope.json`), delivered by `account` in the finding's
/// region.
fn event_from(detail: &Value, account: &str) -> Value {
    let mut event: Value = serde_json::from_str(&read("eventbridge-envelope.json")).unwrap();
    event["account"] = account.into();
    if let Some(region) = detail.get("region") {
        event["region"] = region.clone();
    }
    event["detail"] = detail.clone();
    event
}

/// As the finding's own account's bus delivers it.
fn own_event(detail: &Value) -> Value {
    let account = detail["accountId"].as_str().unwrap_or("123456789012");
    event_from(detail, account)
}

const ADMIN: &str = "999999999999";

fn provenance() -> GuardDutyProvenance {
    GuardDutyProvenance {
        partition: Partition::parse("aws").unwrap(),
        admin_accounts: [AccountId::parse(ADMIN).unwrap()].into(),
    }
}

fn decode_value(event: &Value) -> Result<GuardDutyEvent, fanin::guardduty::DecodeError> {
    decode(&event.to_string(), &provenance())
}

/// The collector's clock in these tests: after every fixture's update time.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

/// The context the pipeline builds when EC2 has nothing to say (the
/// instance is unknown): what GuardDuty reported.
fn context_without_ec2(event: &GuardDutyEvent) -> FaninContext {
    let (enrichment, instance, network) = match enrichment_target(&event.finding) {
        EnrichmentTarget::Instance(id) => {
            let (outcome, instance, network) = enrich_network(
                &id,
                InstanceLookup::NotFound,
                &HashMap::new(),
                normalize::reported_network(&event.finding),
            );
            (outcome, Some(instance), network)
        }
        EnrichmentTarget::NotApplicable(kind) => (
            EnrichmentOutcome {
                status: EnrichmentStatus::NotApplicable,
                reason: Some(format!("{kind} resources have no EC2 network context")),
            },
            None,
            None,
        ),
        EnrichmentTarget::NoInstance => (
            EnrichmentOutcome {
                status: EnrichmentStatus::NoInstance,
                reason: None,
            },
            None,
            None,
        ),
    };
    FaninContext {
        source: SOURCE_NAME,
        enrichment,
        instance,
        network,
        details: BTreeMap::new(),
    }
}

fn document(event: &GuardDutyEvent) -> Value {
    let partition = Partition::parse("aws").unwrap();
    let record =
        normalize::normalize(event, &partition, context_without_ec2(event), now()).unwrap();
    serde_json::to_value(&record.record).unwrap()
}

fn golden_path(name: &str) -> String {
    format!(
        "{}/{DIR}/golden/{name}.ocsf.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn published_findings_match_their_goldens_exactly() {
    let update = std::env::var("FANIN_REGENERATE_GOLDEN").is_ok_and(|v| v == "1");
    for name in ACCEPTED {
        let event =
            decode_value(&own_event(&finding(name))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual = document(&event);
        let path = golden_path(name);
        if update {
            std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
            let text = serde_json::to_string_pretty(&actual).unwrap();
            std::fs::write(&path, text + "\n").unwrap();
            continue;
        }
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
        )
        .unwrap();
        assert_eq!(actual, golden, "{name} differs from its golden");
    }
}

/// The goldens as the independent validator reads them: pydantic-ocsf's
/// OCSF 1.7.0 Detection Finding model.
#[test]
fn goldens_are_valid_ocsf_detection_findings() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".local/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup to install pydantic-ocsf",
        python.display()
    );
    let input: String = ACCEPTED
        .iter()
        .map(|name| {
            let golden: Value =
                serde_json::from_str(&std::fs::read_to_string(golden_path(name)).unwrap()).unwrap();
            format!("{golden}\n")
        })
        .collect();
    let mut child = Command::new(python)
        .arg(root.join("tests/validate_ocsf.py"))
        .arg("detection_finding")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains(&format!("ocsf: {} valid, 0 invalid", ACCEPTED.len())),
        "{report}"
    );
}

#[test]
fn goldens_hold_what_an_analyst_looks_for() {
    let golden = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(golden_path(name)).unwrap()).unwrap()
    };
    // EC2, outbound connection: the instance opened it, so it is the source.
    let canary = golden("aws-samples-ec2-canary-finding");
    assert_eq!(canary["class_uid"], 2004);
    assert_eq!(canary["severity_id"], 3);
    assert_eq!(
        canary["finding_info"]["types"],
        json!(["Canary:EC2/Stateless.IntegTest"])
    );
    let connection = &canary["evidences"][0];
    assert_eq!(connection["connection_info"]["direction"], "Outbound");
    assert_eq!(connection["src_endpoint"]["port"], 2000);
    assert_eq!(
        connection["src_endpoint"]["instance_uid"],
        "i-05746eb48123455e0"
    );
    assert_eq!(connection["dst_endpoint"]["port"], 22);
    assert_eq!(connection["dst_endpoint"]["svc_name"], "SSH");
    // `launchTime` is in milliseconds: 2017-04-21, not the year 49000.
    assert_eq!(
        canary["resources"][0]["created_time_dt"],
        "2017-04-21T00:47:55.000Z"
    );
    let network = &canary["unmapped"]["fanin"]["network"];
    assert_eq!(network["observed_from"], "finding");
    assert_eq!(network["vpc_id"], "vpc-34865123");
    assert_eq!(network["public_ips"], json!(["11.111.111.1"]));
    // Unmapped attributes are kept, mapped ones are not repeated.
    let kept = &canary["unmapped"]["guardduty"];
    assert_eq!(kept["service"]["additionalInfo"]["unusual"], 22);
    assert_eq!(
        kept["resource"]["instanceDetails"]["instanceType"],
        "t2.micro"
    );
    assert!(kept.get("accountId").is_none() && kept.get("arn").is_none());

    // Credentials: the API call, who made it, archived.
    let iam = golden("aws-samples-iam-recon-finding");
    assert_eq!(
        (iam["status_id"].clone(), iam["is_alert"].clone()),
        (json!(5), json!(false))
    );
    assert_eq!(iam["activity_name"], "Close");
    let call = &iam["evidences"][0];
    assert_eq!(call["api"]["operation"], "GeneratedFindingAPIName");
    assert_eq!(call["api"]["response"]["error"], "AccessDenied");
    assert_eq!(call["src_endpoint"]["ip"], "198.51.100.0");
    assert_eq!(call["actor"]["user"]["name"], "GeneratedFindingUserName");
    assert_eq!(
        call["actor"]["user"]["credential_uid"],
        "GeneratedFindingAccessKeyId"
    );
    // "asn": "-1" is not an AS number: kept as sent, not mapped.
    assert!(
        call["src_endpoint"]["autonomous_system"]
            .get("number")
            .is_none()
    );
    assert_eq!(
        iam["unmapped"]["guardduty"]["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["organization"]
            ["asn"],
        "-1"
    );

    // S3: the bucket is a resource, its public access settings are kept.
    let s3 = golden("aws-samples-s3-pentest-finding");
    let bucket = s3["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "AwsS3Bucket")
        .unwrap();
    assert_eq!(bucket["uid"], "arn:aws:s3:::bucketName");
    assert_eq!(bucket["labels"], json!(["foo=bar"]));
    assert_eq!(bucket["created_time_dt"], "2017-12-18T15:58:11.551Z");
    assert_eq!(
        s3["unmapped"]["guardduty"]["resource"]["s3BucketDetails"][0]["publicAccess"]["effectivePermission"],
        "NOT_PUBLIC"
    );

    // DNS, EKS, a recurring finding.
    let dns = golden("elastic-ec2-dns-blackhole-finding");
    assert_eq!(
        dns["evidences"][0]["query"]["hostname"],
        "GeneratedFindingDomainName"
    );
    assert_eq!(dns["count"], 2);
    assert_eq!(dns["activity_name"], "Update");
    let eks = golden("elastic-eks-anonymous-access-finding");
    assert_eq!(eks["severity"], "High");
    assert_eq!(eks["resources"][0]["type"], "AwsEksCluster");
    assert_eq!(eks["evidences"][0]["api"]["operation"], "get");
    assert_eq!(
        eks["unmapped"]["fanin"]["enrichment"]["status"],
        "not_applicable"
    );
    // Inbound: the remote side opened the connection, so it is the source.
    let inbound = golden("elastic-ec2-malicious-ip-inbound-finding");
    let connection = &inbound["evidences"][0];
    assert_eq!(connection["connection_info"]["direction"], "Inbound");
    assert_eq!(connection["src_endpoint"]["ip"], "81.2.69.144");
    assert_eq!(connection["src_endpoint"]["port"], 5711);
    assert_eq!(connection["dst_endpoint"]["ip"], "10.0.0.23");
    assert_eq!(connection["dst_endpoint"]["port"], 3389);
    assert_eq!(connection["dst_endpoint"]["svc_name"], "RDP");
    assert_eq!(
        inbound["unmapped"]["guardduty"]["service"]["evidence"]["threatIntelligenceDetails"][0]["threatListName"],
        "GeneratedFindingThreatListName"
    );
    // Port probes: one inbound evidence per probe, the prober as source.
    let probe = golden("elastic-ec2-port-probe-finding");
    assert_eq!(
        probe["finding_info"]["types"],
        json!(["Recon:EC2/PortProbeUnprotectedPort"])
    );
    let probes = probe["evidences"].as_array().unwrap();
    assert_eq!(probes.len(), 2);
    for (evidence, (ip, port, asn)) in probes
        .iter()
        .zip([("81.2.69.144", 80, 9808), ("198.51.100.1", 443, 29073)])
    {
        assert_eq!(evidence["connection_info"]["direction"], "Inbound");
        assert_eq!(evidence["src_endpoint"]["ip"], ip);
        assert_eq!(evidence["src_endpoint"]["autonomous_system"]["number"], asn);
        assert_eq!(evidence["dst_endpoint"]["ip"], "10.0.0.23");
        assert_eq!(evidence["dst_endpoint"]["port"], port);
    }
    let backdoor = golden("elastic-ec2-backdoor-dos-finding");
    assert_eq!(backdoor["severity"], "High");
    assert_eq!(backdoor["evidences"][0]["dst_endpoint"]["svc_name"], "HTTP");
    assert_eq!(
        backdoor["unmapped"]["guardduty"]["service"]["resourceRole"],
        "ACTOR"
    );
    // A real AS number is mapped (as a number, though GuardDuty sends a string).
    let stealth = golden("elastic-iam-password-policy-finding");
    let caller = &stealth["evidences"][0]["src_endpoint"];
    assert_eq!(caller["autonomous_system"]["number"], 24309);
    assert!(
        stealth["unmapped"]["guardduty"]["service"]["action"]["awsApiCallAction"]
            ["remoteIpDetails"]
            .get("organization")
            .is_none()
    );
    assert_eq!(
        stealth["unmapped"]["guardduty"]["service"]["additionalInfo"]["newPolicy"]["maxPasswordAge"],
        "150"
    );
    let winrm = golden("elastic-ec2-winrm-bruteforce-finding");
    assert_eq!(winrm["severity"], "Low");
    assert_eq!(winrm["evidences"][0]["src_endpoint"]["ip"], "10.0.0.23");
    assert_eq!(winrm["evidences"][0]["dst_endpoint"]["port"], 5985);
}

#[test]
fn a_published_finding_with_a_malformed_account_is_set_aside() {
    let runtime = finding("elastic-runtime-docker-socket-finding");
    let error = decode_value(&event_from(&runtime, "123456789012")).unwrap_err();
    assert_eq!(error.reason_code(), "invalid_identifier");
}

#[test]
fn provenance_is_checked_and_each_rejection_has_its_reason() {
    let canary = finding("aws-samples-ec2-canary-finding");
    // The member's own bus, and the delegated administrator's.
    for account in ["123456789012", ADMIN] {
        let event = decode_value(&event_from(&canary, account)).unwrap();
        assert_eq!(event.account.as_str(), "123456789012");
        assert_eq!(event.delivered_by.as_str(), account);
        assert_eq!(event.region.as_str(), "us-east-1");
    }
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut event = own_event(&canary);
        edit(&mut event);
        event
    };
    let arn = canary["arn"].as_str().unwrap().to_owned();
    let cases: Vec<(Value, &str)> = vec![
        (
            event_from(&canary, "333333333333"),
            "event_account_mismatch",
        ),
        (
            with(&|e| e["source"] = "aws.inspector2".into()),
            "unknown_event",
        ),
        (
            with(&|e| e["detail-type"] = "GuardDuty Runtime Protection Healthy".into()),
            "unknown_event",
        ),
        (
            with(&|e| e["account"] = "12345".into()),
            "invalid_identifier",
        ),
        (
            with(&|e| e["region"] = "not a region".into()),
            "invalid_identifier",
        ),
        (
            with(&|e| e["detail"]["accountId"] = "111111111111".into()),
            "invalid_finding",
        ),
        (
            with(&|e| e["detail"]["id"] = "ffff".into()),
            "invalid_finding",
        ),
        (
            with(&|e| e["detail"]["partition"] = "aws-cn".into()),
            "invalid_finding",
        ),
        (
            with(&|e| e["detail"]["updatedAt"] = "yesterday".into()),
            "invalid_finding",
        ),
        (
            with(&|e| e["detail"]["severity"] = "high".into()),
            "invalid_finding",
        ),
        (with(&|e| e["detail"] = json!([])), "invalid_finding"),
        (
            with(&|e| {
                e.as_object_mut().unwrap().remove("detail");
            }),
            "invalid_finding",
        ),
        (
            with(&|e| e["detail"]["arn"] = arn.replace("/finding/", "/findings/").into()),
            "invalid_identifier",
        ),
        (
            with(&|e| e["detail"]["arn"] = arn.replace(":guardduty:", ":inspector2:").into()),
            "invalid_identifier",
        ),
        (
            with(&|e| {
                for (key, value) in [
                    (
                        "arn",
                        arn.replace("arn:aws:", "arn:aws-cn:")
                            .replace("us-east-1", "cn-north-1"),
                    ),
                    ("region", "cn-north-1".into()),
                    ("partition", "aws-cn".into()),
                ] {
                    e["detail"][key] = value.into();
                }
                e["region"] = "cn-north-1".into();
            }),
            "foreign_partition",
        ),
    ];
    for (event, expected) in cases {
        let error = decode_value(&event).unwrap_err();
        assert_eq!(error.reason_code(), expected, "{error}");
    }
    let error = decode("{not json", &provenance()).unwrap_err();
    assert_eq!(error.reason_code(), "malformed_json");
    let mismatch = decode_value(&event_from(&canary, "333333333333")).unwrap_err();
    assert_eq!(
        mismatch.to_string(),
        "EventBridge account 333333333333 is neither the finding's account 123456789012 nor a GuardDuty administrator"
    );
}

/// GuardDuty aggregates a recurrence into the same finding: `updatedAt`,
/// `service.count` and `eventLastSeen` change. Each is a new version that
/// orders after the one before; the same content is the same version.
#[test]
fn a_recurrence_is_a_new_version_and_the_same_content_is_not() {
    let partition = Partition::parse("aws").unwrap();
    let record = |detail: &Value| {
        let event = decode_value(&own_event(detail)).unwrap();
        normalize::normalize(&event, &partition, context_without_ec2(&event), now()).unwrap()
    };
    let first = finding("elastic-ec2-dns-blackhole-finding");
    let mut recurrence = first.clone();
    recurrence["updatedAt"] = "2022-11-22T18:22:20.934Z".into();
    recurrence["service"]["count"] = 3.into();
    recurrence["service"]["eventLastSeen"] = "2022-11-22T18:22:20.000Z".into();
    let mut reordered = serde_json::Map::new();
    for (key, value) in first.as_object().unwrap().iter().rev() {
        reordered.insert(key.clone(), value.clone());
    }

    let (a, b) = (record(&first), record(&recurrence));
    assert!(b.version > a.version);
    assert_ne!(a.version_uid, b.version_uid);
    assert_eq!(
        a.document_id, b.document_id,
        "one index document per finding"
    );
    assert_eq!(b.record.count, Some(3));
    assert_eq!(record(&Value::Object(reordered)).version_uid, a.version_uid);

    // Only the count changed (same update time): still another version.
    let mut counted = first.clone();
    counted["service"]["count"] = 5.into();
    let c = record(&counted);
    assert_ne!(c.version_uid, a.version_uid);
    assert_eq!(c.version / 1_000_000, a.version / 1_000_000);

    // Archived at the same instant: the archived state orders later.
    let mut archived = first.clone();
    archived["service"]["archived"] = true.into();
    let d = record(&archived);
    assert!(d.version > a.version && d.version > c.version);
    assert_eq!(d.record.status_id, 5);

    // An update time beyond the collector's clock is no version.
    let mut future = first.clone();
    future["updatedAt"] = "2030-01-01T00:00:00Z".into();
    let event = decode_value(&own_event(&future)).unwrap();
    let error =
        normalize::normalize(&event, &partition, context_without_ec2(&event), now()).unwrap_err();
    assert_eq!(error.reason_code(), "version_out_of_range");
}

#[test]
fn severity_follows_the_guardduty_bands() {
    for (score, id, caption) in [
        (0.1, 2, "Low"),
        (1.0, 2, "Low"),
        (3.9, 2, "Low"),
        (4.0, 3, "Medium"),
        (6.9, 3, "Medium"),
        (7.0, 4, "High"),
        (8.9, 4, "High"),
        (9.0, 5, "Critical"),
        (10.0, 5, "Critical"),
        (10.1, 0, "Unknown"),
        (-1.0, 0, "Unknown"),
    ] {
        let severity = normalize::severity(score);
        assert_eq!(
            (severity.id, severity.caption.as_str()),
            (id, caption),
            "{score}"
        );
    }
}

#[test]
fn epoch_numbers_are_read_in_their_unit() {
    for (raw, expected) in [
        (json!(1492735675000_i64), "2017-04-21T00:47:55.000Z"),
        (json!(1513612691.551), "2017-12-18T15:58:11.551Z"),
        (json!("1513612692"), "2017-12-18T15:58:12.000Z"),
        (
            json!("2022-11-17T09:33:19.224Z"),
            "2022-11-17T09:33:19.224Z",
        ),
    ] {
        let time = parse_time(&raw).unwrap();
        assert_eq!(fanin::timestamps::rfc3339(&time), expected, "{raw}");
    }
    for raw in [json!(-1), json!("soon"), json!(null), json!(1e300)] {
        assert!(parse_time(&raw).is_none(), "{raw}");
    }
}

/// The EC2 look-up an instance finding asks for, and the network context
/// either way: EC2's view when it describes the instance, GuardDuty's
/// report of the interfaces when it cannot.
#[test]
fn instance_findings_get_the_same_network_enrichment_as_inspector() {
    let event = decode_value(&own_event(&finding("aws-samples-ec2-canary-finding"))).unwrap();
    let need = enrichment_need(&event).unwrap();
    assert_eq!(need.instance_id, "i-05746eb48123455e0");
    assert_eq!(need.account.as_str(), "123456789012");
    assert_eq!(need.region.as_str(), "us-east-1");
    let eks = decode_value(&own_event(&finding("elastic-eks-anonymous-access-finding"))).unwrap();
    assert_eq!(enrichment_need(&eks), None);

    let reported = normalize::reported_network(&event.finding);
    assert_eq!(reported.vpc_id.as_deref(), Some("vpc-34865123"));
    assert_eq!(reported.interfaces[0].security_groups[0].id, "sg-9918a123");
    assert_eq!(reported.interfaces[0].private_ips, ["0.0.0.0"]);

    let record = InstanceRecord {
        instance_id: need.instance_id.clone(),
        state: "running".into(),
        vpc_id: Some("vpc-0aaa1111bbb2222cc".into()),
        subnet_id: Some("subnet-0aaa1111bbb2222cc".into()),
        interfaces: vec![InterfaceRecord {
            interface_id: "eni-0aaa1111bbb2222cc".into(),
            private_ips: vec!["10.1.2.3".into()],
            public_ips: vec!["203.0.113.9".into()],
            security_groups: vec![GroupRef {
                id: "sg-0aaa1111bbb2222cc".into(),
                name: Some("web".into()),
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let groups: HashMap<String, SecurityGroupRecord> = [(
        "sg-0aaa1111bbb2222cc".to_owned(),
        SecurityGroupRecord {
            group_id: "sg-0aaa1111bbb2222cc".into(),
            group_name: Some("web".into()),
            vpc_id: None,
            ingress: vec![IngressRule {
                protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                ipv4_ranges: vec!["0.0.0.0/0".into()],
                ..Default::default()
            }],
        },
    )]
    .into();
    let (enrichment, instance, network) = enrich_network(
        &need.instance_id,
        InstanceLookup::Found(&record),
        &groups,
        reported,
    );
    let context = FaninContext {
        source: SOURCE_NAME,
        enrichment,
        instance: Some(instance),
        network,
        details: BTreeMap::new(),
    };
    let partition = Partition::parse("aws").unwrap();
    let stored = normalize::normalize(&event, &partition, context, now()).unwrap();
    let document = serde_json::to_value(&stored.record).unwrap();
    assert_eq!(document["device"]["ip"], "10.1.2.3");
    assert_eq!(document["device"]["vpc_uid"], "vpc-0aaa1111bbb2222cc");
    assert_eq!(
        document["device"]["network_interfaces"][0]["uid"],
        "eni-0aaa1111bbb2222cc"
    );
    assert_eq!(document["resources"][0]["ip"], "10.1.2.3");
    let network = &document["unmapped"]["fanin"]["network"];
    assert_eq!(network["observed_from"], "ec2");
    assert_eq!(network["internet_exposed"], true);
    assert_eq!(
        document["unmapped"]["fanin"]["enrichment"]["status"],
        "enriched"
    );
}

/// Every value of a golden fits the type the index template gives its
/// field, so the documents index without a mapping error.
#[test]
fn the_index_template_types_fit_the_goldens() {
    let template = detection_index_template("fanin-detection-findings");
    assert_eq!(
        template["index_patterns"],
        json!(["fanin-detection-findings*"])
    );
    let properties = &template["template"]["mappings"]["properties"];
    assert_eq!(
        properties["unmapped"]["properties"]["guardduty"]["dynamic"],
        false
    );
    let mut checked = 0;
    for name in ACCEPTED {
        let golden: Value =
            serde_json::from_str(&std::fs::read_to_string(golden_path(name)).unwrap()).unwrap();
        check_types(&golden, properties, "", &mut checked);
    }
    assert!(checked > 100, "only {checked} values met a declared type");
}

fn check_types(value: &Value, properties: &Value, path: &str, checked: &mut usize) {
    let Value::Object(map) = value else { return };
    for (key, item) in map {
        let Some(mapping) = properties.get(key) else {
            continue;
        };
        let here = format!("{path}.{key}");
        let items: Vec<&Value> = match item {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            if let Some(kind) = mapping.get("type").and_then(Value::as_str)
                && kind != "object"
            {
                *checked += 1;
                let fits = item.is_null()
                    || match kind {
                        "ip" => item.as_str().and_then(parse_ip).is_some(),
                        "integer" | "long" => item.is_i64() || item.is_u64(),
                        "float" => item.is_number(),
                        "boolean" => item.is_boolean(),
                        "keyword" | "text" => {
                            item.is_string() || item.is_number() || item.is_boolean()
                        }
                        "date" => item.is_i64() || item.is_string(),
                        other => panic!("{here}: unexpected mapping type {other}"),
                    };
                assert!(fits, "{here}: {item} does not fit {kind}");
            }
            if let Some(inner) = mapping.get("properties") {
                check_types(item, inner, &here, checked);
            }
        }
    }
}

// --- Properties ---------------------------------------------------------------

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const REASONS: [&str; 7] = [
    "malformed_json",
    "unknown_event",
    "event_account_mismatch",
    "foreign_partition",
    "invalid_identifier",
    "invalid_finding",
    "version_out_of_range",
];

fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        (1usize..100_000).prop_map(|n| Value::from("x".repeat(n))),
        prop::sample::select(vec![
            "999.1.1.1",
            "::g",
            "2001:db8::1",
            "9999-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "-1",
            "65536",
            "cn-north-1",
            "../../etc",
            "\u{0}\u{1b}[31m",
        ])
        .prop_map(Value::from),
        prop::collection::vec(".{0,8}".prop_map(Value::from), 0..300).prop_map(Value::from),
        Just(json!({"nested": {"deeper": [1, "two", null]}})),
    ]
}

fn strings_within(value: &Value, max: usize) -> bool {
    match value {
        Value::String(text) => text.len() <= max + 40,
        Value::Array(items) => {
            items.len() <= LIST_ITEMS && items.iter().all(|i| strings_within(i, max))
        }
        Value::Object(map) => map.values().all(|v| strings_within(v, max)),
        _ => true,
    }
}

/// What every stored record keeps, whatever the finding said.
fn check_record(event: &GuardDutyEvent) -> Result<(), TestCaseError> {
    let partition = Partition::parse("aws").unwrap();
    match normalize::normalize(event, &partition, context_without_ec2(event), now()) {
        Err(error) => prop_assert_eq!(error.reason_code(), "version_out_of_range"),
        Ok(record) => {
            prop_assert!(record.version > 0);
            let document = serde_json::to_value(&record.record).unwrap();
            prop_assert_eq!(&document["class_uid"], 2004);
            prop_assert_eq!(&document["finding_info"]["uid"], event.arn.as_str());
            prop_assert!(
                document["finding_info"]["title"].as_str().unwrap().len() <= TITLE_BYTES + 40
            );
            prop_assert!(strings_within(
                &document["unmapped"]["guardduty"],
                DETAIL_STRING_BYTES
            ));
            for evidence in document["evidences"].as_array().into_iter().flatten() {
                for side in ["src_endpoint", "dst_endpoint"] {
                    if let Some(ip) = evidence[side].get("ip") {
                        prop_assert!(parse_ip(ip.as_str().unwrap()).is_some(), "{}", ip);
                    }
                }
            }
            for key in ["evidences", "observables", "resources"] {
                let count = document
                    .get(key)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                prop_assert!(count <= LIST_ITEMS, "{} has {}", key, count);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Hostile values anywhere in a published finding or its envelope:
    /// decoding ends in an event or a known reason, and what decodes
    /// normalizes within the limits.
    #[test]
    fn the_decoder_and_the_mapping_are_total(
        which in 0..ACCEPTED.len(),
        edits in prop::collection::vec((any::<Index>(), hostile_value()), 1..4),
    ) {
        let event = mutate(&own_event(&finding(ACCEPTED[which])), &edits);
        match decode_value(&event) {
            Err(error) => prop_assert!(REASONS.contains(&error.reason_code()), "{}", error),
            Ok(decoded) => check_record(&decoded)?,
        }
    }

    /// Bytes overwritten anywhere in the message body.
    #[test]
    fn broken_bytes_never_panic(
        which in 0..ACCEPTED.len(),
        flips in prop::collection::vec((any::<Index>(), any::<u8>()), 1..6),
    ) {
        let body = own_event(&finding(ACCEPTED[which])).to_string();
        let mut bytes = body.into_bytes();
        for (position, byte) in &flips {
            let at = position.index(bytes.len());
            bytes[at] = *byte;
        }
        let body = String::from_utf8_lossy(&bytes).into_owned();
        match decode(&body, &provenance()) {
            Err(error) => prop_assert!(REASONS.contains(&error.reason_code()), "{}", error),
            Ok(decoded) => check_record(&decoded)?,
        }
    }

    /// Port probes with any number of probes stay within the list limit.
    #[test]
    fn port_probes_of_any_size_stay_within_limits(probes in 0usize..300) {
        let mut detail = finding("aws-samples-ec2-canary-finding");
        let probe = json!({
            "localPortDetails": {"port": 22, "portName": "SSH"},
            "remoteIpDetails": {"ipAddressV4": "198.51.100.7"},
        });
        detail["service"]["action"] = json!({
            "actionType": "PORT_PROBE",
            "portProbeAction": {"blocked": false, "portProbeDetails": vec![probe; probes]},
        });
        let event = decode_value(&own_event(&detail)).unwrap();
        check_record(&event)?;
    }
}

// --- The template on an OpenSearch API ------------------------------------------

/// osmem-server (the OpenSearch REST API the local stack uses), stopped when
/// dropped.
struct Osmem(std::process::Child);

impl Drop for Osmem {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn call(
    client: &opensearch::OpenSearch,
    method: opensearch::http::Method,
    path: &str,
    content_type: &'static str,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    use opensearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let response = client
        .send(method, path, headers, None::<&()>, body, None)
        .await
        .unwrap();
    let status = response.status_code().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The goldens index under the class 2004 template on a real OpenSearch
/// API without a mapping error, and an analyst's queries find them: an
/// address as `ip` (CIDR), the occurrence count as a number, and the one
/// `unmapped.guardduty` attribute the template declares; the undeclared
/// ones are kept in the document but not mapped.
#[tokio::test]
async fn goldens_index_and_answer_queries_under_the_template() {
    use opensearch::OpenSearch;
    use opensearch::http::Method;
    use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let located = Command::new(root.join(".local/venv/bin/python"))
        .args([
            "-c",
            "import osmem_server; print(osmem_server.resolve_binary())",
        ])
        .output()
        .expect("the local venv's python: run scripts/setup");
    assert!(
        located.status.success(),
        "osmem-server is not installed: run scripts/setup"
    );
    let binary = String::from_utf8(located.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Osmem(
        Command::new(binary)
            .args(["-addr", &format!("127.0.0.1:{port}"), "-no-stdin-watch"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = OpenSearch::new(
        TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .disable_proxy()
            .build()
            .unwrap(),
    );
    let mut ready = false;
    for _ in 0..100 {
        let answer = client
            .send(
                Method::Get,
                "/",
                Default::default(),
                None::<&()>,
                None::<Vec<u8>>,
                None,
            )
            .await;
        if answer.is_ok_and(|r| r.status_code().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "osmem-server did not answer");

    let json = "application/json";
    let template = detection_index_template("fanin-detection-findings");
    let (status, answer) = call(
        &client,
        Method::Put,
        "/_index_template/fanin-detection-findings",
        json,
        Some(template.to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");

    let index = "fanin-detection-findings-test";
    let mut body = String::new();
    for name in ACCEPTED {
        let golden: Value =
            serde_json::from_str(&std::fs::read_to_string(golden_path(name)).unwrap()).unwrap();
        body.push_str(&json!({"index": {"_index": index, "_id": name}}).to_string());
        body.push('\n');
        body.push_str(&golden.to_string());
        body.push('\n');
    }
    let (status, answer) = call(
        &client,
        Method::Post,
        "/_bulk?refresh=true",
        "application/x-ndjson",
        Some(body.into_bytes()),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"], false, "{answer}");
    assert_eq!(answer["items"].as_array().unwrap().len(), ACCEPTED.len());

    let search = |query: Value| {
        let client = &client;
        async move {
            let (status, answer) = call(
                client,
                Method::Post,
                &format!("/{index}/_search"),
                json,
                Some(json!({"query": query, "size": 20}).to_string().into_bytes()),
            )
            .await;
            assert_eq!(status, 200, "{answer}");
            let mut ids: Vec<String> = answer["hits"]["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hit| hit["_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let api_calls = vec![
        "aws-samples-iam-recon-finding".to_owned(),
        "aws-samples-s3-pentest-finding".to_owned(),
        "elastic-iam-password-policy-finding".to_owned(),
    ];
    assert_eq!(
        search(json!({"term": {"evidences.src_endpoint.ip": "198.51.100.0/24"}})).await,
        [
            "aws-samples-iam-recon-finding",
            "aws-samples-s3-pentest-finding",
            "elastic-ec2-port-probe-finding",
        ]
    );
    assert_eq!(
        search(json!({"term": {"unmapped.guardduty.service.action.actionType": "AWS_API_CALL"}}))
            .await,
        api_calls
    );
    assert_eq!(
        search(json!({"range": {"count": {"gte": 2}}})).await,
        [
            "elastic-ec2-backdoor-dos-finding",
            "elastic-ec2-dns-blackhole-finding",
            "elastic-ec2-malicious-ip-inbound-finding",
            "elastic-ec2-port-probe-finding",
            "elastic-ec2-winrm-bruteforce-finding",
            "elastic-eks-anonymous-access-finding",
            "elastic-iam-password-policy-finding",
        ]
    );

    let (status, mapping) = call(
        &client,
        Method::Get,
        &format!("/{index}/_mapping"),
        json,
        None,
    )
    .await;
    assert_eq!(status, 200, "{mapping}");
    let properties = &mapping[index]["mappings"]["properties"];
    let ip = &properties["evidences"]["properties"]["src_endpoint"]["properties"]["ip"]["type"];
    assert_eq!(ip, "ip");
    let guardduty = &properties["unmapped"]["properties"]["guardduty"]["properties"];
    assert!(guardduty.get("service").is_some(), "{guardduty}");
    assert!(
        guardduty.get("schemaVersion").is_none(),
        "undeclared attributes are not mapped: {guardduty}"
    );
}

/// A port probe with what the published one lacks (a country code, values
/// that do not parse): one inbound evidence per probe, the prober as the
/// source, the instance's probed port as the destination.
#[test]
fn each_port_probe_is_an_inbound_evidence() {
    let mut detail = finding("aws-samples-ec2-canary-finding");
    detail["type"] = "Recon:EC2/PortProbeUnprotectedPort".into();
    detail["service"]["action"] = json!({
        "actionType": "PORT_PROBE",
        "portProbeAction": {"blocked": false, "portProbeDetails": [
            {
                "localPortDetails": {"port": 22, "portName": "SSH"},
                "localIpDetails": {"ipAddressV4": "10.0.0.23"},
                "remoteIpDetails": {
                    "ipAddressV4": "198.51.100.7",
                    "organization": {"asn": "64496", "asnOrg": "Example AS"},
                    "country": {"countryCode": "NL", "countryName": "Netherlands"},
                },
            },
            {
                "localPortDetails": {"port": 70000},
                "remoteIpDetails": {"ipAddressV4": "not-an-ip"},
            },
        ]},
    });
    let event = decode_value(&own_event(&detail)).unwrap();
    let document = document(&event);
    let evidences = document["evidences"].as_array().unwrap();
    assert_eq!(evidences.len(), 2);
    let probe = &evidences[0];
    assert_eq!(probe["connection_info"]["direction_id"], 1);
    assert_eq!(probe["src_endpoint"]["ip"], "198.51.100.7");
    assert_eq!(probe["src_endpoint"]["autonomous_system"]["number"], 64496);
    assert_eq!(probe["src_endpoint"]["location"]["country"], "NL");
    assert_eq!(probe["dst_endpoint"]["ip"], "10.0.0.23");
    assert_eq!(probe["dst_endpoint"]["port"], 22);
    assert_eq!(probe["dst_endpoint"]["instance_uid"], "i-05746eb48123455e0");
    // What does not parse is set aside, listed, and kept as sent.
    assert!(evidences[1]["src_endpoint"].get("ip").is_none());
    assert!(evidences[1]["dst_endpoint"].get("port").is_none());
    let unparsed: Vec<&str> = document["unmapped"]["fanin"]["unparsed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["field"].as_str().unwrap())
        .collect();
    assert!(
        unparsed.contains(
            &"service.action.portProbeAction.portProbeDetails[1].remoteIpDetails.ipAddressV4"
        ),
        "{unparsed:?}"
    );
    assert!(
        unparsed
            .contains(&"service.action.portProbeAction.portProbeDetails[1].localPortDetails.port"),
        "{unparsed:?}"
    );
    let kept = &document["unmapped"]["guardduty"]["service"]["action"]["portProbeAction"];
    assert_eq!(
        kept["portProbeDetails"][1]["remoteIpDetails"]["ipAddressV4"],
        "not-an-ip"
    );
    assert_eq!(
        kept["portProbeDetails"][0]["remoteIpDetails"]["country"]["countryName"],
        "Netherlands"
    );
    assert_eq!(kept["blocked"], false);
}
