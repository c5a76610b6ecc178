//! The canonical record: OCSF 1.7.0 Vulnerability Finding (class 2002).
//!
//! Only the attributes fanin fills are modelled; absent options are omitted
//! from the JSON. Times are epoch milliseconds (`*_time`) with the RFC 3339
//! twin (`*_time_dt`, OCSF's datetime profile). Network context OCSF has no
//! attribute for lives under `unmapped.fanin` (see `docs/schema.md`).

use serde::Serialize;
use serde_json::Value;

pub const OCSF_VERSION: &str = "1.7.0";
pub const CLASS_UID: u32 = 2002;
pub const CATEGORY_UID: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Create = 1,
    Update = 2,
    Close = 3,
}

impl Activity {
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Close => "Close",
        }
    }
}

/// OCSF `severity_id` with its caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Severity {
    pub id: u8,
    pub caption: String,
}

impl Severity {
    pub fn new(id: u8, caption: &str) -> Self {
        Self {
            id,
            caption: caption.to_owned(),
        }
    }
}

/// OCSF `status_id`: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved, 99 Other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New = 1,
    Suppressed = 3,
    Resolved = 4,
}

impl Status {
    pub fn caption(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::Suppressed => "Suppressed",
            Self::Resolved => "Resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnerabilityFinding {
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    pub time: i64,
    pub time_dt: String,
    pub metadata: Metadata,
    pub cloud: Cloud,
    pub finding_info: FindingInfo,
    pub vulnerabilities: Vec<Vulnerability>,
    pub resources: Vec<Resource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    pub unmapped: Unmapped,
}

impl VulnerabilityFinding {
    /// The common header of every fanin record.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        activity: Activity,
        severity: Severity,
        status: Status,
        time_ms: i64,
        metadata: Metadata,
        cloud: Cloud,
        finding_info: FindingInfo,
        unmapped: Unmapped,
    ) -> Self {
        Self {
            activity_id: activity as u8,
            activity_name: activity.name(),
            category_uid: CATEGORY_UID,
            category_name: "Findings",
            class_uid: CLASS_UID,
            class_name: "Vulnerability Finding",
            type_uid: CLASS_UID * 100 + activity as u32,
            type_name: format!("Vulnerability Finding: {}", activity.name()),
            severity_id: severity.id,
            severity: severity.caption,
            status_id: status as u8,
            status: status.caption(),
            status_detail: None,
            time: time_ms,
            time_dt: millis_to_rfc3339(time_ms),
            metadata,
            cloud,
            finding_info,
            vulnerabilities: Vec::new(),
            resources: Vec::new(),
            device: None,
            unmapped,
        }
    }
}

