//! fanin's own types for what the sources say and what EC2 reports.
//!
//! Source findings deserialize from the documented JSON shapes (the SDK
//! adapters convert into them too), so fixtures are plain API/event JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::timestamps;

fn de_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    timestamps::parse_json(&value).map_err(serde::de::Error::custom)
}

/// A value from outside that should have a type: parsed, or kept as sent
/// when it does not parse. Normalization never puts an `Unparsed` value in a
/// typed field; it goes under `unmapped.fanin.unparsed` (docs/schema.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Lenient<T> {
    Parsed(T),
    Unparsed(String),
}

impl<T> Lenient<T> {
    pub fn parsed(&self) -> Option<&T> {
        match self {
            Self::Parsed(value) => Some(value),
            Self::Unparsed(_) => None,
        }
    }
}

/// An optional timestamp that does not fail the whole finding when it does
/// not parse (only `updatedAt`, the version, must).
fn de_opt_lenient_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Lenient<DateTime<Utc>>>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => None,
        Some(value) => Some(match timestamps::parse_json(&value) {
            Ok(time) => Lenient::Parsed(time),
            Err(_) => Lenient::Unparsed(match value {
                Value::String(text) => text,
                other => other.to_string(),
            }),
        }),
    })
}

fn de_null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

// ---------------------------------------------------------------------------
// Inspector Classic (DescribeFindings output)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicFinding {
    pub arn: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub recommendation: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub numeric_severity: Option<f64>,
    #[serde(default)]
    pub confidence: Option<i64>,
    #[serde(deserialize_with = "de_time")]
    pub created_at: DateTime<Utc>,
    #[serde(deserialize_with = "de_time")]
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub service_attributes: Option<ClassicServiceAttributes>,
    #[serde(default)]
    pub asset_type: Option<String>,
    #[serde(default)]
    pub asset_attributes: Option<ClassicAssetAttributes>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub attributes: Vec<KeyValue>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub user_attributes: Vec<KeyValue>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator_of_compromise: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i64>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicServiceAttributes {
    #[serde(default)]
    pub assessment_run_arn: Option<String>,
    #[serde(default)]
    pub rules_package_arn: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicAssetAttributes {
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub ami_id: Option<String>,
    #[serde(default)]
    pub auto_scaling_group: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub ipv4_addresses: Vec<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub tags: Vec<KeyValue>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub network_interfaces: Vec<ClassicNetworkInterface>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicNetworkInterface {
    #[serde(default)]
    pub network_interface_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub private_ip_addresses: Vec<ClassicPrivateIp>,
    #[serde(default)]
    pub public_ip: Option<String>,
    #[serde(default)]
    pub public_dns_name: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub ipv6_addresses: Vec<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub security_groups: Vec<ClassicSecurityGroup>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicPrivateIp {
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default)]
    pub private_dns_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicSecurityGroup {
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub group_name: Option<String>,
}

// ---------------------------------------------------------------------------
// Amazon Inspector (v2), the `detail` of an "Inspector2 Finding" event
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspector2Finding {
    pub finding_arn: String,
    pub aws_account_id: String,
    #[serde(default, rename = "type")]
    pub finding_type: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "de_opt_lenient_time")]
    pub first_observed_at: Option<Lenient<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "de_opt_lenient_time")]
    pub last_observed_at: Option<Lenient<DateTime<Utc>>>,
    #[serde(deserialize_with = "de_time")]
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub inspector_score: Option<f64>,
    #[serde(default)]
    pub inspector_score_details: Option<Value>,
    #[serde(default)]
    pub epss: Option<Epss>,
    #[serde(default)]
    pub exploit_available: Option<String>,
    #[serde(default)]
    pub fix_available: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exploitability_details: Option<ExploitabilityDetails>,
    #[serde(default)]
    pub package_vulnerability_details: Option<PackageVulnerabilityDetails>,
    #[serde(default)]
    pub network_reachability_details: Option<NetworkReachabilityDetails>,
    #[serde(default)]
    pub code_vulnerability_details: Option<CodeVulnerabilityDetails>,
    #[serde(default)]
    pub remediation: Option<Inspector2Remediation>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub resources: Vec<Inspector2Resource>,
    /// Attributes fanin does not model (`scanId` of on-demand scans...),
    /// kept as sent under `unmapped.fanin.details.other`.
    #[serde(flatten)]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExploitabilityDetails {
    #[serde(default, deserialize_with = "de_opt_lenient_time")]
    pub last_known_exploit_at: Option<Lenient<DateTime<Utc>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    pub score: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageVulnerabilityDetails {
    #[serde(default)]
    pub vulnerability_id: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub cvss: Vec<Cvss>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub vulnerable_packages: Vec<VulnerablePackage>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub reference_urls: Vec<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub vendor_severity: Option<String>,
    #[serde(default, deserialize_with = "de_opt_lenient_time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_created_at: Option<Lenient<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "de_opt_lenient_time")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_updated_at: Option<Lenient<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub related_vulnerabilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cvss {
    #[serde(default)]
    pub base_score: Option<f64>,
    #[serde(default)]
    pub scoring_vector: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerablePackage {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub fixed_in_version: Option<String>,
    #[serde(default)]
    pub package_manager: Option<String>,
    #[serde(default)]
    pub epoch: Option<i64>,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub file_path: Option<String>,
    #[serde(default)]
    pub remediation: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_layer_hash: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_lambda_layer_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkReachabilityDetails {
    #[serde(default)]
    pub open_port_range: Option<PortRange>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub network_path: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortRange {
    pub begin: i32,
    pub end: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeVulnerabilityDetails {
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub cwes: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector_id: Option<String>,
    #[serde(default)]
    pub detector_name: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detector_tags: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<CodeFilePath>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub reference_urls: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_lambda_layer_arn: Option<String>,
}

/// Where in the code a code vulnerability is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeFilePath {
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    #[serde(default)]
    pub start_line: Option<i64>,
    #[serde(default)]
    pub end_line: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspector2Remediation {
    #[serde(default)]
    pub recommendation: Option<Inspector2Recommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspector2Recommendation {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default, rename = "Url")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspector2Resource {
    pub id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub partition: Option<String>,
    /// `AWS`, `AZURE`...: the cloud the resource is in (AWS when absent).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The account in that cloud (an Azure subscription id).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_account_id: Option<String>,
    /// The organization or tenant in that cloud (an Azure tenant id).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_org_id: Option<String>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub details: Option<Inspector2ResourceDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspector2ResourceDetails {
    #[serde(default)]
    pub aws_ec2_instance: Option<AwsEc2InstanceDetails>,
    #[serde(default)]
    pub aws_ecr_container_image: Option<Value>,
    #[serde(default)]
    pub aws_lambda_function: Option<Value>,
    /// Provider-neutral twins (and the only details of non-AWS resources).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm: Option<Value>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Value>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serverless_function: Option<Value>,
    /// Detail kinds fanin does not model, kept as sent.
    #[serde(flatten)]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsEc2InstanceDetails {
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(
        default,
        rename = "ipV4Addresses",
        deserialize_with = "de_null_as_default"
    )]
    pub ip_v4_addresses: Vec<String>,
    #[serde(
        default,
        rename = "ipV6Addresses",
        deserialize_with = "de_null_as_default"
    )]
    pub ip_v6_addresses: Vec<String>,
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default, rename = "type")]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile_arn: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launched_at: Option<String>,
    /// Attributes fanin does not model, kept as sent.
    #[serde(flatten)]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, Value>,
}

