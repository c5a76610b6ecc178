//! Setting aside messages that can never be processed.
//!
//! A quarantined message is written whole, with its reason, to
//! `quarantine/reason=<code>/eventDay=<YYYYMMDD>/<sha256 of body>.json`, then
//! acknowledged. An operator lists a reason's prefix, fixes the cause and
//! sends the `body` back to the queue (docs/design.md, "Replaying a
//! quarantined message"). Same body, same reason, same day → same key.
//!
//! Every reason is a [`QuarantineReason`] that keeps its typed cause; this is
//! the one place that turns a reason into its code and its detail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::{DecodeError, InboundMessage};
use crate::normalize::{NormalizeError, Origin};
use crate::ports::CallError;

/// The most bytes of `detail` kept in a quarantine object; a longer cause is
/// cut at a character boundary and marked with its original length.
pub const DETAIL_MAX_BYTES: usize = 1024;

/// Why a message is set aside.
#[derive(Debug, Clone, PartialEq)]
pub enum QuarantineReason {
    /// The message cannot be decoded (its own reason codes).
    Decode(DecodeError),
    /// The finding cannot be a version (its update time is out of range).
    Normalize(NormalizeError),
    /// A Classic finding whose member account denied AssumeRole.
    RoleUnavailable(CallError),
    /// DescribeFindings was denied.
    InspectorAccessDenied(CallError),
    /// DescribeFindings failed permanently for another reason.
    InspectorRejected(CallError),
    /// A DescribeFindings `failedItems` entry that is not retryable.
    ClassicFailedItem { failure_code: String },
    /// OpenSearch refused the document permanently.
    IndexRejected(String),
}

impl QuarantineReason {
    /// The reason code: the `quarantine/reason=<code>/` prefix, the metric
    /// dimension, and the key of `BatchReport::quarantined`.
    pub fn code(&self) -> String {
        match self {
            Self::Decode(error) => error.reason_code().to_owned(),
            Self::Normalize(error) => error.reason_code().to_owned(),
            Self::RoleUnavailable(_) => "role_unavailable".into(),
            Self::InspectorAccessDenied(_) => "inspector_access_denied".into(),
            Self::InspectorRejected(_) => "inspector_rejected".into(),
            Self::ClassicFailedItem { failure_code } => {
                safe_reason(&format!("classic_{}", failure_code.to_ascii_lowercase()))
            }
            Self::IndexRejected(_) => "index_rejected".into(),
        }
    }

    /// What an operator reads, at most [`DETAIL_MAX_BYTES`].
    pub fn detail(&self) -> String {
        let full = match self {
            Self::Decode(error) => error.to_string(),
            Self::Normalize(error) => error.to_string(),
            Self::RoleUnavailable(error)
            | Self::InspectorAccessDenied(error)
            | Self::InspectorRejected(error) => error.to_string(),
            Self::ClassicFailedItem { failure_code } => {
                format!("DescribeFindings failedItems: {failure_code} (retryable: false)")
            }
            Self::IndexRejected(why) => why.clone(),
        };
        let mut detail = full;
        crate::normalize::limits::cap_string(&mut detail, DETAIL_MAX_BYTES);
        detail
    }
}

/// The object an operator finds under `quarantine/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedMessage {
    pub reason: String,
    pub detail: String,
    pub message_id: String,
    pub receive_count: u32,
    pub quarantined_at: String,
    /// The original message body, byte for byte: what to replay.
    pub body: String,
}

