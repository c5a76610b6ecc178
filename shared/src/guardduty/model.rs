//! The GuardDuty `Finding` as the API documents it (`GetFindings` response,
//! the same JSON EventBridge carries as an event's `detail`).
//!
//! Only the attributes fanin maps to typed OCSF fields are modelled; the
//! whole `detail` is kept as JSON next to them ([`Finding::raw`]) so that
//! everything the mapping does not use survives under
//! `unmapped.guardduty` (see `normalize::residue`). Optional attributes are
//! optional here too: GuardDuty leaves out what does not apply (a finding
//! about an access key has no `instanceDetails`), and sample findings carry
//! placeholders (`GeneratedFindingVPCId`) that the mapping sets aside.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn de_null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One GuardDuty finding. `raw` is the `detail` object as received.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub account_id: String,
    pub arn: String,
    pub id: String,
    pub region: String,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(rename = "type")]
    pub finding_type: String,
    /// GuardDuty's numeric severity, 1.0 to 10.0 (`docs/schema.md`).
    pub severity: f64,
    pub created_at: Value,
    pub updated_at: Value,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub resource: Resource,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub service: Service,
    #[serde(skip)]
    pub raw: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub instance_details: Option<InstanceDetails>,
    #[serde(default)]
    pub access_key_details: Option<AccessKeyDetails>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub s3_bucket_details: Vec<S3BucketDetails>,
    #[serde(default)]
    pub eks_cluster_details: Option<NamedArn>,
    #[serde(default)]
    pub ecs_cluster_details: Option<NamedArn>,
    #[serde(default)]
    pub lambda_details: Option<LambdaDetails>,
    #[serde(default)]
    pub rds_db_instance_details: Option<RdsDbInstanceDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDetails {
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub instance_state: Option<String>,
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub launch_time: Option<Value>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub network_interfaces: Vec<NetworkInterface>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    #[serde(default)]
    pub network_interface_id: Option<String>,
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub private_ip_addresses: Vec<PrivateIpAddress>,
    #[serde(default)]
    pub private_dns_name: Option<String>,
    #[serde(default)]
    pub public_ip: Option<String>,
    #[serde(default)]
    pub public_dns_name: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub ipv6_addresses: Vec<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub security_groups: Vec<SecurityGroup>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateIpAddress {
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default)]
    pub private_dns_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub group_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Tag {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyDetails {
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub user_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3BucketDetails {
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created_at: Option<Value>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub tags: Vec<Tag>,
}

/// `eksClusterDetails` and `ecsClusterDetails`: a named cluster.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedArn {
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created_at: Option<Value>,
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaDetails {
    #[serde(default)]
    pub function_arn: Option<String>,
    #[serde(default)]
    pub function_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RdsDbInstanceDetails {
    #[serde(default)]
    pub db_instance_arn: Option<String>,
    #[serde(default)]
    pub db_instance_identifier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub action: Option<Action>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub count: Option<i64>,
    #[serde(default)]
    pub event_first_seen: Option<Value>,
    #[serde(default)]
    pub event_last_seen: Option<Value>,
    #[serde(default)]
    pub feature_name: Option<String>,
    #[serde(default)]
    pub detector_id: Option<String>,
    /// `TARGET` or `ACTOR`: typed here because the index template maps it.
    #[serde(default)]
    pub resource_role: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(default)]
    pub action_type: Option<String>,
    #[serde(default)]
    pub network_connection_action: Option<NetworkConnectionAction>,
    #[serde(default)]
    pub port_probe_action: Option<PortProbeAction>,
    #[serde(default)]
    pub aws_api_call_action: Option<AwsApiCallAction>,
    #[serde(default)]
    pub dns_request_action: Option<DnsRequestAction>,
    #[serde(default)]
    pub kubernetes_api_call_action: Option<KubernetesApiCallAction>,
    #[serde(default)]
    pub rds_login_attempt_action: Option<RdsLoginAttemptAction>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConnectionAction {
    #[serde(default)]
    pub connection_direction: Option<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub local_ip_details: Option<IpDetails>,
    #[serde(default)]
    pub local_port_details: Option<PortDetails>,
    #[serde(default)]
    pub remote_ip_details: Option<RemoteIpDetails>,
    #[serde(default)]
    pub remote_port_details: Option<PortDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortProbeAction {
    #[serde(default, deserialize_with = "de_null_as_default")]
    pub port_probe_details: Vec<PortProbeDetail>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortProbeDetail {
    #[serde(default)]
    pub local_ip_details: Option<IpDetails>,
    #[serde(default)]
    pub local_port_details: Option<PortDetails>,
    #[serde(default)]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsApiCallAction {
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub remote_ip_details: Option<RemoteIpDetails>,
    #[serde(default)]
    pub domain_details: Option<DomainDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DomainDetails {
    #[serde(default)]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DnsRequestAction {
    #[serde(default)]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesApiCallAction {
    #[serde(default)]
    pub verb: Option<String>,
    #[serde(default)]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RdsLoginAttemptAction {
    #[serde(default)]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

/// `localIpDetails`: the instance's side of a connection.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpDetails {
    #[serde(default)]
    pub ip_address_v4: Option<String>,
    #[serde(default)]
    pub ip_address_v6: Option<String>,
}

/// `remoteIpDetails`: the other side, with where GuardDuty places it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteIpDetails {
    #[serde(default)]
    pub ip_address_v4: Option<String>,
    #[serde(default)]
    pub ip_address_v6: Option<String>,
    #[serde(default)]
    pub organization: Option<Organization>,
    #[serde(default)]
    pub country: Option<Country>,
    #[serde(default)]
    pub city: Option<City>,
    #[serde(default)]
    pub geo_location: Option<GeoLocation>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// A number in some findings, a string in others (`"-1"`).
    #[serde(default)]
    pub asn: Option<Value>,
    #[serde(default)]
    pub asn_org: Option<String>,
    #[serde(default)]
    pub isp: Option<String>,
    #[serde(default)]
    pub org: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Country {
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub country_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct City {
    #[serde(default)]
    pub city_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GeoLocation {
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortDetails {
    #[serde(default)]
    pub port: Option<i64>,
    #[serde(default)]
    pub port_name: Option<String>,
}
