//! Inspector Classic finding → OCSF. The mapping is documented in docs/schema.md.

use std::collections::BTreeMap;

use serde_json::json;

use super::limits::{parse_ip, unparsed};
use super::{EnrichmentTarget, Origin, as_cve, severity};
use crate::enrich::{FaninContext, ReportedNetwork};
use crate::ids::{Partition, is_ec2_id, is_instance_id};
use crate::model::{ClassicFinding, GroupRef, InterfaceRecord};
use crate::ocsf::{
    Activity, Advisory, Cloud, Cve, Device, FindingInfo, Image, Metadata, NetworkInterface,
    Product, Remediation, Resource, Status, UnparsedValue, Vulnerability, VulnerabilityFinding,
    time_pair,
};

/// A name the finding reports, within the name limit.
fn capped_name(mut name: String) -> String {
    super::limits::cap_string(&mut name, super::limits::NAME_BYTES);
    name
}

/// The addresses of `raw` that parse, in canonical form.
fn valid_ips<'a>(raw: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    raw.into_iter().filter_map(|ip| parse_ip(ip)).collect()
}

pub(super) fn unparsed_values(finding: &ClassicFinding) -> Vec<UnparsedValue> {
    let Some(asset) = &finding.asset_attributes else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut bad_ids = Vec::new();
    let mut check = |field: String, raw: &str| {
        if parse_ip(raw).is_none() {
            found.push(unparsed(field, raw));
        }
    };
    for raw in &asset.ipv4_addresses {
        check("assetAttributes.ipv4Addresses".into(), raw);
    }
    for (i, eni) in asset.network_interfaces.iter().enumerate() {
        let field = |name: &str| format!("assetAttributes.networkInterfaces[{i}].{name}");
        for raw in eni.private_ip_address.iter().chain(
            eni.private_ip_addresses
                .iter()
                .filter_map(|p| p.private_ip_address.as_ref()),
        ) {
            check(field("privateIpAddress"), raw);
        }
        if let Some(raw) = &eni.public_ip {
            check(field("publicIp"), raw);
        }
        let ids = [
            (
                "eni",
                "networkInterfaceId",
                eni.network_interface_id.as_ref(),
            ),
            ("subnet", "subnetId", eni.subnet_id.as_ref()),
            ("vpc", "vpcId", eni.vpc_id.as_ref()),
        ];
        for (prefix, name, raw) in ids {
            if let Some(raw) = raw.filter(|raw| !is_ec2_id(prefix, raw)) {
                bad_ids.push(unparsed(field(name), raw));
            }
        }
        for group in &eni.security_groups {
            if let Some(raw) = group.group_id.as_ref().filter(|raw| !is_ec2_id("sg", raw)) {
                bad_ids.push(unparsed(field("securityGroups.groupId"), raw));
            }
        }
        for raw in &eni.ipv6_addresses {
            check(field("ipv6Addresses"), raw);
        }
    }
    found.extend(bad_ids);
    found
}

pub(super) fn enrichment_target(finding: &ClassicFinding) -> EnrichmentTarget {
    match finding
        .asset_attributes
        .as_ref()
        .and_then(|a| a.agent_id.as_deref())
    {
        Some(id) if is_instance_id(id) => EnrichmentTarget::Instance(id.to_owned()),
        _ => EnrichmentTarget::NoInstance,
    }
}