// ---------------------------------------------------------------------------
// Network inventory (what EC2 reports), the input of enrichment
// ---------------------------------------------------------------------------

/// One EC2 instance as the network inventory reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub instance_id: String,
    pub state: String,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub private_dns_name: Option<String>,
    pub public_dns_name: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub interfaces: Vec<InterfaceRecord>,
}

/// One elastic network interface attached to an instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterfaceRecord {
    pub interface_id: String,
    pub device_index: Option<i32>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub mac_address: Option<String>,
    pub private_ips: Vec<String>,
    pub public_ips: Vec<String>,
    pub public_dns_name: Option<String>,
    pub ipv6_addresses: Vec<String>,
    pub security_groups: Vec<GroupRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupRef {
    #[serde(rename = "group_id")]
    pub id: String,
    #[serde(rename = "group_name")]
    pub name: Option<String>,
}

/// A security group with its ingress rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRecord {
    pub group_id: String,
    pub group_name: Option<String>,
    pub vpc_id: Option<String>,
    pub ingress: Vec<IngressRule>,
}

/// One ingress permission. `protocol` is `tcp`, `udp`, `icmp`, `icmpv6`, a
/// protocol number, or `all` (EC2's `-1`); ports are absent for `all`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngressRule {
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub ipv4_ranges: Vec<String>,
    pub ipv6_ranges: Vec<String>,
    pub source_groups: Vec<String>,
    pub prefix_lists: Vec<String>,
}
