//! Amazon Inspector (Inspector2): `aws.inspector2` / `Inspector2 Finding`
//! events carry the whole finding; OCSF 2002 Vulnerability Finding
//! (mapping in `crate::normalize::inspector2`).
//!
//! Provenance: the event's `account` is the finding's `awsAccountId`, or an
//! allow-listed delegated administrator's (Inspector publishes a member's
//! finding in the administrator account too, with the administrator as
//! `account`). The finding's origin is always the member's account and the
//! region of its ARN.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EventSource;
use crate::decode::{DecodeError, Notification, Provenance, check_partition};
use crate::enrich::{FaninContext, ReportedNetwork};
use crate::ids::{AccountId, Arn, Partition, truncate_for_message};
use crate::model::Inspector2Finding;
use crate::normalize::{
    EnrichmentTarget, FindingClass, OcsfDocument, Origin, SourceFinding, vulnerability,
};

pub const FINDING_EVENTS: EventSource = EventSource {
    source: "aws.inspector2",
    detail_type: "Inspector2 Finding",
    in_sns_reason: "inspector2_in_sns",
    decode: decode_event,
};

/// A finding of an on-demand machine image scan (`StartOnDemandScan`): the
/// same finding shape under its own source and detail type.
pub const ONDEMAND_AMI_EVENTS: EventSource = EventSource {
    source: "inspector2.ami.ondemand",
    detail_type: "OnDemand AMI Scan Findings",
    in_sns_reason: "inspector2_in_sns",
    decode: decode_event,
};

/// Decodes an `Inspector2 Finding` event and checks its provenance.
pub fn decode_event(
    mut value: Value,
    provenance: &Provenance,
) -> Result<Notification, DecodeError> {
    let event_account = value
        .get("account")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            DecodeError::InvalidFinding("Inspector2 Finding event without `account`".into())
        })
        .and_then(|raw| Ok(AccountId::parse(raw)?))?;
    let detail = value.get_mut("detail").map(Value::take).ok_or_else(|| {
        DecodeError::InvalidFinding("Inspector2 Finding event without `detail`".into())
    })?;
    let finding: Inspector2Finding = serde_json::from_value(detail)
        .map_err(|e| DecodeError::InvalidFinding(truncate_for_message(&e.to_string())))?;
    let arn = Arn::parse(&finding.finding_arn, "inspector2")?;
    let account = AccountId::parse(&finding.aws_account_id)?;
    if account != arn.account {
        return Err(DecodeError::InvalidFinding(format!(
            "awsAccountId {account} differs from the account of findingArn {}",
            arn.account
        )));
    }
    check_partition(provenance, &arn)?;
    let delegated = provenance
        .inspector2_admin_accounts
        .contains(&event_account);
    if event_account != account && !delegated {
        return Err(DecodeError::EventAccountMismatch {
            event_account,
            finding_account: account,
        });
    }
    Ok(Notification::Finding {
        origin: Origin {
            account,
            region: arn.region,
        },
        finding: Box::new(finding),
    })
}

impl SourceFinding for Inspector2Finding {
    fn source_name(&self) -> &'static str {
        "inspector2"
    }
    fn class(&self) -> FindingClass {
        FindingClass::VulnerabilityFinding
    }
    fn uid(&self) -> &str {
        &self.finding_arn
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// None 0, ACTIVE 1, SUPPRESSED 2, CLOSED 3.
    fn state_rank(&self) -> u8 {
        vulnerability::inspector2_state_rank(self)
    }
    fn content_hash(&self) -> [u8; 32] {
        super::content_hash_of(self)
    }
    fn enrichment_target(&self) -> EnrichmentTarget {
        vulnerability::inspector2_enrichment_target(self)
    }
    fn reported_network(&self) -> ReportedNetwork {
        vulnerability::inspector2_reported_network(self)
    }
    fn to_ocsf(
        &self,
        origin: &Origin,
        partition: &Partition,
        context: FaninContext,
        uid: String,
        now: &DateTime<Utc>,
    ) -> OcsfDocument {
        let unparsed = vulnerability::inspector2_unparsed_values(self, partition);
        let record = vulnerability::inspector2_to_ocsf(self, origin, partition, context, uid);
        vulnerability::document(record, unparsed, now)
    }
}
