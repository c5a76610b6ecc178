//! Normalization: a source's finding version, with its enrichment, becomes
//! a [`FindingRecord`], the one type the store, the ledger and the archive
//! take. A record knows its OCSF class, its ids, its version, its account,
//! region and day, and carries its OCSF document as JSON text; nothing in it
//! is particular to a source.
//!
//! Each source says how its findings map to OCSF by implementing
//! [`SourceFinding`] (`crate::sources`). The Inspector mappings themselves are
//! in `classic.rs` and `inspector2.rs` (OCSF 2002 Vulnerability Finding),
//! reached by their sources through [`vulnerability`].
//!
//! Normalization is total: a finding version becomes a [`FindingRecord`]
//! within the limits of [`limits`], or a [`NormalizeError`] that says why it
//! cannot (a version outside the believable time range).

mod classic;
mod inspector2;
pub mod limits;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::enrich::{EnrichmentStatus, FaninContext, ReportedNetwork};
use crate::ids::{AccountId, Partition, Region};
use crate::ocsf::VulnerabilityFinding;
use crate::timestamps;

/// The OCSF finding classes fanin stores. Each class has its own index
/// (`<prefix>-<index_suffix>`, template in `crate::search::template`) and its
/// own archive prefix (`findings/classUid=<uid>/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingClass {
    /// 2002: Inspector Classic, Inspector2.
    VulnerabilityFinding,
    /// 2003: configuration and policy checks.
    ComplianceFinding,
    /// 2004: threat detections (GuardDuty).
    DetectionFinding,
}

impl FindingClass {
    pub const ALL: [FindingClass; 3] = [
        Self::VulnerabilityFinding,
        Self::ComplianceFinding,
        Self::DetectionFinding,
    ];

    /// OCSF `class_uid`.
    pub fn uid(self) -> u32 {
        match self {
            Self::VulnerabilityFinding => 2002,
            Self::ComplianceFinding => 2003,
            Self::DetectionFinding => 2004,
        }
    }

    /// The index of the class is `<prefix>-<index_suffix>`: `findings` stays
    /// the name of the Vulnerability Finding index analysts already query.
    pub fn index_suffix(self) -> &'static str {
        match self {
            Self::VulnerabilityFinding => "findings",
            Self::ComplianceFinding => "compliance",
            Self::DetectionFinding => "detections",
        }
    }
}

/// Where a finding comes from (validated): the account and region the
/// finding is about, which enrichment and the archive partition use (for a
/// finding delivered through a delegated administrator, the member's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub account: AccountId,
    pub region: Region,
}

/// What enrichment should do for a finding: the EC2 instance whose network
/// context it needs, looked up in the finding's [`Origin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrichmentTarget {
    Instance(String),
    /// Not an EC2 resource (ECR image, Lambda function): described by its type.
    NotApplicable(String),
    NoInstance,
}

/// A finding complete with its details, as fetched from or carried by its
/// source: the few facts the source-neutral pipeline needs, and its mapping
/// to OCSF. Implemented by each source (`crate::sources`).
pub trait SourceFinding: std::fmt::Debug + Send + Sync {
    /// The source name stored under `unmapped.fanin.source`.
    fn source_name(&self) -> &'static str;
    /// The OCSF class the finding maps to.
    fn class(&self) -> FindingClass;
    /// The finding's own id (an ARN), stable across its versions:
    /// `finding_info.uid`, and hashed, the index `_id`.
    fn uid(&self) -> &str;
    /// The time of this version of the finding.
    fn updated_at(&self) -> DateTime<Utc>;
    /// Where this version ranks among versions with the same update time
    /// (0 to 3): the state a source moves a finding to later ranks higher.
    fn state_rank(&self) -> u8 {
        0
    }
    /// SHA-256 of the finding's content as fanin reads it (every modelled
    /// attribute, in a fixed order): two deliveries of one version hash the
    /// same, two different contents differ.
    fn content_hash(&self) -> [u8; 32];
    /// The EC2 instance (if any) whose network context the finding needs.
    fn enrichment_target(&self) -> EnrichmentTarget;
    /// What the finding says about its host's network: only the addresses
    /// that parse.
    fn reported_network(&self) -> ReportedNetwork;
    /// The OCSF document of this version, within the limits of [`limits`]:
    /// `uid` is its `metadata.uid`, `now` the collector's clock.
    fn to_ocsf(
        &self,
        origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
        now: &DateTime<Utc>,
    ) -> OcsfDocument;
}

/// A finding's OCSF document, serialized once, and what normalization had to
/// set aside (unparsed) or cut (truncated), by field path, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct OcsfDocument {
    pub json: Arc<str>,
    pub unparsed: Vec<String>,
    pub truncated: Vec<String>,
}

