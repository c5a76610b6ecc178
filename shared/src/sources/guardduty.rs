//! Amazon GuardDuty: `aws.guardduty` / `GuardDuty Finding` events carry the
//! whole finding; OCSF 2004 Detection Finding (decoding, mapping and
//! template in `crate::guardduty`).
//!
//! Provenance: the event's `account` is the finding's `accountId`, or an
//! allow-listed GuardDuty delegated administrator's (with GuardDuty managed
//! by the organization, members' findings are published in the
//! administrator account). The finding's origin is the member's account and
//! region, where its instance is looked up.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EventSource;
use crate::decode::{DecodeError, Notification, Provenance};
use crate::enrich::{FaninContext, ReportedNetwork};
use crate::guardduty::{self, GuardDutyEvent, GuardDutyProvenance};
use crate::ids::Partition;
use crate::normalize::{EnrichmentTarget, FindingClass, OcsfDocument, Origin, SourceFinding};

pub const FINDING_EVENTS: EventSource = EventSource {
    source: guardduty::decode::SOURCE,
    detail_type: guardduty::decode::DETAIL_TYPE,
    in_sns_reason: "guardduty_in_sns",
    decode: decode_event,
};

/// Decodes a `GuardDuty Finding` event and checks its provenance.
pub fn decode_event(value: Value, provenance: &Provenance) -> Result<Notification, DecodeError> {
    let trusted = GuardDutyProvenance {
        partition: provenance.partition.clone(),
        admin_accounts: provenance.guardduty_admin_accounts.clone(),
    };
    let event = guardduty::decode_event(value, &trusted).map_err(from_guardduty)?;
    Ok(Notification::Finding {
        origin: Origin {
            account: event.account.clone(),
            region: event.region.clone(),
        },
        finding: Box::new(GuardDutyFinding(event)),
    })
}

/// The same reasons, in the core's terms.
fn from_guardduty(error: guardduty::DecodeError) -> DecodeError {
    use guardduty::DecodeError as G;
    match error {
        G::MalformedJson(why) => DecodeError::MalformedJson(why),
        G::UnknownEvent(why) => DecodeError::UnknownEvent(why),
        G::EventAccountMismatch {
            event_account,
            finding_account,
        } => DecodeError::EventAccountMismatch {
            event_account,
            finding_account,
        },
        G::ForeignPartition(why) => DecodeError::ForeignPartition(why),
        G::InvalidIdentifier(error) => DecodeError::InvalidIdentifier(error),
        G::InvalidFinding(why) => DecodeError::InvalidFinding(why),
    }
}

/// A decoded GuardDuty finding, as the pipeline sees every source's.
#[derive(Debug)]
pub struct GuardDutyFinding(pub GuardDutyEvent);

impl SourceFinding for GuardDutyFinding {
    fn source_name(&self) -> &'static str {
        guardduty::normalize::SOURCE_NAME
    }
    fn class(&self) -> FindingClass {
        FindingClass::DetectionFinding
    }
    fn uid(&self) -> &str {
        self.0.arn.as_str()
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Active 1, archived 2.
    fn state_rank(&self) -> u8 {
        guardduty::normalize::state_rank(&self.0.finding)
    }
    fn content_hash(&self) -> [u8; 32] {
        guardduty::normalize::content_hash(&self.0.finding)
    }
    fn enrichment_target(&self) -> EnrichmentTarget {
        guardduty::normalize::enrichment_target(&self.0.finding)
    }
    fn reported_network(&self) -> ReportedNetwork {
        guardduty::reported_network(&self.0.finding)
    }
    fn to_ocsf(
        &self,
        _origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
        now: &DateTime<Utc>,
    ) -> OcsfDocument {
        guardduty::normalize::document(&self.0, partition, context, uid, now)
    }
}
