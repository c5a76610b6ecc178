//! Decoding of an EventBridge "GuardDuty Finding" event and the checks that
//! make its claimed origin hold.
//!
//! What is believed: the event's `account` is the finding's `accountId`, or
//! an allow-listed GuardDuty delegated administrator (the administrator's
//! default bus receives the findings of every member, with the
//! administrator as `account`); the finding ARN is
//! `arn:<partition>:guardduty:<region>:<accountId>:detector/<id>/finding/<id>`
//! with the finding's own `accountId`, `region`, `partition` and `id`; the
//! region is in the collector's partition; `createdAt` and `updatedAt` are
//! times (the update time is the version).
//!
//! Decoding is pure and total, and every error is permanent: the caller sets
//! the message aside under the error's [`DecodeError::reason_code`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::model::Finding;
use crate::ids::{AccountId, Arn, IdError, Partition, Region, truncate_for_message};

pub const SOURCE: &str = "aws.guardduty";
pub const DETAIL_TYPE: &str = "GuardDuty Finding";

/// Whom the collector believes for GuardDuty events.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardDutyProvenance {
    /// The collector's partition: the finding ARN and region must be in it.
    pub partition: Partition,
    /// GuardDuty delegated administrator accounts
    /// (`FANIN_GUARDDUTY_ADMIN_ACCOUNTS`).
    pub admin_accounts: BTreeSet<AccountId>,
}

/// A GuardDuty finding with its validated origin.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardDutyEvent {
    pub arn: Arn,
    /// The account the finding is about (`accountId`).
    pub account: AccountId,
    pub region: Region,
    /// The account whose bus delivered the event (the member itself or the
    /// delegated administrator).
    pub delivered_by: AccountId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finding: Finding,
}

/// Why a GuardDuty event cannot be processed, ever.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("message body is not JSON: {0}")]
    MalformedJson(String),
    #[error("unknown event: {0}")]
    UnknownEvent(String),
    #[error(
        "EventBridge account {event_account} is neither the finding's account {finding_account} nor a GuardDuty administrator"
    )]
    EventAccountMismatch {
        event_account: AccountId,
        finding_account: AccountId,
    },
    #[error("{0}")]
    ForeignPartition(String),
    #[error("invalid identifier: {0}")]
    InvalidIdentifier(#[from] IdError),
    #[error("finding does not match its schema: {0}")]
    InvalidFinding(String),
}

impl DecodeError {
    /// The quarantine reason: the same codes as the other sources'.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::UnknownEvent(_) => "unknown_event",
            Self::EventAccountMismatch { .. } => "event_account_mismatch",
            Self::ForeignPartition(_) => "foreign_partition",
            Self::InvalidIdentifier(IdError::ForeignRegion { .. }) => "foreign_partition",
            Self::InvalidIdentifier(_) => "invalid_identifier",
            Self::InvalidFinding(_) => "invalid_finding",
        }
    }
}

/// Whether a JSON value is a GuardDuty Finding event (by `source` and
/// `detail-type`): how the queue decoder routes a message here.
pub fn is_guardduty_finding(value: &Value) -> bool {
    let text = |key| value.get(key).and_then(Value::as_str);
    text("source") == Some(SOURCE) && text("detail-type") == Some(DETAIL_TYPE)
}

/// Decodes one queue message body (a raw EventBridge event).
pub fn decode(body: &str, provenance: &GuardDutyProvenance) -> Result<GuardDutyEvent, DecodeError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| DecodeError::MalformedJson(truncate_for_message(&e.to_string())))?;
    decode_event(value, provenance)
}

