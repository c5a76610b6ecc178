//! Amazon Inspector (v2) finding → OCSF. The mapping is documented in docs/schema.md.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::classic::ocsf_interfaces;
use super::limits::{parse_ip, unparsed};
use super::{EnrichmentTarget, Origin, as_cve, severity};
use crate::enrich::{
    FaninContext, NetworkContext, PathStep, ReportedNetwork, ReportedReachability,
};
use crate::ids::{Partition, Region, is_instance_id};
use crate::model::{Inspector2Finding, Inspector2Resource, Lenient, PortRange};
use crate::ocsf::{
    Account, Activity, Advisory, AffectedCode, AffectedPackage, Cloud, CodeFile, Cve, CvssScore,
    Cwe, Device, EpssScore, FindingInfo, Image, Metadata, Organization, Product, Remediation,
    Resource, Rule, Status, UnparsedValue, Vulnerability, VulnerabilityFinding, time_pair,
};

const EC2: &str = "AWS_EC2_INSTANCE";

pub(super) fn enrichment_target(finding: &Inspector2Finding) -> EnrichmentTarget {
    if let Some(ec2) = finding.resources.iter().find(|r| r.resource_type == EC2) {
        return if is_instance_id(&ec2.id) {
            EnrichmentTarget::Instance(ec2.id.clone())
        } else {
            EnrichmentTarget::NoInstance
        };
    }
    match finding.resources.first() {
        Some(resource) => EnrichmentTarget::NotApplicable(resource.resource_type.clone()),
        None => EnrichmentTarget::NoInstance,
    }
}

pub(super) fn reported_network(finding: &Inspector2Finding) -> ReportedNetwork {
    let details = finding
        .resources
        .iter()
        .find(|r| r.resource_type == EC2)
        .and_then(|r| r.details.as_ref())
        .and_then(|d| d.aws_ec2_instance.clone())
        .unwrap_or_default();
    let ipv4: Vec<String> = details
        .ip_v4_addresses
        .iter()
        .filter_map(|ip| parse_ip(ip))
        .collect();
    ReportedNetwork {
        vpc_id: details.vpc_id.filter(|id| crate::ids::is_ec2_id("vpc", id)),
        subnet_id: details
            .subnet_id
            .filter(|id| crate::ids::is_ec2_id("subnet", id)),
        interfaces: Vec::new(),
        // Inspector lists private and public IPv4 addresses together.
        loose_private_ips: ipv4
            .iter()
            .filter(|ip| !is_public_ipv4(ip))
            .cloned()
            .collect(),
        loose_public_ips: ipv4
            .iter()
            .filter(|ip| is_public_ipv4(ip))
            .cloned()
            .collect(),
        loose_ipv6_addresses: details
            .ip_v6_addresses
            .iter()
            .filter_map(|ip| parse_ip(ip))
            .collect(),
    }
}

pub(super) fn unparsed_values(
    finding: &Inspector2Finding,
    partition: &Partition,
) -> Vec<UnparsedValue> {
    let mut found = Vec::new();
    let package = finding.package_vulnerability_details.as_ref();
    for (field, time) in [
        ("firstObservedAt", finding.first_observed_at.as_ref()),
        ("lastObservedAt", finding.last_observed_at.as_ref()),
        (
            "packageVulnerabilityDetails.vendorCreatedAt",
            package.and_then(|p| p.vendor_created_at.as_ref()),
        ),
        (
            "packageVulnerabilityDetails.vendorUpdatedAt",
            package.and_then(|p| p.vendor_updated_at.as_ref()),
        ),
        (
            "exploitabilityDetails.lastKnownExploitAt",
            finding
                .exploitability_details
                .as_ref()
                .and_then(|e| e.last_known_exploit_at.as_ref()),
        ),
    ] {
        if let Some(Lenient::Unparsed(raw)) = time {
            found.push(unparsed(field, raw));
        }
    }
    for (i, resource) in finding.resources.iter().enumerate() {
        let field = |name: &str| format!("resources[{i}].{name}");
        if is_foreign(resource) {
            // Regions and partitions of other clouds are theirs, not AWS's.
            continue;
        }
        if let Some(raw) = &resource.region
            && resource_region(resource, partition).is_none()
        {
            found.push(unparsed(field("region"), raw));
        }
        if let Some(raw) = &resource.partition
            && raw != partition.as_str()
        {
            found.push(unparsed(field("partition"), raw));
        }
        let ec2 = resource
            .details
            .as_ref()
            .and_then(|d| d.aws_ec2_instance.as_ref());
        for (name, addresses) in ec2.iter().flat_map(|e| {
            [
                ("ipV4Addresses", &e.ip_v4_addresses),
                ("ipV6Addresses", &e.ip_v6_addresses),
            ]
        }) {
            for raw in addresses.iter().filter(|ip| parse_ip(ip).is_none()) {
                found.push(unparsed(
                    field(&format!("details.awsEc2Instance.{name}")),
                    raw,
                ));
            }
        }
    }
    if let Some(range) = finding
        .network_reachability_details
        .as_ref()
        .and_then(|r| r.open_port_range.as_ref())
        && port_range(range).is_none()
    {
        found.push(unparsed(
            "networkReachabilityDetails.openPortRange",
            &format!("{}-{}", range.begin, range.end),
        ));
    }
    found
}

