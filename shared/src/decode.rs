//! Decoding of queue messages into notifications.
//!
//! A central-queue message is one of:
//! - an SNS envelope (`Type: Notification`, `Message` a JSON string) around an
//!   Inspector Classic notification, or the same notification delivered raw;
//! - an EventBridge event (`source`, `detail-type`, `detail`), raw or inside an
//!   SNS envelope: `aws.inspector2` / `Inspector2 Finding` carries a whole finding.
//!
//! Decoding is pure and total: every input ends as a [`Notification`] or a
//! [`DecodeError`], and every `DecodeError` is permanent (the same bytes fail
//! the same way), so the caller sets the message aside instead of retrying it.

use serde_json::Value;

use crate::ids::{AccountId, Arn, ClassicFindingArn, IdError, Region, truncate_for_message};
use crate::model::Inspector2Finding;

/// A message as it comes off the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub message_id: String,
    pub body: String,
    /// How many times SQS has delivered the message (1 on first delivery).
    pub receive_count: u32,
}

/// The Inspector Classic events other than FINDING_REPORTED: acknowledged and
/// counted, never errors.
pub const CLASSIC_LIFECYCLE_EVENTS: [&str; 4] = [
    "ASSESSMENT_RUN_STARTED",
    "ASSESSMENT_RUN_COMPLETED",
    "ASSESSMENT_RUN_STATE_CHANGED",
    "ENABLE_ASSESSMENT_NOTIFICATIONS",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// Inspector Classic reported a finding; its details must be fetched.
    ClassicFinding { finding_arn: ClassicFindingArn },
    /// An Inspector Classic run lifecycle event.
    ClassicLifecycle { event: String },
    /// An Amazon Inspector finding event, complete in itself.
    Inspector2Finding(Box<Inspector2Event>),
}

/// An Inspector2 finding with its validated origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspector2Event {
    pub arn: Arn,
    pub account: AccountId,
    pub region: Region,
    pub finding: Inspector2Finding,
}

/// Why a message cannot be processed, ever. `reason_code` names the
/// quarantine prefix an operator finds it under.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("message body is not JSON: {0}")]
    MalformedJson(String),
    #[error("SNS envelope Message is not JSON: {0}")]
    SnsMessageNotJson(String),
    #[error("unknown event: {0}")]
    UnknownEvent(String),
    #[error("invalid identifier: {0}")]
    InvalidIdentifier(#[from] IdError),
    #[error("finding does not match its schema: {0}")]
    InvalidFinding(String),
}

impl DecodeError {
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::SnsMessageNotJson(_) => "sns_message_not_json",
            Self::UnknownEvent(_) => "unknown_event",
            Self::InvalidIdentifier(_) => "invalid_identifier",
            Self::InvalidFinding(_) => "invalid_finding",
        }
    }
}

/// Decodes one queue message body.
pub fn decode(body: &str) -> Result<Notification, DecodeError> {
    let outer: Value =
        serde_json::from_str(body).map_err(|e| DecodeError::MalformedJson(e.to_string()))?;
    let inner = match sns_message(&outer) {
        Some(message) => serde_json::from_str(message)
            .map_err(|e| DecodeError::SnsMessageNotJson(e.to_string()))?,
        None => outer,
    };
    decode_notification(inner)
}

/// The `Message` of an SNS notification envelope, if `value` is one.
fn sns_message(value: &Value) -> Option<&str> {
    let is_envelope = value.get("Type").and_then(Value::as_str) == Some("Notification")
        && value.get("TopicArn").is_some();
    if is_envelope {
        value.get("Message").and_then(Value::as_str)
    } else {
        None
    }
}

fn decode_notification(value: Value) -> Result<Notification, DecodeError> {
    if !value.is_object() {
        return Err(DecodeError::UnknownEvent(format!(
            "expected a JSON object, got {}",
            truncate_for_message(&value.to_string())
        )));
    }
    if value.get("detail-type").is_some() || value.get("source").is_some() {
        return decode_eventbridge(value);
    }
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
            Ok(Notification::ClassicFinding {
                finding_arn: ClassicFindingArn::parse(raw_arn)?,
            })
        }
        other if CLASSIC_LIFECYCLE_EVENTS.contains(&other) => Ok(Notification::ClassicLifecycle {
            event: other.to_owned(),
        }),
        other => Err(DecodeError::UnknownEvent(format!(
            "Inspector Classic event {:?}",
            truncate_for_message(other)
        ))),
    }
}