pub(super) fn reported_network(finding: &ClassicFinding) -> ReportedNetwork {
    let Some(asset) = &finding.asset_attributes else {
        return ReportedNetwork::default();
    };
    let interfaces: Vec<InterfaceRecord> = asset
        .network_interfaces
        .iter()
        .map(|eni| {
            let mut private_ips = valid_ips(
                eni.private_ip_address.iter().chain(
                    eni.private_ip_addresses
                        .iter()
                        .filter_map(|p| p.private_ip_address.as_ref()),
                ),
            );
            let mut seen = std::collections::BTreeSet::new();
            private_ips.retain(|ip| seen.insert(ip.clone()));
            let id = |prefix: &str, raw: &Option<String>| {
                raw.clone().filter(|raw| is_ec2_id(prefix, raw))
            };
            InterfaceRecord {
                interface_id: id("eni", &eni.network_interface_id).unwrap_or_default(),
                device_index: None,
                subnet_id: id("subnet", &eni.subnet_id),
                vpc_id: id("vpc", &eni.vpc_id),
                mac_address: None,
                private_ips,
                public_ips: valid_ips(&eni.public_ip),
                public_dns_name: eni.public_dns_name.clone().map(capped_name),
                ipv6_addresses: valid_ips(&eni.ipv6_addresses),
                security_groups: eni
                    .security_groups
                    .iter()
                    .filter_map(|g| {
                        id("sg", &g.group_id).map(|id| GroupRef {
                            id,
                            name: g.group_name.clone().map(capped_name),
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    ReportedNetwork {
        vpc_id: interfaces.first().and_then(|i| i.vpc_id.clone()),
        subnet_id: interfaces.first().and_then(|i| i.subnet_id.clone()),
        loose_private_ips: valid_ips(&asset.ipv4_addresses),
        loose_public_ips: Vec::new(),
        loose_ipv6_addresses: Vec::new(),
        interfaces,
    }
}

fn cve_of(finding: &ClassicFinding) -> Option<String> {
    finding
        .attributes
        .iter()
        .find(|a| a.key == "CVE_ID")
        .and_then(|a| a.value.as_deref())
        .and_then(as_cve)
        .or_else(|| finding.id.as_deref().and_then(as_cve))
}

pub(super) fn to_ocsf(
    finding: &ClassicFinding,
    origin: &Origin,
    partition: &Partition,
    mut context: FaninContext,
    uid: String,
) -> VulnerabilityFinding {
    let severity = severity(finding.severity.as_deref());
    let updated_ms = finding.updated_at.timestamp_millis();
    let created_ms = finding.created_at.timestamp_millis();
    let cve = cve_of(finding);
    let title = finding
        .title
        .clone()
        .or_else(|| finding.id.clone())
        .unwrap_or_else(|| finding.arn.clone());
    let rules_package = finding
        .service_attributes
        .as_ref()
        .and_then(|s| s.rules_package_arn.clone());

    let metadata = Metadata {
        version: crate::ocsf::OCSF_VERSION,
        product: Product {
            name: "Inspector Classic",
            vendor_name: "AWS",
            feature: rules_package.clone().map(|arn| crate::ocsf::Feature {
                name: if cve.is_some() {
                    "Common Vulnerabilities and Exposures".into()
                } else {
                    "Rules package".into()
                },
                uid: Some(arn),
            }),
        },
        uid,
        profiles: vec!["cloud", "datetime"],
        original_time: None,
    };
    let cloud = Cloud {
        provider: "AWS".into(),
        region: Some(origin.region.to_string()),
        cloud_partition: Some(partition.to_string()),
        account: Some(crate::ocsf::Account::aws(origin.account.as_str())),
        org: None,
    };
    let (created_time, created_time_dt) = time_pair(Some(created_ms));
    let (modified_time, modified_time_dt) = time_pair(Some(updated_ms));
    let finding_info = FindingInfo {
        uid: finding.arn.clone(),
        title: title.clone(),
        desc: finding.description.clone(),
        types: vec![if cve.is_some() {
            "Software and Configuration Checks/Vulnerabilities/CVE".into()
        } else {
            "Software and Configuration Checks/Industry and Regulatory Standards".into()
        }],
        created_time,
        created_time_dt: created_time_dt.clone(),
        first_seen_time: created_time,
        first_seen_time_dt: created_time_dt,
        last_seen_time: modified_time,
        last_seen_time_dt: modified_time_dt.clone(),
        modified_time,
        modified_time_dt,
        src_url: None,
    };

    let vulnerability = Vulnerability {
        title: title.clone(),
        desc: finding.description.clone(),
        severity: Some(severity.caption.clone()),
        references: cve
            .iter()
            .map(|id| format!("https://nvd.nist.gov/vuln/detail/{id}"))
            .collect(),
        // A rule without CVE: the rule is the advisory (OCSF wants one of advisory, cve, cwe).
        advisory: cve.is_none().then(|| Advisory {
            uid: finding.id.clone().unwrap_or_else(|| title.clone()),
            title: finding.id.clone(),
            src_url: None,
        }),
        cve: cve.clone().map(|uid| Cve {
            uid,
            created_time: None,
            created_time_dt: None,
            modified_time: None,
            modified_time_dt: None,
            cvss: Vec::new(),
            epss: None,
            references: Vec::new(),
        }),
        remediation: finding.recommendation.clone().map(|desc| Remediation {
            desc,
            references: Vec::new(),
        }),
        vendor_name: Some("Amazon Inspector Classic".into()),
        ..Default::default()
    };

    let asset = finding.asset_attributes.clone().unwrap_or_default();
    let tags: Vec<String> = asset
        .tags
        .iter()
        .map(|t| format!("{}={}", t.key, t.value.as_deref().unwrap_or("")))
        .collect();
    let network = context.network.as_ref();
    let primary_ip = network.and_then(|n| n.private_ips.first().cloned());
    let resources = asset
        .agent_id
        .iter()
        .map(|id| Resource {
            uid: id.clone(),
            resource_type: "AwsEc2Instance".into(),
            name: None,
            version: None,
            region: Some(origin.region.to_string()),
            cloud_partition: Some(partition.to_string()),
            hostname: asset.hostname.clone(),
            ip: primary_ip.clone(),
            labels: tags.clone(),
            data: None,
        })
        .collect();
    let device = asset.agent_id.as_ref().map(|id| Device {
        uid: id.clone(),
        instance_uid: id.clone(),
        type_id: 6,
        device_type: "Virtual",
        region: origin.region.to_string(),
        hostname: asset.hostname.clone(),
        ip: primary_ip.clone(),
        vpc_uid: network.and_then(|n| n.vpc_id.clone()),
        subnet_uid: network.and_then(|n| n.subnet_id.clone()),
        image: asset.ami_id.clone().map(|uid| Image { uid }),
        network_interfaces: network.map(ocsf_interfaces).unwrap_or_default(),
    });

    let mut details = BTreeMap::new();
    details.insert("inspector_classic_id".into(), json!(finding.id));
    details.insert("rules_package_arn".into(), json!(rules_package));
    details.insert(
        "assessment_run_arn".into(),
        json!(
            finding
                .service_attributes
                .as_ref()
                .and_then(|s| s.assessment_run_arn.clone())
        ),
    );
    details.insert("numeric_severity".into(), json!(finding.numeric_severity));
    details.insert("confidence".into(), json!(finding.confidence));
    details.insert("attributes".into(), key_values(&finding.attributes));
    details.insert(
        "user_attributes".into(),
        key_values(&finding.user_attributes),
    );
    if let Some(group) = &asset.auto_scaling_group {
        details.insert("auto_scaling_group".into(), json!(group));
    }
    details.insert(
        "indicator_of_compromise".into(),
        json!(finding.indicator_of_compromise),
    );
    details.insert("asset_type".into(), json!(finding.asset_type));
    details.insert("service".into(), json!(finding.service));
    details.insert("schema_version".into(), json!(finding.schema_version));
    details.insert(
        "service_attributes_schema_version".into(),
        json!(
            finding
                .service_attributes
                .as_ref()
                .and_then(|s| s.schema_version)
        ),
    );
    details.insert(
        "asset_attributes_schema_version".into(),
        json!(asset.schema_version),
    );
    let private_dns_names: Vec<&String> = asset
        .network_interfaces
        .iter()
        .flat_map(|eni| &eni.private_ip_addresses)
        .filter_map(|p| p.private_dns_name.as_ref())
        .collect();
    if !private_dns_names.is_empty() {
        details.insert("private_dns_names".into(), json!(private_dns_names));
    }
    details.retain(|_, v| !v.is_null());
    context.details = details;

    let mut record = VulnerabilityFinding::new(
        Activity::Create,
        severity,
        Status::New,
        updated_ms,
        metadata,
        cloud,
        finding_info,
        crate::ocsf::Unmapped::new(context),
    );
    record.vulnerabilities = vec![vulnerability];
    record.resources = resources;
    record.device = device;
    record
}

fn key_values(pairs: &[crate::model::KeyValue]) -> serde_json::Value {
    if pairs.is_empty() {
        return serde_json::Value::Null;
    }
    pairs
        .iter()
        .map(|p| (p.key.clone(), json!(p.value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// OCSF `device.network_interfaces` from the enriched (or reported) network.
pub(super) fn ocsf_interfaces(network: &crate::enrich::NetworkContext) -> Vec<NetworkInterface> {
    network
        .interfaces
        .iter()
        .filter(|i| !i.interface_id.is_empty())
        .map(|i| NetworkInterface {
            uid: i.interface_id.clone(),
            ip: i.private_ips.first().cloned(),
            mac: i.mac_address.clone(),
            hostname: None,
            type_id: 1,
            interface_type: "Wired",
        })
        .collect()
}