pub fn millis_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| crate::timestamps::rfc3339(&t))
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    pub version: &'static str,
    pub product: Product,
    /// Deterministic id of this finding version: the same input always gives
    /// the same uid, so S3 readers can deduplicate on it.
    pub uid: String,
    pub profiles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Product {
    pub name: &'static str,
    pub vendor_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<Feature>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feature {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cloud {
    /// `AWS`, or the cloud a non-AWS resource is in (`Azure`).
    pub provider: String,
    /// Absent only for a resource in another cloud that names no region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS only: other clouds have no partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_partition: Option<String>,
    /// Absent only for a resource in another cloud that names no account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    /// The organization or tenant (an Azure tenant id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<Organization>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organization {
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub uid: String,
    #[serde(rename = "type")]
    pub account_type: &'static str,
    pub type_id: u8,
}

impl Account {
    pub fn aws(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            account_type: "AWS Account",
            type_id: 10,
        }
    }

    pub fn azure_subscription(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            account_type: "Azure Subscription",
            type_id: 13,
        }
    }

    /// An account of a cloud OCSF has no account type for.
    pub fn other(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            account_type: "Other",
            type_id: 99,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingInfo {
    pub uid: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    pub types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_url: Option<String>,
}

/// The `(epoch ms, RFC 3339)` pair of an optional OCSF time attribute.
pub fn time_pair(ms: Option<i64>) -> (Option<i64>, Option<String>) {
    (ms, ms.map(millis_to_rfc3339))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Vulnerability {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// OCSF allows just one of `advisory`, `cve` and `cwe`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<Advisory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cve: Option<Cve>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwe: Option<Cwe>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affected_packages: Vec<AffectedPackage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affected_code: Vec<AffectedCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_fix_available: Option<bool>,
    /// 1 Complete, 2 Partial, 3 None (with its caption in `fix_coverage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_coverage_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_coverage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_exploit_available: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exploit_last_seen_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exploit_last_seen_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_vulnerabilities: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cve {
    pub uid: String,
    /// When the vendor published the CVE (Inspector2 `vendorCreatedAt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time_dt: Option<String>,
    /// When the vendor last changed it (Inspector2 `vendorUpdatedAt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_time_dt: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<CvssScore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssScore>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvssScore {
    pub base_score: f64,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpssScore {
    /// OCSF types the EPSS score as a string.
    pub score: String,
}

/// A vendor advisory or rule: what a finding without CVE or CWE refers to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advisory {
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cwe {
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AffectedPackage {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The fix for this package (Inspector2 `vulnerablePackages[].remediation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
}

/// OCSF `affected_code`: where in the code a weakness is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AffectedCode {
    pub file: CodeFile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_line: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
}

/// OCSF `file`, as `affected_code` needs it: a regular file (`type_id` 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeFile {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub file_type: &'static str,
}

/// OCSF `rule`: the detection rule that found the weakness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remediation {
    pub desc: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    pub uid: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Repository name of an image, function name of a function, VM name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version of a function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Absent only for a resource in another cloud that names no region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS resources only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_partition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub uid: String,
    pub instance_uid: String,
    /// 6 Virtual (docs/schema.md, choice (b), on the validator that refuses it).
    pub type_id: u8,
    #[serde(rename = "type")]
    pub device_type: &'static str,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkInterface {
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// 1 Wired: an ENI is a virtual wired interface.
    pub type_id: u8,
    #[serde(rename = "type")]
    pub interface_type: &'static str,
}

/// OCSF `unmapped`: everything fanin adds lives under `unmapped.fanin`, the
/// enrichment context and what normalization had to change in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmapped {
    pub fanin: crate::enrich::FaninContext,
    pub input: InputChanges,
}

impl Unmapped {
    pub fn new(fanin: crate::enrich::FaninContext) -> Self {
        Self {
            fanin,
            input: InputChanges::default(),
        }
    }
}

/// What normalization changed in the source's values, kept next to the
/// enrichment as `unmapped.fanin.truncated` and `unmapped.fanin.unparsed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InputChanges {
    /// Strings cut to their documented cap, lists cut to their length cap.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<Truncation>,
    /// Values that should have had a type (address, port, date, region) and
    /// did not parse: kept here, never in a typed attribute.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unparsed: Vec<UnparsedValue>,
}

/// One capped string (`original_bytes`) or list (`original_items`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// The record attribute, as a dotted path (`finding_info.title`).
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_items: Option<usize>,
}

/// A source value that did not parse into its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnparsedValue {
    /// The source attribute (`resources[0].details.awsEc2Instance.ipV4Addresses`)
    /// or, for a value dropped from the record, the record attribute.
    pub field: String,
    /// The value as sent, itself capped (docs/schema.md).
    pub value: String,
}

impl Serialize for Unmapped {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fanin<'a> {
            #[serde(flatten)]
            context: &'a crate::enrich::FaninContext,
            #[serde(flatten)]
            input: &'a InputChanges,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            fanin: Fanin<'a>,
        }
        Out {
            fanin: Fanin {
                context: &self.fanin,
                input: &self.input,
            },
        }
        .serialize(serializer)
    }
}