/// True for a resource Inspector reports in another cloud (`provider` set
/// and not `AWS`).
fn is_foreign(resource: &Inspector2Resource) -> bool {
    resource
        .provider
        .as_deref()
        .is_some_and(|p| !p.eq_ignore_ascii_case("AWS"))
}

/// OCSF's spelling of a cloud provider Inspector names.
fn provider_name(raw: &str) -> String {
    match raw.to_ascii_uppercase().as_str() {
        "AWS" => "AWS".into(),
        "AZURE" => "Azure".into(),
        "GCP" => "GCP".into(),
        _ => raw.to_owned(),
    }
}

/// The cloud the finding is about: the first non-AWS resource's cloud,
/// with its account and organization, else the AWS account of the ARN.
fn cloud_of(finding: &Inspector2Finding, origin: &Origin, partition: &Partition) -> Cloud {
    let Some(resource) = finding.resources.iter().find(|r| is_foreign(r)) else {
        return Cloud {
            provider: "AWS".into(),
            region: Some(origin.region.to_string()),
            cloud_partition: Some(partition.to_string()),
            account: Some(Account::aws(origin.account.as_str())),
            org: None,
        };
    };
    let provider = provider_name(resource.provider.as_deref().unwrap_or_default());
    let account = resource.provider_account_id.as_deref().map(|uid| {
        if provider == "Azure" {
            Account::azure_subscription(uid)
        } else {
            Account::other(uid)
        }
    });
    Cloud {
        account,
        provider,
        region: resource.region.clone(),
        cloud_partition: None,
        org: resource
            .provider_org_id
            .clone()
            .map(|uid| Organization { uid }),
    }
}

/// A resource's region when it is a region of the collector's partition.
fn resource_region(resource: &Inspector2Resource, partition: &Partition) -> Option<Region> {
    let region = Region::parse(resource.region.as_deref()?).ok()?;
    partition.contains(&region).then_some(region)
}

/// A port range when both ends are ports and in order.
fn port_range(range: &PortRange) -> Option<(u16, u16)> {
    let begin = u16::try_from(range.begin).ok()?;
    let end = u16::try_from(range.end).ok()?;
    (begin <= end).then_some((begin, end))
}

/// The rank of a status among versions with the same update time: a
/// finding moves from ACTIVE to SUPPRESSED or CLOSED, so within one instant
/// the later state wins (docs/schema.md, Identity and versioning).
pub(super) fn state_rank(finding: &Inspector2Finding) -> u8 {
    match finding
        .status
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("ACTIVE") => 1,
        Some("SUPPRESSED") => 2,
        Some("CLOSED") => 3,
        _ => 0,
    }
}

/// True for a globally routable IPv4 address (not RFC 1918, shared
/// 100.64/10, loopback, link-local or otherwise reserved).
pub(crate) fn is_public_ipv4(raw: &str) -> bool {
    let Ok(ip) = raw.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || shared
        || a >= 224
        || a == 0)
}