fn decode_eventbridge(mut value: Value) -> Result<Notification, DecodeError> {
    let source = value
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let detail_type = value
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if (source, detail_type) != ("aws.inspector2", "Inspector2 Finding") {
        return Err(DecodeError::UnknownEvent(format!(
            "EventBridge source {:?} detail-type {:?}",
            truncate_for_message(source),
            truncate_for_message(detail_type)
        )));
    }
    let detail = value.get_mut("detail").map(Value::take).ok_or_else(|| {
        DecodeError::InvalidFinding("Inspector2 Finding event without `detail`".into())
    })?;
    let finding: Inspector2Finding =
        serde_json::from_value(detail).map_err(|e| DecodeError::InvalidFinding(e.to_string()))?;
    let arn = Arn::parse(&finding.finding_arn, "inspector2")?;
    let account = AccountId::parse(&finding.aws_account_id)?;
    if account != arn.account {
        return Err(DecodeError::InvalidFinding(format!(
            "awsAccountId {account} differs from the account of findingArn {}",
            arn.account
        )));
    }
    let region = arn.region.clone();
    Ok(Notification::Inspector2Finding(Box::new(Inspector2Event {
        arn,
        account,
        region,
        finding,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINDING: &str = "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333/finding/0-dddd4444";

    fn classic(event: &str, with_finding: bool) -> String {
        let mut message = serde_json::json!({
            "template": "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111/template/0-bbbb2222",
            "run": "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333",
            "time": "2019-04-09T00:00:01.401Z",
            "event": event,
            "target": "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111",
        });
        if with_finding {
            message["finding"] = FINDING.into();
        }
        message.to_string()
    }

    fn sns(message: &str) -> String {
        serde_json::json!({
            "Type": "Notification",
            "MessageId": "5b8b0d2c-0000-0000-0000-000000000000",
            "TopicArn": "arn:aws:sns:eu-west-1:999999999999:fanin-inspector",
            "Message": message,
        })
        .to_string()
    }

    #[test]
    fn classic_finding_through_sns_and_raw() {
        for body in [
            sns(&classic("FINDING_REPORTED", true)),
            classic("FINDING_REPORTED", true),
        ] {
            let Notification::ClassicFinding { finding_arn } = decode(&body).unwrap() else {
                panic!("not a classic finding")
            };
            assert_eq!(finding_arn.as_str(), FINDING);
        }
    }

    #[test]
    fn lifecycle_events_are_acknowledged() {
        for event in [
            "ASSESSMENT_RUN_STARTED",
            "ASSESSMENT_RUN_COMPLETED",
            "ASSESSMENT_RUN_STATE_CHANGED",
        ] {
            assert_eq!(
                decode(&sns(&classic(event, false))).unwrap(),
                Notification::ClassicLifecycle {
                    event: event.into()
                }
            );
        }
    }

    #[test]
    fn bad_inputs_have_distinct_permanent_reasons() {
        let cases = [
            ("{not json", "malformed_json"),
            (&*sns("this is not json"), "sns_message_not_json"),
            (&*sns(&classic("SOMETHING_ELSE", false)), "unknown_event"),
            (
                r#"{"source":"aws.guardduty","detail-type":"GuardDuty Finding","detail":{}}"#,
                "unknown_event",
            ),
            (r#"[1,2,3]"#, "unknown_event"),
            (&*classic("FINDING_REPORTED", false), "invalid_finding"),
        ];
        for (body, reason) in cases {
            assert_eq!(decode(body).unwrap_err().reason_code(), reason, "{body}");
        }
        let bad_account = classic("FINDING_REPORTED", true).replace("111111111111", "11111111111x");
        assert_eq!(
            decode(&bad_account).unwrap_err().reason_code(),
            "invalid_identifier"
        );
    }
}