/// The OCSF 2002 mappings of Inspector Classic and Inspector2, for their
/// source modules (`crate::sources::{classic, inspector2}`).
pub mod vulnerability {
    use super::*;
    use crate::model::{ClassicFinding, Inspector2Finding};
    use crate::ocsf::UnparsedValue;

    /// Enforces the limits on a Vulnerability Finding and serializes it.
    pub fn document(
        mut record: VulnerabilityFinding,
        unparsed: Vec<UnparsedValue>,
        now: &DateTime<Utc>,
    ) -> OcsfDocument {
        record.unmapped.input.unparsed = unparsed;
        limits::enforce(&mut record, now);
        let changes = &record.unmapped.input;
        let unparsed = changes.unparsed.iter().map(|u| u.field.clone()).collect();
        let truncated = changes.truncated.iter().map(|t| t.field.clone()).collect();
        OcsfDocument {
            json: serde_json::to_string(&record)
                .expect("OCSF records serialize")
                .into(),
            unparsed,
            truncated,
        }
    }

    pub fn classic_enrichment_target(finding: &ClassicFinding) -> EnrichmentTarget {
        classic::enrichment_target(finding)
    }
    pub fn classic_reported_network(finding: &ClassicFinding) -> ReportedNetwork {
        classic::reported_network(finding)
    }
    pub fn classic_unparsed_values(finding: &ClassicFinding) -> Vec<UnparsedValue> {
        classic::unparsed_values(finding)
    }
    pub fn classic_to_ocsf(
        finding: &ClassicFinding,
        origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
    ) -> VulnerabilityFinding {
        classic::to_ocsf(finding, origin, partition, context, uid)
    }

    pub fn inspector2_enrichment_target(finding: &Inspector2Finding) -> EnrichmentTarget {
        inspector2::enrichment_target(finding)
    }
    pub fn inspector2_reported_network(finding: &Inspector2Finding) -> ReportedNetwork {
        inspector2::reported_network(finding)
    }
    pub fn inspector2_unparsed_values(
        finding: &Inspector2Finding,
        partition: &Partition,
    ) -> Vec<UnparsedValue> {
        inspector2::unparsed_values(finding, partition)
    }
    pub fn inspector2_state_rank(finding: &Inspector2Finding) -> u8 {
        inspector2::state_rank(finding)
    }
    pub fn inspector2_to_ocsf(
        finding: &Inspector2Finding,
        origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
    ) -> VulnerabilityFinding {
        inspector2::to_ocsf(finding, origin, partition, context, uid)
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

/// One normalized finding version, ready to store: what the store, the
/// ledger and the archive take, whatever its source.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRecord {
    pub class: FindingClass,
    pub origin: Origin,
    /// The finding's own id (an ARN).
    pub finding_uid: String,
    /// The OpenSearch `_id`: hex SHA-256 of the finding's id.
    pub document_id: String,
    /// The external version (see [`external_version`]): positive, ordered by
    /// update time, then state, then content.
    pub version: i64,
    /// `metadata.uid` and the ledger id: identifies this version's content
    /// (see [`version_uid`]).
    pub version_uid: String,
    /// The UTC day of the update time (S3 `eventDay`).
    pub event_day: NaiveDate,
    /// How enrichment went, for the batch's metrics.
    pub enrichment: EnrichmentStatus,
    /// The OCSF document, JSON text: one index document, one archive line.
    pub document: Arc<str>,
}

impl FindingRecord {
    /// Normalizes one finding version; `now` is the collector's clock, which
    /// bounds the believable update times.
    pub fn new(
        finding: &dyn SourceFinding,
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
        let finding_uid = finding.uid().to_owned();
        let content_hash = finding.content_hash();
        let version = external_version(
            updated.timestamp_millis(),
            finding.state_rank(),
            &content_hash,
        );
        let version_uid = version_uid(&finding_uid, version, &content_hash);
        let enrichment = context.enrichment.status;
        let document = finding.to_ocsf(&origin, partition, context, version_uid.clone(), &now);
        if !document.unparsed.is_empty() || !document.truncated.is_empty() {
            warn!(
                finding_id = %crate::ids::truncate_for_message(&finding_uid),
                account_id = %origin.account,
                region = %origin.region,
                unparsed = %document.unparsed.join(","),
                truncated = %document.truncated.join(","),
                "finding values set aside or cut"
            );
        }
        Ok(Self {
            class: finding.class(),
            document_id: document_id(&finding_uid),
            version_uid,
            event_day: updated.date_naive(),
            finding_uid,
            version,
            origin,
            enrichment,
            document: document.json,
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
