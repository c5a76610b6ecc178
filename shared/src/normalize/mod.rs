//! Normalization of source findings into OCSF Vulnerability Findings.
//!
//! Every source provides the same few facts to the source-neutral pipeline
//! through [`SourceFinding`]: where it comes from, which EC2 instance (if
//! any) it is about, what it reports about that host's network, its version
//! (update time) and how it maps to OCSF once enrichment is known. Adding a
//! source means adding a variant and a module here, and a decoder arm.
//!
//! Normalization is total: a finding version becomes a [`FindingRecord`]
//! within the limits of [`limits`], or a [`NormalizeError`] that says why it
//! cannot (a version outside the believable time range).

mod classic;
mod inspector2;
pub mod limits;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::enrich::{FaninContext, ReportedNetwork};
use crate::ids::{AccountId, Partition, Region};
use crate::model::{ClassicFinding, Inspector2Finding};
use crate::ocsf::{UnparsedValue, VulnerabilityFinding};
use crate::timestamps;

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

    /// What the finding says about its host's network: only the addresses
    /// that parse (the others are in [`Self::unparsed_values`]).
    pub fn reported_network(&self) -> ReportedNetwork {
        match self {
            Self::Classic(f) => classic::reported_network(f),
            Self::Inspector2(f) => inspector2::reported_network(f),
        }
    }

    /// The source values that should have a type (address, port, date,
    /// region) and do not parse, or name another partition.
    pub fn unparsed_values(&self, partition: &Partition) -> Vec<UnparsedValue> {
        match self {
            Self::Classic(f) => classic::unparsed_values(f),
            Self::Inspector2(f) => inspector2::unparsed_values(f, partition),
        }
    }

    /// Where this version ranks among versions with the same update time:
    /// the state Inspector moves a finding to later ranks higher.
    pub fn state_rank(&self) -> u8 {
        match self {
            // A Classic finding has one version (each run makes new ARNs).
            Self::Classic(_) => 0,
            Self::Inspector2(f) => inspector2::state_rank(f),
        }
    }

    /// SHA-256 of the finding's content as fanin reads it (every modelled
    /// attribute, in a fixed order): two deliveries of one version hash the
    /// same, two different contents differ.
    pub fn content_hash(&self) -> [u8; 32] {
        let bytes = match self {
            Self::Classic(f) => serde_json::to_vec(f),
            Self::Inspector2(f) => serde_json::to_vec(f),
        }
        .expect("source findings serialize");
        Sha256::digest(bytes).into()
    }

    /// Maps the finding and its enrichment to OCSF; `uid` is the version's
    /// `metadata.uid`.
    pub fn to_ocsf(
        &self,
        origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
    ) -> VulnerabilityFinding {
        match self {
            Self::Classic(f) => classic::to_ocsf(f, origin, partition, context, uid),
            Self::Inspector2(f) => inspector2::to_ocsf(f, origin, partition, context, uid),
        }
    }
}

/// Why a finding version cannot become a record. Permanent: the same
/// finding fails the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// The update time is before 2015 or more than 15 minutes ahead of the
    /// collector's clock: as a version it would win (or lose) against every
    /// real update, and it would name an archive day that cannot be.
    #[error("update time {updated} is outside [2015-01-01T00:00:00Z, now + 15 min]")]
    VersionOutOfRange { updated: String },
}

impl NormalizeError {
    /// The quarantine reason.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::VersionOutOfRange { .. } => "version_out_of_range",
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
    /// The external version (see [`external_version`]): positive, ordered by
    /// update time, then state, then content.
    pub version: i64,
    /// `metadata.uid` and the ledger id: identifies this version's content
    /// (see [`version_uid`]).
    pub version_uid: String,
    /// The UTC day of the update time (S3 `eventDay`).
    pub event_day: NaiveDate,
    pub record: VulnerabilityFinding,
}

impl FindingRecord {
    /// Normalizes one finding version; `now` is the collector's clock, which
    /// bounds the believable update times.
    pub fn new(
        finding: &SourceFinding,
        origin: Origin,
        partition: &Partition,
        context: FaninContext,
        now: DateTime<Utc>,
    ) -> Result<Self, NormalizeError> {
        let updated = finding.updated_at();
        if !timestamps::is_believable(&updated, &now) {
            return Err(NormalizeError::VersionOutOfRange {
                updated: timestamps::rfc3339(&updated),
            });
        }
        let finding_uid = finding.arn().to_owned();
        let content_hash = finding.content_hash();
        let version = external_version(
            updated.timestamp_millis(),
            finding.state_rank(),
            &content_hash,
        );
        let version_uid = version_uid(&finding_uid, version, &content_hash);
        let unparsed = finding.unparsed_values(partition);
        let mut record = finding.to_ocsf(&origin, partition, context, version_uid.clone());
        record.unmapped.input.unparsed = unparsed;
        limits::enforce(&mut record, &now);
        let changes = &record.unmapped.input;
        if !changes.unparsed.is_empty() || !changes.truncated.is_empty() {
            let fields = |names: Vec<&str>| names.join(",");
            warn!(
                finding_id = %crate::ids::truncate_for_message(&finding_uid),
                account_id = %origin.account,
                region = %origin.region,
                unparsed = %fields(changes.unparsed.iter().map(|u| u.field.as_str()).collect()),
                truncated = %fields(changes.truncated.iter().map(|t| t.field.as_str()).collect()),
                "finding values set aside or cut"
            );
        }
        Ok(Self {
            document_id: document_id(&finding_uid),
            version_uid,
            event_day: updated.date_naive(),
            finding_uid,
            version,
            origin,
            record,
        })
    }
}

pub fn document_id(finding_arn: &str) -> String {
    hex::encode(Sha256::digest(finding_arn.as_bytes()))
}

/// Versions per millisecond of update time.
const VERSIONS_PER_MS: i64 = 1_000_000;
/// Versions per state rank within one millisecond (4 ranks).
const VERSIONS_PER_RANK: i64 = 250_000;

/// The external version of a finding version:
/// `updated_ms × 1,000,000 + rank × 250,000 + (content hash mod 250,000)`.
///
/// Ordered by update time first; within one millisecond (Inspector2's
/// pre-June-2024 timestamps have whole seconds) by the state Inspector moves
/// a finding to later (`state_rank`: none 0, ACTIVE 1, SUPPRESSED 2, CLOSED
/// 3), then by content hash, so two different contents never share a
/// version and every writer orders them the same way. With update times in
/// [2015, now + 15 min] the version is positive and far below OpenSearch's
/// external version limit (2^63 - 1, reached only in the year 2262).
pub fn external_version(updated_ms: i64, state_rank: u8, content_hash: &[u8; 32]) -> i64 {
    let rank = i64::from(state_rank.min(3));
    let mut head = [0u8; 8];
    head.copy_from_slice(&content_hash[..8]);
    let tie = (u64::from_be_bytes(head) % VERSIONS_PER_RANK as u64) as i64;
    updated_ms * VERSIONS_PER_MS + rank * VERSIONS_PER_RANK + tie
}

/// `metadata.uid`: hex SHA-256 of `<ARN>\n<version>\n<content hash hex>`, so
/// two contents are two versions even if their version numbers met.
pub fn version_uid(finding_arn: &str, version: i64, content_hash: &[u8; 32]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(finding_arn.as_bytes());
    hasher.update(b"\n");
    hasher.update(version.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(hex::encode(content_hash).as_bytes());
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