/// ASFF-style resource type names, the same for every source.
fn resource_type(inspector: &str) -> String {
    match inspector {
        "AWS_EC2_INSTANCE" => "AwsEc2Instance".into(),
        "AWS_ECR_CONTAINER_IMAGE" => "AwsEcrContainerImage".into(),
        "AWS_ECR_REPOSITORY" => "AwsEcrRepository".into(),
        "AWS_LAMBDA_FUNCTION" => "AwsLambdaFunction".into(),
        other => other.to_owned(),
    }
}

/// The finding type in the taxonomy Classic findings use too.
fn finding_types(finding_type: &str) -> Vec<String> {
    let path = match finding_type {
        "PACKAGE_VULNERABILITY" => "Software and Configuration Checks/Vulnerabilities/CVE",
        "CODE_VULNERABILITY" => "Software and Configuration Checks/Vulnerabilities/Code",
        "NETWORK_REACHABILITY" => {
            "Software and Configuration Checks/AWS Security Best Practices/Network Reachability"
        }
        _ => "Software and Configuration Checks",
    };
    vec![path.to_owned()]
}

/// OCSF `fix_coverage_id` and caption from Inspector's `fixAvailable`.
fn fix_coverage(value: Option<&str>) -> Option<(u8, &'static str)> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        Some("YES") => Some((1, "Complete")),
        Some("PARTIAL") => Some((2, "Partial")),
        Some("NO") => Some((3, "None")),
        _ => None,
    }
}

fn parsed_ms(time: Option<&Lenient<DateTime<Utc>>>) -> Option<i64> {
    time.and_then(Lenient::parsed)
        .map(DateTime::timestamp_millis)
}

