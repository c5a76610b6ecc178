//! The GuardDuty record: OCSF 1.7.0 Detection Finding (class 2004).
//!
//! The header objects (`metadata`, `cloud`, `finding_info`, `device`) are
//! the ones fanin's Vulnerability Findings use ([`crate::ocsf`]), so both
//! classes read alike in the archive and the index. Only the attributes
//! fanin fills are modelled; absent options are left out of the JSON.

use serde::Serialize;
use serde_json::Value;

use crate::ocsf::{Cloud, Device, FindingInfo, Metadata, Unmapped};

pub const CLASS_UID: u32 = 2004;
pub const CLASS_NAME: &str = "Detection Finding";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionFinding {
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
    pub time: i64,
    pub time_dt: String,
    /// `service.count`: how many times GuardDuty saw the activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time_dt: Option<String>,
    pub is_alert: bool,
    pub metadata: Metadata,
    pub cloud: Cloud,
    pub finding_info: FindingInfo,
    pub resources: Vec<ResourceDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidences: Vec<Evidence>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observables: Vec<Observable>,
    pub unmapped: DetectionUnmapped,
}

/// OCSF `resources[]` (Resource Details).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDetails {
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: &'static str,
    pub region: String,
    pub cloud_partition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// OCSF `evidences[]`: what GuardDuty observed, one entry per connection,
/// probe, API call, DNS query or Kubernetes call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_info: Option<ConnectionInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<DnsQuery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionInfo {
    /// 0 Unknown, 1 Inbound, 2 Outbound.
    pub direction_id: u8,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_name: Option<String>,
}

/// OCSF Network Endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Endpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// GuardDuty's `portName` (`SSH`, `WinRM`, `Unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svc_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isp_org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autonomous_system: Option<AutonomousSystem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AutonomousSystem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, from `countryCode` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Api {
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ApiService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ApiResponse>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiService {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiResponse {
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsQuery {
    pub hostname: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Actor {
    pub user: User,
}

/// The IAM identity of `accessKeyDetails`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_uid: Option<String>,
    /// 99 (Other) with GuardDuty's `userType` (`IAMUser`, `Role`, `Root`...)
    /// as `type`: OCSF's user types do not name IAM's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_id: Option<u8>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
}

/// OCSF `observables[]`: the values an analyst pivots on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Observable {
    pub name: String,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub observable_type: &'static str,
    pub value: String,
}

impl Observable {
    pub const HOSTNAME: (u8, &'static str) = (1, "Hostname");
    pub const IP_ADDRESS: (u8, &'static str) = (2, "IP Address");
    pub const USER_NAME: (u8, &'static str) = (4, "User Name");
    pub const RESOURCE_UID: (u8, &'static str) = (10, "Resource UID");
    pub const PORT: (u8, &'static str) = (11, "Port");
    pub const USER_CREDENTIAL_ID: (u8, &'static str) = (19, "User Credential ID");

    pub fn new(
        name: impl Into<String>,
        kind: (u8, &'static str),
        value: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            type_id: kind.0,
            observable_type: kind.1,
            value: value.into(),
        }
    }
}

/// OCSF `unmapped`: `fanin` (enrichment and what normalization changed, as
/// for every source) and `guardduty`, every attribute of the source finding
/// that no typed attribute above holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionUnmapped {
    #[serde(flatten)]
    pub common: Unmapped,
    pub guardduty: Value,
}
