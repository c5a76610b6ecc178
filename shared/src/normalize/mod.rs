//! Normalization of source findings into OCSF Vulnerability Findings.
//!
//! Every source provides the same few facts to the source-neutral pipeline
//! through [`SourceFinding`]: where it comes from, which EC2 instance (if
//! any) it is about, what it reports about that host's network, its version
//! (update time) and how it maps to OCSF once enrichment is known. Adding a
//! source means adding a variant and a module here, and a decoder arm.

mod classic;
mod inspector2;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::enrich::{FaninContext, ReportedNetwork};
use crate::ids::{AccountId, Partition, Region};
use crate::model::{ClassicFinding, Inspector2Finding};
use crate::ocsf::VulnerabilityFinding;

/// A finding complete with its details, as fetched from or carried by its source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceFinding {
    Classic(Box<ClassicFinding>),
    Inspector2(Box<Inspector2Finding>),
}

/// Where a finding comes from (validated).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub account: AccountId,
    pub region: Region,
}

/// What enrichment should do for a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrichmentTarget {
    Instance(String),
    /// Not an EC2 resource (ECR image, Lambda function): described by its type.
    NotApplicable(String),
    NoInstance,
}

impl SourceFinding {
    pub fn arn(&self) -> &str {
        match self {
            Self::Classic(f) => &f.arn,
            Self::Inspector2(f) => &f.finding_arn,
        }
    }

    /// The source name stored under `unmapped.fanin.source`.
    pub fn source_name(&self) -> &'static str {
        match self {
            Self::Classic(_) => "inspector-classic",
            Self::Inspector2(_) => "inspector2",
        }
    }

    /// The time of this version of the finding.
    pub fn updated_at(&self) -> DateTime<Utc> {
        match self {
            Self::Classic(f) => f.updated_at,
            Self::Inspector2(f) => f.updated_at,
        }
    }

    pub fn enrichment_target(&self) -> EnrichmentTarget {
        match self {
            Self::Classic(f) => classic::enrichment_target(f),
            Self::Inspector2(f) => inspector2::enrichment_target(f),
        }
    }

    pub fn reported_network(&self) -> ReportedNetwork {
        match self {
            Self::Classic(f) => classic::reported_network(f),
            Self::Inspector2(f) => inspector2::reported_network(f),
        }
    }

    /// Maps the finding and its enrichment to OCSF.
    pub fn to_ocsf(
        &self,
        origin: &Origin,
        partition: &Partition,
        context: FaninContext,
    ) -> VulnerabilityFinding {
        match self {
            Self::Classic(f) => classic::to_ocsf(f, origin, partition, context),
            Self::Inspector2(f) => inspector2::to_ocsf(f, origin, partition, context),
        }
    }
}

/// One normalized finding version, ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRecord {
    pub origin: Origin,
    /// The finding ARN.
    pub finding_uid: String,
    /// The OpenSearch `_id`: hex SHA-256 of the finding ARN.
    pub document_id: String,
    /// The external version: update time in epoch milliseconds.
    pub version: i64,
    /// `metadata.uid`: identifies this version (ARN + version).
    pub version_uid: String,
    /// The UTC day of the update time (S3 `eventDay`).
    pub event_day: NaiveDate,
    pub record: VulnerabilityFinding,
}

impl FindingRecord {
    pub fn new(
        finding: &SourceFinding,
        origin: Origin,
        partition: &Partition,
        context: FaninContext,
    ) -> Self {
        let updated = finding.updated_at();
        let version = updated.timestamp_millis();
        let finding_uid = finding.arn().to_owned();
        let record = finding.to_ocsf(&origin, partition, context);
        Self {
            document_id: document_id(&finding_uid),
            version_uid: version_uid(&finding_uid, version),
            event_day: updated.date_naive(),
            finding_uid,
            version,
            origin,
            record,
        }
    }
}

pub fn document_id(finding_arn: &str) -> String {
    hex::encode(Sha256::digest(finding_arn.as_bytes()))
}

pub fn version_uid(finding_arn: &str, version: i64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(finding_arn.as_bytes());
    hasher.update(b"\n");
    hasher.update(version.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// OCSF `severity_id` and caption from a source severity word.
fn severity(word: Option<&str>) -> crate::ocsf::Severity {
    use crate::ocsf::Severity;
    match word.map(str::to_ascii_uppercase).as_deref() {
        Some("INFORMATIONAL") => Severity::new(1, "Informational"),
        Some("LOW") => Severity::new(2, "Low"),
        Some("MEDIUM") => Severity::new(3, "Medium"),
        Some("HIGH") => Severity::new(4, "High"),
        Some("CRITICAL") => Severity::new(5, "Critical"),
        Some("UNTRIAGED") => Severity::new(99, "Untriaged"),
        _ => Severity::new(0, "Unknown"),
    }
}

/// Keeps a CVE id only when it looks like one (`CVE-YYYY-NNNN+`).
fn as_cve(raw: &str) -> Option<String> {
    let rest = raw.trim().strip_prefix("CVE-")?;
    let (year, number) = rest.split_once('-')?;
    let valid = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && number.len() >= 4
        && number.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| format!("CVE-{year}-{number}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_ids_are_recognised() {
        assert_eq!(as_cve("CVE-2021-44228").as_deref(), Some("CVE-2021-44228"));
        assert_eq!(as_cve("CVE-2021-123"), None);
        assert_eq!(as_cve("Disable password authentication over SSH"), None);
    }

    #[test]
    fn severities_map_to_ocsf() {
        for (word, id) in [
            ("Informational", 1),
            ("LOW", 2),
            ("Medium", 3),
            ("High", 4),
            ("CRITICAL", 5),
            ("UNTRIAGED", 99),
            ("Undefined", 0),
        ] {
            assert_eq!(severity(Some(word)).id, id, "{word}");
        }
    }
}
