//! The published-sample corpus (`tests/fixtures/published/`, sources in
//! `tests/fixtures/README.md`): each sample normalizes to exactly its golden
//! OCSF document (`<sample>.ocsf.json`), reviewed field by field, and each
//! fidelity rule of docs/schema.md is asserted on the sample that shows it.
//!
//! The instance a finding names is not described (EC2 does not know it): the
//! records show what the finding alone says, which is what a terminated or
//! unreachable instance leaves. After a deliberate mapping change, rewrite
//! the golden files with
//! `FANIN_REGENERATE_GOLDEN=1 cargo test -p fanin --test suite published::`
//! and review the diff before committing it. The goldens are validated by
//! the independent validator in `cargo test --workspace --test e2e published`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use fanin::enrich::{self, EnrichmentOutcome, EnrichmentStatus, FaninContext, InstanceLookup};
use fanin::ids::{AccountId, Partition, Region};
use fanin::model::{ClassicFinding, Inspector2Finding};
use fanin::normalize::{EnrichmentTarget, FindingRecord, Origin, SourceFinding};
use serde_json::Value;

fn published(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/published/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The collector's clock for every sample (after the newest sample).
fn now() -> DateTime<Utc> {
    "2026-11-30T00:00:00Z".parse().unwrap()
}

/// What the pipeline gives a finding whose instance EC2 does not know.
fn context(finding: &dyn SourceFinding) -> FaninContext {
    let bare = |status, reason: Option<String>| FaninContext {
        source: finding.source_name(),
        enrichment: EnrichmentOutcome { status, reason },
        instance: None,
        network: None,
        details: BTreeMap::new(),
    };
    match finding.enrichment_target() {
        EnrichmentTarget::NotApplicable(kind) => bare(
            EnrichmentStatus::NotApplicable,
            Some(format!("{kind} resources have no EC2 network context")),
        ),
        EnrichmentTarget::NoInstance => bare(EnrichmentStatus::NoInstance, None),
        EnrichmentTarget::Instance(id) => {
            let (enrichment, instance, network) = enrich::enrich(
                &id,
                InstanceLookup::NotFound,
                &HashMap::new(),
                finding.reported_network(),
            );
            FaninContext {
                source: finding.source_name(),
                enrichment,
                instance: Some(instance),
                network,
                details: BTreeMap::new(),
            }
        }
    }
}

/// Account and region from an ARN (`arn:<partition>:<service>:<region>:<account>:...`).
fn origin_of(arn: &str) -> (Origin, Partition) {
    let parts: Vec<&str> = arn.split(':').collect();
    let origin = Origin {
        account: AccountId::parse(parts[4]).unwrap(),
        region: Region::parse(parts[3]).unwrap(),
    };
    (origin, Partition::parse(parts[1]).unwrap())
}

/// The OCSF document of a published sample.
fn normalize(name: &str) -> Value {
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(published(name)).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let finding = if let Some(findings) = raw.get("findings") {
        let classic: ClassicFinding = serde_json::from_value(findings[0].clone()).unwrap();
        Box::new(classic) as Box<dyn SourceFinding>
    } else {
        let detail: Inspector2Finding = serde_json::from_value(raw["detail"].clone()).unwrap();
        Box::new(detail) as Box<dyn SourceFinding>
    };
    let (origin, partition) = origin_of(finding.uid());
    let record = FindingRecord::new(&*finding, origin, &partition, context(&*finding), now())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&record.document).unwrap()
}

const SAMPLES: &[&str] = &[
    "inspector2-ec2-package-vulnerability.json",
    "inspector2-ec2-package-vulnerability-2023.json",
    "inspector2-ec2-network-reachability.json",
    "inspector2-ecr-package-vulnerability.json",
    "inspector2-lambda-package-vulnerability.json",
    "inspector2-lambda-code-vulnerability.json",
    "inspector2-azure-vm-package-vulnerability.json",
    "inspector2-ami-ondemand-finding.json",
    "classic-describe-findings.json",
];

/// The first path where two JSON values differ, for a readable failure.
fn first_difference(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys()) {
                let (x, y) = (e.get(key), a.get(key));
                let here = format!("{path}.{key}");
                match (x, y) {
                    (Some(x), Some(y)) => {
                        if let Some(found) = first_difference(&here, x, y) {
                            return Some(found);
                        }
                    }
                    _ => return Some(format!("{here}: expected {x:?}, got {y:?}")),
                }
            }
            None
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(&format!("{path}[{i}]"), x, y)),
        _ if expected == actual => None,
        _ => Some(format!("{path}: expected {expected}, got {actual}")),
    }
}