/// A time inside a details object (`pushedAt`...) as epoch milliseconds.
fn detail_ms(value: Option<&Value>) -> Option<i64> {
    crate::timestamps::parse_json(value?)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn detail_str(object: Option<&Value>, key: &str) -> Option<String> {
    object?.get(key)?.as_str().map(str::to_owned)
}

fn detail_strs(object: Option<&Value>, key: &str) -> Vec<String> {
    object
        .and_then(|o| o.get(key))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(text) => Some(text.clone()),
                    Value::Object(map) => map
                        .get("arn")
                        .or_else(|| map.get("layerArn"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The container image a finding is about, under fixed keys the index
/// maps (`unmapped.fanin.details.container_image`): from
/// `awsEcrContainerImage`, else the provider-neutral `image`.
fn container_image(resource: &Inspector2Resource) -> Option<Value> {
    let details = resource.details.as_ref()?;
    let ecr = details.aws_ecr_container_image.as_ref();
    let neutral = details.image.as_ref();
    let image = ecr.or(neutral)?;
    let pick = |key: &str| detail_str(ecr, key).or_else(|| detail_str(neutral, key));
    let tags = {
        let tags = detail_strs(ecr, "imageTags");
        if tags.is_empty() {
            detail_strs(neutral, "imageTags")
        } else {
            tags
        }
    };
    let value = json!({
        "repository_name": pick("repositoryName"),
        "registry": pick("registry"),
        "image_tags": tags,
        "image_digest": detail_str(ecr, "imageHash").or_else(|| detail_str(neutral, "imageDigest")),
        "architecture": pick("architecture"),
        "platform": pick("platform"),
        "author": pick("author"),
        "pushed_time": detail_ms(image.get("pushedAt")),
        "last_in_use_time": detail_ms(image.get("lastInUseAt")),
        "in_use_count": image.get("inUseCount").and_then(Value::as_i64),
    });
    Some(without_nulls(value))
}

/// The function a finding is about (`unmapped.fanin.details.function`):
/// from `awsLambdaFunction`, else the provider-neutral `serverlessFunction`.
fn function(resource: &Inspector2Resource) -> Option<Value> {
    let details = resource.details.as_ref()?;
    let lambda = details.aws_lambda_function.as_ref();
    let neutral = details.serverless_function.as_ref();
    let function = lambda.or(neutral)?;
    let pick = |key: &str| detail_str(lambda, key).or_else(|| detail_str(neutral, key));
    let value = json!({
        "function_name": detail_str(lambda, "functionName")
            .or_else(|| detail_str(neutral, "serverlessFunctionName")),
        "runtime": pick("runtime"),
        "version": pick("version"),
        "layers": detail_strs(Some(function), "layers"),
        "architectures": detail_strs(Some(function), "architectures"),
        "package_type": pick("packageType"),
        "code_sha256": detail_str(lambda, "codeSha256").or_else(|| detail_str(neutral, "codeDigest")),
        "execution_role_arn": detail_str(lambda, "executionRoleArn")
            .or_else(|| detail_str(neutral, "executionRole")),
        "last_modified_time": detail_ms(function.get("lastModifiedAt")),
    });
    Some(without_nulls(value))
}

/// `value` without the nulls of its objects, at every depth: the typed
/// model writes an absent attribute as `null`, which says nothing.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn without_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    }
    value
}

/// The resource's name and version, searchable OCSF attributes.
fn name_and_version(resource: &Inspector2Resource) -> (Option<String>, Option<String>) {
    if let Some(image) = container_image(resource) {
        return (detail_str(Some(&image), "repository_name"), None);
    }
    if let Some(function) = function(resource) {
        return (
            detail_str(Some(&function), "function_name"),
            detail_str(Some(&function), "version"),
        );
    }
    let vm = resource.details.as_ref().and_then(|d| d.vm.as_ref());
    (detail_str(vm, "vmName"), None)
}

/// What the finding's own reachability analysis says.
fn reachability(finding: &Inspector2Finding) -> Option<ReportedReachability> {
    let reach = finding.network_reachability_details.as_ref()?;
    let ports = reach.open_port_range.as_ref().and_then(port_range);
    let path: Vec<PathStep> = reach
        .network_path
        .as_ref()
        .and_then(|p| p.get("steps"))
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .map(|step| PathStep {
                    component_id: detail_str(Some(step), "componentId").unwrap_or_default(),
                    component_type: detail_str(Some(step), "componentType").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let from_internet = path
        .first()
        .is_some_and(|step| step.component_type == "AWS::EC2::InternetGateway");
    Some(ReportedReachability {
        protocol: reach.protocol.clone(),
        from_port: ports.map(|(begin, _)| begin),
        to_port: ports.map(|(_, end)| end),
        path,
        from_internet,
    })
}

fn yes(value: Option<&str>) -> Option<bool> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        Some("YES" | "PARTIAL") => Some(true),
        Some("NO") => Some(false),
        _ => None,
    }
}

pub(super) fn to_ocsf(
    finding: &Inspector2Finding,
    origin: &Origin,
    partition: &Partition,
    mut context: FaninContext,
    uid: String,
) -> VulnerabilityFinding {
    let severity = severity(finding.severity.as_deref());
    let updated_ms = finding.updated_at.timestamp_millis();
    let first_observed = finding.first_observed_at.as_ref().and_then(Lenient::parsed);
    let last_observed = finding.last_observed_at.as_ref().and_then(Lenient::parsed);
    let (status, activity) = match finding
        .status
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("CLOSED") => (Status::Resolved, Activity::Close),
        Some("SUPPRESSED") => (Status::Suppressed, Activity::Update),
        _ if first_observed.is_some_and(|first| *first < finding.updated_at) => {
            (Status::New, Activity::Update)
        }
        _ => (Status::New, Activity::Create),
    };
    let title = finding
        .title
        .clone()
        .unwrap_or_else(|| finding.finding_arn.clone());
    let package = finding
        .package_vulnerability_details
        .clone()
        .unwrap_or_default();
    let finding_type = finding
        .finding_type
        .clone()
        .unwrap_or_else(|| "UNKNOWN".into());

    let metadata = Metadata {
        version: crate::ocsf::OCSF_VERSION,
        product: Product {
            name: "Inspector",
            vendor_name: "AWS",
            feature: Some(crate::ocsf::Feature {
                name: finding_type.clone(),
                uid: None,
            }),
        },
        uid,
        profiles: vec!["cloud", "datetime"],
        original_time: None,
    };
    let cloud = cloud_of(finding, origin, partition);
    let first_ms = first_observed.map(|t| t.timestamp_millis());
    let last_ms = last_observed.map(|t| t.timestamp_millis());
    let (first_seen_time, first_seen_time_dt) = time_pair(first_ms);
    let (last_seen_time, last_seen_time_dt) = time_pair(last_ms);
    let (modified_time, modified_time_dt) = time_pair(Some(updated_ms));
    let finding_info = FindingInfo {
        uid: finding.finding_arn.clone(),
        title: title.clone(),
        desc: finding.description.clone(),
        types: finding_types(&finding_type),
        created_time: first_seen_time,
        created_time_dt: first_seen_time_dt.clone(),
        first_seen_time,
        first_seen_time_dt,
        last_seen_time,
        last_seen_time_dt,
        modified_time,
        modified_time_dt,
        // `sourceUrl` is the advisory's page, not the finding's: it is a
        // reference of the vulnerability.
        src_url: None,
    };

    let cve = package
        .vulnerability_id
        .as_deref()
        .and_then(as_cve)
        .map(|uid| {
            let (created_time, created_time_dt) =
                time_pair(parsed_ms(package.vendor_created_at.as_ref()));
            let (modified_time, modified_time_dt) =
                time_pair(parsed_ms(package.vendor_updated_at.as_ref()));
            Cve {
                uid,
                created_time,
                created_time_dt,
                modified_time,
                modified_time_dt,
                cvss: package
                    .cvss
                    .iter()
                    .filter_map(|c| {
                        Some(CvssScore {
                            base_score: c.base_score?,
                            version: c.version.clone()?,
                            vector_string: c.scoring_vector.clone(),
                            vendor_name: c.source.clone(),
                        })
                    })
                    .collect(),
                epss: finding.epss.as_ref().map(|e| EpssScore {
                    score: e.score.to_string(),
                }),
                references: Vec::new(),
            }
        });
    let code = finding.code_vulnerability_details.clone();
    let remediation_text = finding
        .remediation
        .as_ref()
        .and_then(|r| r.recommendation.as_ref())
        .and_then(|r| r.text.clone());
    let remediation_url = finding
        .remediation
        .as_ref()
        .and_then(|r| r.recommendation.as_ref())
        .and_then(|r| r.url.clone());
    let mut references: Vec<String> = package.source_url.iter().cloned().collect();
    references.extend(package.reference_urls.iter().cloned());
    if let Some(code) = &code {
        references.extend(code.reference_urls.iter().cloned());
    }
    let mut seen = std::collections::BTreeSet::new();
    references.retain(|url| seen.insert(url.clone()));
    let affected_code: Vec<AffectedCode> = code
        .iter()
        .filter_map(|code| {
            let location = code.file_path.as_ref()?;
            let name = location
                .file_name
                .clone()
                .or_else(|| location.file_path.clone())?;
            Some(AffectedCode {
                file: CodeFile {
                    name,
                    path: location.file_path.clone(),
                    type_id: 1,
                    file_type: "Regular File",
                },
                start_line: location.start_line,
                end_line: location.end_line,
                rule: (code.rule_id.is_some() || code.detector_name.is_some()).then(|| Rule {
                    uid: code.rule_id.clone(),
                    name: code.detector_name.clone(),
                }),
            })
        })
        .collect();
    let fix = fix_coverage(finding.fix_available.as_deref());
    let (exploit_last_seen_time, exploit_last_seen_time_dt) = time_pair(parsed_ms(
        finding
            .exploitability_details
            .as_ref()
            .and_then(|e| e.last_known_exploit_at.as_ref()),
    ));
    let vulnerability = Vulnerability {
        title: title.clone(),
        desc: finding.description.clone(),
        severity: Some(severity.caption.clone()),
        // OCSF allows just one of cve, cwe and advisory.
        cwe: code
            .as_ref()
            .and_then(|c| c.cwes.first())
            .filter(|_| cve.is_none())
            .map(|uid| Cwe { uid: uid.clone() }),
        advisory: advisory_of(
            finding,
            &package,
            cve.is_some() || code.as_ref().is_some_and(|c| !c.cwes.is_empty()),
        ),
        cve,
        affected_packages: package
            .vulnerable_packages
            .iter()
            .map(|p| AffectedPackage {
                name: p.name.clone(),
                version: p.version.clone().unwrap_or_default(),
                fixed_in_version: p
                    .fixed_in_version
                    .clone()
                    .filter(|v| !v.is_empty() && v != "NotAvailable"),
                package_manager: p.package_manager.clone(),
                epoch: p.epoch,
                release: p.release.clone(),
                architecture: p.arch.clone(),
                path: p.file_path.clone(),
                remediation: p
                    .remediation
                    .clone()
                    .filter(|desc| !desc.trim().is_empty())
                    .map(|desc| Remediation {
                        desc,
                        references: Vec::new(),
                    }),
            })
            .collect(),
        affected_code,
        is_fix_available: yes(finding.fix_available.as_deref()),
        fix_coverage_id: fix.map(|(id, _)| id),
        fix_coverage: fix.map(|(_, caption)| caption),
        is_exploit_available: yes(finding.exploit_available.as_deref()),
        exploit_last_seen_time,
        exploit_last_seen_time_dt,
        references,
        related_vulnerabilities: package.related_vulnerabilities.clone(),
        remediation: remediation_text.map(|desc| Remediation {
            desc,
            references: remediation_url.into_iter().collect(),
        }),
        vendor_name: package
            .source
            .clone()
            .or_else(|| Some("Amazon Inspector".into())),
        category: Some(finding_type.clone()),
    };

    let network = context.network.as_ref();
    let primary_ip = network.and_then(|n| n.private_ips.first().cloned());
    let resources: Vec<Resource> = finding
        .resources
        .iter()
        .map(|r| {
            let (name, version) = name_and_version(r);
            let foreign = is_foreign(r);
            Resource {
                uid: r.id.clone(),
                resource_type: resource_type(&r.resource_type),
                name,
                version,
                // Another cloud's region as it names it (or none); an AWS
                // resource's region of the partition, else the finding's.
                region: if foreign {
                    r.region.clone()
                } else {
                    Some(
                        resource_region(r, partition)
                            .unwrap_or_else(|| origin.region.clone())
                            .to_string(),
                    )
                },
                cloud_partition: (!foreign).then(|| partition.to_string()),
                hostname: None,
                ip: if r.resource_type == EC2 {
                    primary_ip.clone()
                } else {
                    None
                },
                labels: r
                    .tags
                    .iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                // Every detail kind as Inspector sent it (EC2 instance details
                // too): stored, not indexed; the searchable part is in details.
                data: r
                    .details
                    .as_ref()
                    .and_then(|d| serde_json::to_value(d).ok())
                    .map(|mut data| {
                        strip_nulls(&mut data);
                        data
                    })
                    .filter(|d| d.as_object().is_some_and(|m| !m.is_empty())),
            }
        })
        .collect();
    let device = finding
        .resources
        .iter()
        .find(|r| r.resource_type == EC2)
        .map(|r| {
            let ec2 = r
                .details
                .as_ref()
                .and_then(|d| d.aws_ec2_instance.clone())
                .unwrap_or_default();
            Device {
                uid: r.id.clone(),
                instance_uid: r.id.clone(),
                type_id: 6,
                device_type: "Virtual",
                region: resource_region(r, partition)
                    .unwrap_or_else(|| origin.region.clone())
                    .to_string(),
                hostname: None,
                ip: primary_ip.clone(),
                vpc_uid: network
                    .and_then(|n| n.vpc_id.clone())
                    .or(ec2.vpc_id.filter(|id| crate::ids::is_ec2_id("vpc", id))),
                subnet_uid: network.and_then(|n| n.subnet_id.clone()).or(ec2
                    .subnet_id
                    .filter(|id| crate::ids::is_ec2_id("subnet", id))),
                image: ec2.image_id.map(|uid| Image { uid }),
                network_interfaces: network.map(ocsf_interfaces).unwrap_or_default(),
            }
        });

    if let Some(reach) = reachability(finding) {
        let network = context
            .network
            .get_or_insert_with(|| NetworkContext::reported_only(Vec::new()));
        // The finding's own analysis found a path from an internet gateway:
        // exposed, whatever EC2 could or could not tell.
        network.internet_exposed |= reach.from_internet;
        network.reachability.push(reach);
    }

    let mut details = BTreeMap::new();
    details.insert("inspector_score".into(), json!(finding.inspector_score));
    if let Some(adjusted) = finding
        .inspector_score_details
        .as_ref()
        .and_then(|d| d.get("adjustedCvss"))
    {
        details.insert(
            "adjusted_cvss".into(),
            without_nulls(json!({
                "score": adjusted.get("score").and_then(Value::as_f64),
                "version": detail_str(Some(adjusted), "version"),
                "scoring_vector": detail_str(Some(adjusted), "scoringVector"),
                "cvss_source": detail_str(Some(adjusted), "cvssSource"),
                "score_source": detail_str(Some(adjusted), "scoreSource"),
            })),
        );
    }
    details.insert("vendor_severity".into(), json!(package.vendor_severity));
    if let Some(image) = finding.resources.iter().find_map(container_image) {
        details.insert("container_image".into(), image);
    }
    if let Some(function) = finding.resources.iter().find_map(function) {
        details.insert("function".into(), function);
    }
    if !finding.other.is_empty() {
        details.insert("other".into(), json!(finding.other));
    }
    if cloud.provider != "AWS" {
        // The AWS account whose Inspector reported the foreign resource.
        details.insert("aws_account_id".into(), json!(finding.aws_account_id));
    }
    details.insert(
        "inspector_score_details".into(),
        json!(finding.inspector_score_details),
    );
    details.insert("status".into(), json!(finding.status));
    if let Some(reach) = &finding.network_reachability_details {
        details.insert(
            "network_reachability".into(),
            json!({
                "protocol": reach.protocol,
                "open_port_range": reach.open_port_range.as_ref().and_then(port_range).map(|(begin, end)| json!({"begin": begin, "end": end})),
                "network_path": reach.network_path,
            }),
        );
    }
    if let Some(code) = &code {
        details.insert("code_detector".into(), json!(code.detector_name));
        details.insert("code_detector_id".into(), json!(code.detector_id));
        details.insert("code_detector_tags".into(), json!(code.detector_tags));
        details.insert("code_rule_id".into(), json!(code.rule_id));
        details.insert("code_layer_arn".into(), json!(code.source_lambda_layer_arn));
        details.insert("cwes".into(), json!(code.cwes));
    }
    details.retain(|_, v| !v.is_null());
    context.details = details;

    let mut record = VulnerabilityFinding::new(
        activity,
        severity,
        status,
        updated_ms,
        metadata,
        cloud,
        finding_info,
        crate::ocsf::Unmapped::new(context),
    );
    if let Some(status) = &finding.status {
        record.status_detail = Some(status.clone());
    }
    record.vulnerabilities = vec![vulnerability];
    record.resources = resources;
    record.device = device;
    record
}

/// The advisory of a finding that has neither a CVE nor a CWE: a vendor
/// advisory id (GHSA, ALAS...) or, for network reachability, the open path.
fn advisory_of(
    finding: &Inspector2Finding,
    package: &crate::model::PackageVulnerabilityDetails,
    has_cve_or_cwe: bool,
) -> Option<Advisory> {
    if has_cve_or_cwe {
        return None;
    }
    if let Some(id) = package.vulnerability_id.clone() {
        return Some(Advisory {
            uid: id,
            title: finding.title.clone(),
            src_url: package.source_url.clone(),
        });
    }
    let reach = finding.network_reachability_details.as_ref();
    let uid = match reach
        .and_then(|r| r.open_port_range.as_ref())
        .and_then(port_range)
    {
        Some((begin, end)) => format!(
            "NETWORK_REACHABILITY/{}/{begin}-{end}",
            reach.and_then(|r| r.protocol.as_deref()).unwrap_or("ANY"),
        ),
        None => finding
            .finding_type
            .clone()
            .unwrap_or_else(|| "UNKNOWN".into()),
    };
    Some(Advisory {
        uid,
        title: finding.title.clone(),
        src_url: None,
    })
}
