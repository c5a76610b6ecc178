//! Setting aside messages that can never be processed.
//!
//! A quarantined message is written whole, with its reason, to
//! `quarantine/reason=<code>/eventDay=<YYYYMMDD>/<sha256 of body>.json`, then
//! acknowledged. An operator lists a reason's prefix, fixes the cause and
//! sends the `body` back to the queue (docs/design.md, "Replaying a
//! quarantined message"). Same body, same reason, same day → same key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::InboundMessage;

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
    reason: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> (String, Vec<u8>) {
    let reason = safe_reason(reason);
    let digest = hex::encode(Sha256::digest(message.body.as_bytes()));
    let key = format!(
        "quarantine/reason={reason}/eventDay={}/{digest}.json",
        now.format("%Y%m%d")
    );
    let record = QuarantinedMessage {
        reason,
        detail: detail.to_owned(),
        message_id: message.message_id.clone(),
        receive_count: message.receive_count,
        quarantined_at: crate::timestamps::rfc3339(&now),
        body: message.body.clone(),
    };
    let body = serde_json::to_vec_pretty(&record).expect("a struct of strings serializes");
    (key, body)
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
        let (key, body) = object(&message, "malformed_json", "expected value", now);
        assert!(
            key.starts_with("quarantine/reason=malformed_json/eventDay=20261123/"),
            "{key}"
        );
        let stored: QuarantinedMessage = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (stored.body.as_str(), stored.receive_count),
            ("{not json", 2)
        );
        let (evil_key, _) = object(&message, "../../x", "", now);
        assert!(
            evil_key.starts_with("quarantine/reason=______x/"),
            "{evil_key}"
        );
    }
}