#[test]
fn every_published_sample_maps_to_its_golden_document() {
    let regenerate = std::env::var_os("FANIN_REGENERATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for name in SAMPLES {
        let actual = normalize(name);
        let golden = published(&name.replace(".json", ".ocsf.json"));
        if regenerate {
            let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            std::fs::write(&golden, text).unwrap();
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&golden)
                .unwrap_or_else(|e| panic!("{golden}: {e} (regenerate, then review)")),
        )
        .unwrap();
        if let Some(difference) = first_difference("", &expected, &actual) {
            failures.push(format!("{name}: {difference}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn code_locations_become_affected_code() {
    let record = normalize("inspector2-lambda-code-vulnerability.json");
    let vulnerability = &record["vulnerabilities"][0];
    assert_eq!(
        vulnerability["affected_code"],
        serde_json::json!([{
            "file": {"name": "lambda_function.py", "path": "lambda_function.py", "type_id": 1, "type": "Regular File"},
            "start_line": 6,
            "end_line": 6,
            "rule": {"uid": "python-detect-hardcoded-aws-credentials", "name": "Hardcoded credentials"}
        }])
    );
    assert_eq!(vulnerability["cwe"]["uid"], "CWE-798");
    let details = &record["unmapped"]["fanin"]["details"];
    assert_eq!(
        details["code_detector_id"],
        "python/hardcoded-credentials@v1.0"
    );
    assert_eq!(
        details["code_rule_id"],
        "python-detect-hardcoded-aws-credentials"
    );
    assert_eq!(details["code_detector_tags"][2], "owasp-top10");
}

#[test]
fn each_package_keeps_its_own_remediation() {
    let record = normalize("inspector2-ec2-package-vulnerability-2023.json");
    let vulnerability = &record["vulnerabilities"][0];
    assert_eq!(vulnerability["remediation"]["desc"], "None Provided");
    assert_eq!(
        vulnerability["affected_packages"][0]["remediation"]["desc"],
        "apt update && apt install --only-upgrade linux-image-aws"
    );
}

#[test]
fn vendor_times_severity_and_last_exploit_are_kept() {
    let record = normalize("inspector2-lambda-package-vulnerability.json");
    let vulnerability = &record["vulnerabilities"][0];
    assert_eq!(
        vulnerability["cve"]["created_time_dt"],
        "2023-05-02T18:15:52.000Z"
    );
    assert_eq!(
        vulnerability["cve"]["modified_time_dt"],
        "2023-08-20T21:15:09.000Z"
    );
    assert_eq!(
        vulnerability["exploit_last_seen_time_dt"],
        "2024-08-31T00:04:50.000Z"
    );
    assert_eq!(
        record["unmapped"]["fanin"]["details"]["vendor_severity"],
        "HIGH"
    );
    // The pre-June-2024 form, and an exploit seen before the CVE's finding.
    let old = normalize("inspector2-ec2-package-vulnerability-2023.json");
    assert_eq!(
        old["vulnerabilities"][0]["exploit_last_seen_time_dt"],
        "2022-10-24T23:08:59.000Z"
    );
    assert_eq!(
        old["vulnerabilities"][0]["cve"]["created_time_dt"],
        "2022-09-27T23:15:00.000Z"
    );
}

#[test]
fn partial_fixes_are_not_complete_fixes() {
    let coverage = |word: &str| {
        let record = normalize_edited("inspector2-ecr-package-vulnerability.json", |detail| {
            detail["fixAvailable"] = word.into();
        });
        let v = &record["vulnerabilities"][0];
        (
            v["is_fix_available"].clone(),
            v["fix_coverage_id"].clone(),
            v["fix_coverage"].clone(),
        )
    };
    assert_eq!(coverage("YES"), (true.into(), 1.into(), "Complete".into()));
    assert_eq!(
        coverage("PARTIAL"),
        (true.into(), 2.into(), "Partial".into())
    );
    assert_eq!(coverage("NO"), (false.into(), 3.into(), "None".into()));
}

#[test]
fn scores_and_resource_details_are_fields_of_their_own() {
    let lambda = normalize("inspector2-lambda-package-vulnerability.json");
    let details = &lambda["unmapped"]["fanin"]["details"];
    assert_eq!(details["inspector_score"], 7.5);
    assert_eq!(details["adjusted_cvss"]["score"], 7.5);
    assert_eq!(details["function"]["function_name"], "VulnerableFunction");
    assert_eq!(details["function"]["runtime"], "PYTHON_3_11");
    assert_eq!(details["function"]["version"], "$LATEST");
    assert_eq!(lambda["resources"][0]["name"], "VulnerableFunction");
    assert_eq!(lambda["resources"][0]["version"], "$LATEST");

    let ecr = normalize("inspector2-ecr-package-vulnerability.json");
    let image = &ecr["unmapped"]["fanin"]["details"]["container_image"];
    assert_eq!(image["repository_name"], "inspector2");
    assert_eq!(image["image_tags"], serde_json::json!(["ubuntu_latest"]));
    assert_eq!(
        image["image_digest"],
        "sha256:84f507df33c6864d49c296fb734192696e4cb6f78166ac51ac8b9b118181085d"
    );
    assert_eq!(image["pushed_time"], 1725468928000_i64);
    assert_eq!(ecr["resources"][0]["name"], "inspector2");
    // The source object itself is kept whole.
    assert_eq!(
        ecr["resources"][0]["data"]["awsEcrContainerImage"]["platform"],
        "UBUNTU_24_04"
    );
}

#[test]
fn the_findings_own_reachability_is_network_context() {
    let record = normalize("inspector2-ec2-network-reachability.json");
    let fanin = &record["unmapped"]["fanin"];
    assert_eq!(fanin["enrichment"]["status"], "instance_not_found");
    let network = &fanin["network"];
    assert_eq!(network["internet_exposed"], true);
    let reach = &network["reachability"][0];
    assert_eq!(reach["protocol"], "TCP");
    assert_eq!(
        (reach["from_port"].clone(), reach["to_port"].clone()),
        (22.into(), 22.into())
    );
    assert_eq!(reach["from_internet"], true);
    assert_eq!(reach["path"][0]["component_id"], "igw-261bab4d");
    assert_eq!(reach["path"][4]["component_type"], "AWS::EC2::Instance");
    // A package finding on the same kind of host says nothing of the sort.
    let package = normalize("inspector2-ec2-package-vulnerability.json");
    assert_eq!(
        package["unmapped"]["fanin"]["network"]["internet_exposed"],
        false
    );
}

#[test]
fn resources_in_other_clouds_keep_their_cloud() {
    let record = normalize("inspector2-azure-vm-package-vulnerability.json");
    assert_eq!(
        record["cloud"],
        serde_json::json!({
            "provider": "Azure",
            "region": "eastus",
            "account": {"uid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "type": "Azure Subscription", "type_id": 13},
            "org": {"uid": "11111111-2222-3333-4444-555555555555"}
        })
    );
    let resource = &record["resources"][0];
    assert_eq!(resource["region"], "eastus");
    assert!(resource.get("cloud_partition").is_none());
    assert_eq!(resource["name"], "example-vm");
    assert!(record["unmapped"]["fanin"].get("unparsed").is_none());
    assert_eq!(
        record["unmapped"]["fanin"]["details"]["aws_account_id"],
        "123456789012"
    );
}

#[test]
fn the_advisory_url_is_a_reference_not_the_findings_url() {
    let record = normalize("inspector2-ec2-package-vulnerability.json");
    assert!(record["finding_info"].get("src_url").is_none());
    assert_eq!(
        record["vulnerabilities"][0]["references"][0],
        "https://people.canonical.com/~ubuntu-security/cve/2024/CVE-2024-29069.html"
    );
}

#[test]
fn on_demand_ami_findings_are_normalized() {
    let record = normalize("inspector2-ami-ondemand-finding.json");
    assert_eq!(record["resources"][0]["uid"], "ami-0abcdef1234567890");
    assert_eq!(record["resources"][0]["type"], "MACHINE_IMAGE");
    assert_eq!(
        record["unmapped"]["fanin"]["details"]["other"]["scanId"],
        "9f1c4b8d2e6a4f0b7c3d5e1a8b2f6c4d"
    );
}

#[test]
fn classic_keeps_every_attribute_and_reads_epoch_seconds() {
    let record = normalize("classic-describe-findings.json");
    let details = &record["unmapped"]["fanin"]["details"];
    assert_eq!(details["indicator_of_compromise"], false);
    assert_eq!(details["service"], "Inspector");
    assert_eq!(details["asset_type"], "ec2-instance");
    assert_eq!(details["confidence"], 10);
    assert_eq!(
        record["finding_info"]["created_time_dt"],
        "2016-03-22T20:58:21.370Z"
    );
}

/// The record of an edited published event (`edit` changes its `detail`).
fn normalize_edited(name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let text = std::fs::read_to_string(published(name)).unwrap();
    let mut raw: Value = serde_json::from_str(&text).unwrap();
    edit(&mut raw["detail"]);
    let finding: Inspector2Finding = serde_json::from_value(raw["detail"].clone()).unwrap();
    let finding: Box<dyn SourceFinding> = Box::new(finding);
    let (origin, partition) = origin_of(finding.uid());
    let record =
        FindingRecord::new(&*finding, origin, &partition, context(&*finding), now()).unwrap();
    serde_json::from_str(&record.document).unwrap()
}

#[test]
fn only_a_path_from_an_internet_gateway_means_exposed() {
    let record = normalize_edited("inspector2-ec2-network-reachability.json", |detail| {
        let steps = &mut detail["networkReachabilityDetails"]["networkPath"]["steps"];
        steps[0] = serde_json::json!({"componentId": "vgw-0123abcd", "componentType": "AWS::EC2::VPNGateway"});
    });
    let network = &record["unmapped"]["fanin"]["network"];
    assert_eq!(network["reachability"][0]["from_internet"], false);
    assert_eq!(network["internet_exposed"], false);
}

#[test]
fn reachability_alone_makes_a_network_context() {
    // No addresses, no VPC: without the finding's own analysis there would
    // be no network context at all.
    let record = normalize_edited("inspector2-ec2-network-reachability.json", |detail| {
        detail["resources"][0]["details"] = serde_json::json!({});
    });
    let network = &record["unmapped"]["fanin"]["network"];
    assert_eq!(network["observed_from"], "finding");
    assert_eq!(network["internet_exposed"], true);
    assert_eq!(network["private_ips"], serde_json::json!([]));
    assert_eq!(
        network["reachability"][0]["path"][0]["component_id"],
        "igw-261bab4d"
    );
}

#[test]
fn epoch_milliseconds_are_read_as_milliseconds() {
    let record = normalize_edited("inspector2-ecr-package-vulnerability.json", |detail| {
        detail["firstObservedAt"] = 1725468938411_i64.into();
        detail["updatedAt"] = 1725468938411_i64.into();
        detail["packageVulnerabilityDetails"]["vendorCreatedAt"] = 1725321600.into();
    });
    assert_eq!(record["time_dt"], "2024-09-04T16:55:38.411Z");
    assert_eq!(record["finding_info"]["first_seen_time"], 1725468938411_i64);
    // Seconds stay seconds.
    assert_eq!(
        record["vulnerabilities"][0]["cve"]["created_time_dt"],
        "2024-09-03T00:00:00.000Z"
    );
}

#[test]
fn a_vendor_time_that_does_not_parse_is_set_aside() {
    let record = normalize_edited("inspector2-lambda-package-vulnerability.json", |detail| {
        detail["packageVulnerabilityDetails"]["vendorUpdatedAt"] = "sometime in August".into();
        detail["exploitabilityDetails"]["lastKnownExploitAt"] = 4_102_444_800_000_i64.into();
    });
    let vulnerability = &record["vulnerabilities"][0];
    assert!(vulnerability["cve"].get("modified_time").is_none());
    assert!(vulnerability.get("exploit_last_seen_time").is_none());
    let unparsed: Vec<&str> = record["unmapped"]["fanin"]["unparsed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        unparsed,
        [
            "packageVulnerabilityDetails.vendorUpdatedAt",
            "vulnerabilities[0].exploit_last_seen_time"
        ]
    );
}

#[test]
fn another_cloud_that_names_no_account_or_region_gets_none_made_up() {
    let record = normalize_edited("inspector2-azure-vm-package-vulnerability.json", |detail| {
        let resource = detail["resources"][0].as_object_mut().unwrap();
        resource.remove("providerAccountId");
        resource.remove("region");
    });
    assert_eq!(
        record["cloud"],
        serde_json::json!({"provider": "Azure", "org": {"uid": "11111111-2222-3333-4444-555555555555"}})
    );
    let resource = &record["resources"][0];
    assert!(resource.get("region").is_none() && resource.get("cloud_partition").is_none());
}