/// Decodes an EventBridge event already read as JSON.
pub fn decode_event(
    mut value: Value,
    provenance: &GuardDutyProvenance,
) -> Result<GuardDutyEvent, DecodeError> {
    if !is_guardduty_finding(&value) {
        let text =
            |key| truncate_for_message(value.get(key).and_then(Value::as_str).unwrap_or_default());
        return Err(DecodeError::UnknownEvent(format!(
            "EventBridge source {:?} detail-type {:?}",
            text("source"),
            text("detail-type")
        )));
    }
    let event_account = value
        .get("account")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            DecodeError::InvalidFinding("GuardDuty Finding event without `account`".into())
        })
        .and_then(|raw| Ok(AccountId::parse(raw)?))?;
    let event_region = match value.get("region") {
        None => None,
        Some(raw) => Some(Region::parse(raw.as_str().unwrap_or_default())?),
    };
    let detail = value
        .get_mut("detail")
        .map(Value::take)
        .filter(Value::is_object)
        .ok_or_else(|| {
            DecodeError::InvalidFinding("GuardDuty Finding event without a `detail` object".into())
        })?;
    // Read from a borrow: the detail is kept whole as `raw`, not copied.
    let mut finding = Finding::deserialize(&detail)
        .map_err(|e| DecodeError::InvalidFinding(truncate_for_message(&e.to_string())))?;
    finding.raw = detail;

    let arn = Arn::parse(&finding.arn, "guardduty")?;
    check_finding_arn(&arn, &finding.id)?;
    let account = AccountId::parse(&finding.account_id)?;
    let region = Region::parse(&finding.region)?;
    if account != arn.account || region != arn.region {
        return Err(DecodeError::InvalidFinding(format!(
            "accountId {account} / region {region} differ from the ARN's {} / {}",
            arn.account, arn.region
        )));
    }
    if let Some(partition) = &finding.partition
        && partition != arn.partition.as_str()
    {
        return Err(DecodeError::InvalidFinding(format!(
            "partition {:?} differs from the ARN's {}",
            truncate_for_message(partition),
            arn.partition
        )));
    }
    if arn.partition != provenance.partition {
        return Err(DecodeError::ForeignPartition(format!(
            "guardduty ARN is from partition {}, the collector serves {}",
            arn.partition, provenance.partition
        )));
    }
    provenance.partition.check_region(&region)?;
    // The event's `region` is parsed (garbage is refused) but not compared:
    // the origin is the finding ARN's region, checked against the partition,
    // as for Inspector2. Provenance rests on the account, which EventBridge
    // sets and a member cannot choose.
    let _ = event_region;
    if event_account != account && !provenance.admin_accounts.contains(&event_account) {
        return Err(DecodeError::EventAccountMismatch {
            event_account,
            finding_account: account,
        });
    }
    let time = |field: &str, raw: &Value| {
        super::normalize::parse_time(raw).ok_or_else(|| {
            DecodeError::InvalidFinding(format!(
                "{field} is not a time: {}",
                truncate_for_message(&raw.to_string())
            ))
        })
    };
    let created_at = time("createdAt", &finding.created_at)?;
    let updated_at = time("updatedAt", &finding.updated_at)?;
    if !finding.severity.is_finite() {
        return Err(DecodeError::InvalidFinding(
            "severity is not a number".into(),
        ));
    }
    Ok(GuardDutyEvent {
        arn,
        account,
        region,
        delivered_by: event_account,
        created_at,
        updated_at,
        finding,
    })
}

/// The resource of a finding ARN is `detector/<detector id>/finding/<id>`,
/// `<id>` the finding's own `id`, both ids short and alphanumeric.
fn check_finding_arn(arn: &Arn, id: &str) -> Result<(), DecodeError> {
    let segments: Vec<&str> = arn.resource.split('/').collect();
    let is_id =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let shaped = segments.len() == 4
        && segments[0] == "detector"
        && segments[2] == "finding"
        && is_id(segments[1])
        && is_id(segments[3]);
    if !shaped {
        return Err(IdError::Arn {
            expected: "GuardDuty finding",
            reason: format!(
                "resource is not detector/<id>/finding/<id> in {:?}",
                truncate_for_message(arn.as_str())
            ),
        }
        .into());
    }
    if segments[3] != id {
        return Err(DecodeError::InvalidFinding(format!(
            "id {:?} differs from the ARN's finding id",
            truncate_for_message(id)
        )));
    }
    Ok(())
}