/// Reason codes are fanin's own constants; this guards the key anyway.
fn safe_reason(reason: &str) -> String {
    reason
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

pub fn object(
    message: &InboundMessage,
    reason: &QuarantineReason,
    now: DateTime<Utc>,
) -> (String, Vec<u8>) {
    let reason_code = safe_reason(&reason.code());
    let detail = reason.detail();
    let digest = hex::encode(Sha256::digest(message.body.as_bytes()));
    let key = format!(
        "quarantine/reason={reason_code}/eventDay={}/{digest}.json",
        now.format("%Y%m%d")
    );
    let record = QuarantinedMessage {
        reason: reason_code,
        detail,
        message_id: message.message_id.clone(),
        receive_count: message.receive_count,
        quarantined_at: crate::timestamps::rfc3339(&now),
        body: message.body.clone(),
    };
    let body = serde_json::to_vec_pretty(&record).expect("a struct of strings serializes");
    (key, body)
}

/// The pipeline-health document of a quarantined message, indexed in
/// `<prefix>-quarantine` next to its object (which stays the record).
/// `account_id` and `region` are there only when the message decoded (they
/// were validated); `source` is then the finding's source, else `unknown`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthDocument<'a> {
    /// When it was quarantined, epoch milliseconds.
    pub time: i64,
    pub reason: &'a str,
    pub source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    /// The S3 key of the quarantine object.
    pub key: &'a str,
}

/// The health document of the object at `key`: its `_id` (the SHA-256 of
/// the key, so the same object gives the same document) and its JSON.
pub fn health_document(
    key: &str,
    reason_code: &str,
    quarantined_at: DateTime<Utc>,
    decoded: Option<(&'static str, &Origin)>,
) -> (String, String) {
    let document = HealthDocument {
        time: quarantined_at.timestamp_millis(),
        reason: reason_code,
        source: decoded.map_or("unknown", |(source, _)| source),
        account_id: decoded.map(|(_, origin)| origin.account.as_str()),
        region: decoded.map(|(_, origin)| origin.region.as_str()),
        key,
    };
    let id = hex::encode(Sha256::digest(key.as_bytes()));
    let json = serde_json::to_string(&document).expect("a struct of strings serializes");
    (id, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_partitioned_by_reason_and_day_and_body_survives() {
        let message = InboundMessage {
            message_id: "m-1".into(),
            body: "{not json".into(),
            receive_count: 2,
        };
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let reason = QuarantineReason::Decode(DecodeError::MalformedJson("expected value".into()));
        let (key, body) = object(&message, &reason, now);
        assert!(
            key.starts_with("quarantine/reason=malformed_json/eventDay=20261123/"),
            "{key}"
        );
        let stored: QuarantinedMessage = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (stored.body.as_str(), stored.receive_count),
            ("{not json", 2)
        );
        let evil = QuarantineReason::ClassicFailedItem {
            failure_code: "../../X".into(),
        };
        let (evil_key, _) = object(&message, &evil, now);
        assert!(
            evil_key.starts_with("quarantine/reason=classic_______x/"),
            "{evil_key}"
        );
    }

    #[test]
    fn the_health_document_names_its_object_and_only_validated_origins() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let key = "quarantine/reason=malformed_json/eventDay=20261123/ab.json";
        let (id, json) = health_document(key, "malformed_json", now, None);
        assert_eq!(id, hex::encode(Sha256::digest(key.as_bytes())));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::json!({"time": 1_795_428_000_000_i64, "reason": "malformed_json",
                "source": "unknown", "key": key})
        );
        let origin = Origin {
            account: crate::ids::AccountId::parse("111111111111").unwrap(),
            region: crate::ids::Region::parse("eu-west-1").unwrap(),
        };
        let (_, json) = health_document(
            key,
            "role_unavailable",
            now,
            Some(("inspector-classic", &origin)),
        );
        let document: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (
                &document["source"],
                &document["account_id"],
                &document["region"]
            ),
            (
                &serde_json::json!("inspector-classic"),
                &serde_json::json!("111111111111"),
                &serde_json::json!("eu-west-1")
            )
        );
    }

    #[test]
    fn details_are_capped_with_their_original_length() {
        let huge = "é".repeat(50_000);
        let reason = QuarantineReason::IndexRejected(huge.clone());
        let detail = reason.detail();
        assert!(detail.len() < DETAIL_MAX_BYTES + 40, "{}", detail.len());
        assert!(
            detail.ends_with(&format!(
                "…[truncated {} bytes]",
                huge.len() - DETAIL_MAX_BYTES
            )),
            "{}",
            &detail[detail.len() - 40..]
        );
        assert_eq!(
            QuarantineReason::IndexRejected("short".into()).detail(),
            "short"
        );
    }
}
