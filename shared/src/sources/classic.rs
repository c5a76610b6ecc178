//! Amazon Inspector Classic: SNS notifications (`FINDING_REPORTED`, or a run
//! lifecycle event) that only name a finding; its details are fetched from
//! its own account with DescribeFindings ([`Fetch::ClassicDetails`]) before
//! it maps to OCSF 2002 Vulnerability Finding (`crate::normalize::classic`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::decode::{DecodeError, Fetch, Notification, Provenance, check_partition};
use crate::enrich::{FaninContext, ReportedNetwork};
use crate::ids::{ClassicFindingArn, Partition, truncate_for_message};
use crate::model::ClassicFinding;
use crate::normalize::{
    EnrichmentTarget, FindingClass, OcsfDocument, Origin, SourceFinding, vulnerability,
};

/// The Inspector Classic events other than FINDING_REPORTED: acknowledged and
/// counted, never errors.
pub const CLASSIC_LIFECYCLE_EVENTS: [&str; 4] = [
    "ASSESSMENT_RUN_STARTED",
    "ASSESSMENT_RUN_COMPLETED",
    "ASSESSMENT_RUN_STATE_CHANGED",
    "ENABLE_ASSESSMENT_NOTIFICATIONS",
];

/// Decodes an Inspector Classic notification (out of its SNS envelope, or
/// raw): a finding to fetch in the account and region of its ARN, or a
/// lifecycle event.
pub fn decode_notification(
    value: &Value,
    provenance: &Provenance,
) -> Result<Notification, DecodeError> {
    let Some(event) = value.get("event").and_then(Value::as_str) else {
        return Err(DecodeError::UnknownEvent(
            "neither an Inspector Classic notification (no `event`) nor an EventBridge event"
                .into(),
        ));
    };
    match event {
        "FINDING_REPORTED" => {
            let raw_arn = value
                .get("finding")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    DecodeError::InvalidFinding("FINDING_REPORTED without a `finding` ARN".into())
                })?;
            let finding_arn = ClassicFindingArn::parse(raw_arn)?;
            check_partition(provenance, finding_arn.arn())?;
            let arn = finding_arn.arn();
            let origin = Origin {
                account: arn.account.clone(),
                region: arn.region.clone(),
            };
            Ok(Notification::Reference {
                origin,
                fetch: Fetch::ClassicDetails(finding_arn),
            })
        }
        other if CLASSIC_LIFECYCLE_EVENTS.contains(&other) => Ok(Notification::Acknowledge {
            event: other.to_owned(),
        }),
        other => Err(DecodeError::UnknownEvent(format!(
            "Inspector Classic event {:?}",
            truncate_for_message(other)
        ))),
    }
}

impl SourceFinding for ClassicFinding {
    fn source_name(&self) -> &'static str {
        "inspector-classic"
    }
    fn class(&self) -> FindingClass {
        FindingClass::VulnerabilityFinding
    }
    fn uid(&self) -> &str {
        &self.arn
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    // A Classic finding has one version (each run makes new ARNs): rank 0.
    fn content_hash(&self) -> [u8; 32] {
        super::content_hash_of(self)
    }
    fn enrichment_target(&self) -> EnrichmentTarget {
        vulnerability::classic_enrichment_target(self)
    }
    fn reported_network(&self) -> ReportedNetwork {
        vulnerability::classic_reported_network(self)
    }
    fn to_ocsf(
        &self,
        origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
        now: &DateTime<Utc>,
    ) -> OcsfDocument {
        let unparsed = vulnerability::classic_unparsed_values(self);
        let record = vulnerability::classic_to_ocsf(self, origin, partition, context, uid);
        vulnerability::document(record, unparsed, now)
    }
}
