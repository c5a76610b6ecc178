//! Decoding of queue messages into notifications, and the checks that make
//! a message's claimed origin hold (its provenance).
//!
//! A central-queue message is one of:
//! - an SNS envelope (`Type: Notification`, `Message` a JSON string) around an
//!   Inspector Classic notification, or the same notification delivered raw
//!   (the collector fetches a Classic finding from its source account, so the
//!   notification only names what to fetch);
//! - an EventBridge event delivered raw by the central rule, routed by its
//!   `source` and `detail-type` to the source registered for them
//!   ([`crate::sources::EVENT_SOURCES`]; `aws.inspector2` / `Inspector2
//!   Finding` carries a whole finding).
//!
//! This module only opens envelopes and routes; each source decodes its own
//! messages (`crate::sources`) into a source-neutral [`Notification`].
//!
//! What is believed ([`Provenance`]): an SNS envelope only from the configured
//! topics; an Inspector2 finding only as a raw EventBridge event (never inside
//! SNS, whose topics any Classic template may publish to), whose `account` is
//! the finding's `awsAccountId` or an allow-listed Inspector2 delegated
//! administrator; every ARN and region in the collector's partition.
//!
//! Decoding is pure and total: every input ends as a [`Notification`] or a
//! [`DecodeError`], and every `DecodeError` is permanent (the same bytes fail
//! the same way), so the caller sets the message aside instead of retrying it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::ids::{AccountId, Arn, ClassicFindingArn, IdError, Partition, truncate_for_message};
use crate::normalize::{Origin, SourceFinding};
use crate::sources;

/// A message as it comes off the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub message_id: String,
    pub body: String,
    /// How many times SQS has delivered the message (1 on first delivery).
    pub receive_count: u32,
}

/// What a message asks of the collector, whatever its source.
#[derive(Debug)]
pub enum Notification {
    /// A finding complete in itself (Inspector2), about `origin`.
    Finding {
        origin: Origin,
        finding: Box<dyn SourceFinding>,
    },
    /// A finding named by reference: its details are fetched from its own
    /// account before it is normalized (Inspector Classic).
    Reference { origin: Origin, fetch: Fetch },
    /// An event to acknowledge and count, nothing to store (an Inspector
    /// Classic run lifecycle event).
    Acknowledge { event: String },
}

/// A look-up a source needs before its finding exists: the resolve stage
/// makes it (`crate::pipeline::resolve`).
#[derive(Debug, Clone, PartialEq)]
pub enum Fetch {
    /// Inspector Classic `DescribeFindings` for this ARN, in the ARN's
    /// account and region.
    ClassicDetails(ClassicFindingArn),
}

/// Who the collector believes (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// The collector's partition: every ARN and region must belong to it.
    pub partition: Partition,
    /// The SNS topics allowed to deliver Inspector Classic notifications.
    pub topics: AcceptedTopics,
    /// Inspector2 delegated administrator accounts: Inspector publishes a
    /// member's finding in the administrator account too, with the
    /// administrator as the event's `account`.
    pub inspector2_admin_accounts: BTreeSet<AccountId>,
    /// GuardDuty delegated administrator accounts: with GuardDuty managed by
    /// the organization, every member's findings are published in the
    /// administrator account, with the administrator as `account`.
    pub guardduty_admin_accounts: BTreeSet<AccountId>,
}

impl Provenance {
    /// The central account, when the accepted topics name it: the only
    /// account whose fanin-made records (guard, exposure, privileges) are
    /// believed.
    pub fn central_account(&self) -> Option<&AccountId> {
        match &self.topics {
            AcceptedTopics::Named { account, .. } => Some(account),
            AcceptedTopics::Listed(_) => None,
        }
    }
}

/// The SNS topics whose envelopes the collector opens.
#[derive(Debug, Clone, PartialEq)]
pub enum AcceptedTopics {
    /// `arn:<partition>:sns:<any region of the partition>:<account>:<name>`:
    /// the regional topics `central-regional.yaml` creates (the queue policy
    /// allows the same pattern).
    Named { account: AccountId, name: String },
    /// Exactly these topic ARNs.
    Listed(BTreeSet<String>),
}

impl AcceptedTopics {
    fn accepts(&self, topic: &Arn) -> bool {
        match self {
            Self::Named { account, name } => topic.account == *account && topic.resource == *name,
            Self::Listed(arns) => arns.contains(topic.as_str()),
        }
    }
}

/// Why a message cannot be processed, ever. `reason_code` names the
/// quarantine prefix an operator finds it under.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("message body is not JSON: {0}")]
    MalformedJson(String),
    #[error("SNS envelope Message is not JSON: {0}")]
    SnsMessageNotJson(String),
    #[error("SNS envelope from a topic the collector does not accept: {0}")]
    UntrustedTopic(String),
    #[error("{detail_type} inside an SNS envelope (accepted only from the EventBridge rule)")]
    EventInSns {
        detail_type: &'static str,
        /// The registered source's reason code (`inspector2_in_sns`).
        reason: &'static str,
    },
    #[error(
        "EventBridge account {event_account} is neither the finding's account {finding_account} nor an Inspector2 administrator"
    )]
    EventAccountMismatch {
        event_account: AccountId,
        finding_account: AccountId,
    },
    #[error("{0}")]
    ForeignPartition(String),
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
            Self::UntrustedTopic(_) => "untrusted_topic",
            Self::EventInSns { reason, .. } => reason,
            Self::EventAccountMismatch { .. } => "event_account_mismatch",
            Self::ForeignPartition(_) => "foreign_partition",
            Self::UnknownEvent(_) => "unknown_event",
            Self::InvalidIdentifier(IdError::ForeignRegion { .. }) => "foreign_partition",
            Self::InvalidIdentifier(_) => "invalid_identifier",
            Self::InvalidFinding(_) => "invalid_finding",
        }
    }
}

/// Decodes one queue message body and checks its provenance.
pub fn decode(body: &str, provenance: &Provenance) -> Result<Notification, DecodeError> {
    let outer: Value = serde_json::from_str(body)
        .map_err(|e| DecodeError::MalformedJson(truncate_for_message(&e.to_string())))?;
    let Some(envelope) = sns_envelope(&outer) else {
        return decode_notification(outer, provenance);
    };
    let topic = envelope
        .topic_arn
        .ok_or_else(|| DecodeError::UntrustedTopic("TopicArn is not a string".into()))?;
    let topic = Arn::parse(topic, "sns")
        .map_err(|e| DecodeError::UntrustedTopic(truncate_for_message(&e.to_string())))?;
    check_partition(provenance, &topic)?;
    if !provenance.topics.accepts(&topic) {
        return Err(DecodeError::UntrustedTopic(truncate_for_message(
            topic.as_str(),
        )));
    }
    let message = envelope
        .message
        .ok_or_else(|| DecodeError::SnsMessageNotJson("Message is not a string".into()))?;
    let inner: Value = serde_json::from_str(message)
        .map_err(|e| DecodeError::SnsMessageNotJson(truncate_for_message(&e.to_string())))?;
    if is_eventbridge(&inner) {
        let (source, detail_type) = eventbridge_kind(&inner);
        return Err(match sources::event_source(source, detail_type) {
            Some(registered) => DecodeError::EventInSns {
                detail_type: registered.detail_type,
                reason: registered.in_sns_reason,
            },
            None => unknown_eventbridge(source, detail_type),
        });
    }
    decode_notification(inner, provenance)
}

/// The parts of an SNS notification envelope.
struct SnsEnvelope<'a> {
    topic_arn: Option<&'a str>,
    message: Option<&'a str>,
}

/// The envelope, if `value` is an SNS notification (`Type: Notification`
/// with a `TopicArn`).
fn sns_envelope(value: &Value) -> Option<SnsEnvelope<'_>> {
    let is_envelope = value.get("Type").and_then(Value::as_str) == Some("Notification")
        && value.get("TopicArn").is_some();
    is_envelope.then(|| SnsEnvelope {
        topic_arn: value.get("TopicArn").and_then(Value::as_str),
        message: value.get("Message").and_then(Value::as_str),
    })
}

fn is_eventbridge(value: &Value) -> bool {
    value.get("detail-type").is_some() || value.get("source").is_some()
}

fn eventbridge_kind(value: &Value) -> (&str, &str) {
    let text = |key| value.get(key).and_then(Value::as_str).unwrap_or_default();
    (text("source"), text("detail-type"))
}

pub(crate) fn unknown_eventbridge(source: &str, detail_type: &str) -> DecodeError {
    DecodeError::UnknownEvent(format!(
        "EventBridge source {:?} detail-type {:?}",
        truncate_for_message(source),
        truncate_for_message(detail_type)
    ))
}

/// The ARN must be in the collector's partition, and so must its region.
pub(crate) fn check_partition(provenance: &Provenance, arn: &Arn) -> Result<(), DecodeError> {
    if arn.partition != provenance.partition {
        return Err(DecodeError::ForeignPartition(format!(
            "{} ARN is from partition {}, the collector serves {}",
            arn.service, arn.partition, provenance.partition
        )));
    }
    provenance.partition.check_region(&arn.region)?;
    Ok(())
}

fn decode_notification(value: Value, provenance: &Provenance) -> Result<Notification, DecodeError> {
    if !value.is_object() {
        return Err(DecodeError::UnknownEvent(format!(
            "expected a JSON object, got {}",
            truncate_for_message(&value.to_string())
        )));
    }
    if is_eventbridge(&value) {
        let (source, detail_type) = eventbridge_kind(&value);
        return match sources::event_source(source, detail_type) {
            Some(registered) => (registered.decode)(value, provenance),
            None => Err(unknown_eventbridge(source, detail_type)),
        };
    }
    sources::classic::decode_notification(&value, provenance)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINDING: &str = "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333/finding/0-dddd4444";
    const TOPIC: &str = "arn:aws:sns:eu-west-1:999999999999:fanin-inspector";

    fn provenance() -> Provenance {
        Provenance {
            partition: Partition::parse("aws").unwrap(),
            topics: AcceptedTopics::Named {
                account: AccountId::parse("999999999999").unwrap(),
                name: "fanin-inspector".into(),
            },
            inspector2_admin_accounts: [AccountId::parse("222222222222").unwrap()].into(),
            guardduty_admin_accounts: Default::default(),
        }
    }

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

    fn sns_from(topic: &str, message: &str) -> String {
        serde_json::json!({
            "Type": "Notification",
            "MessageId": "5b8b0d2c-0000-0000-0000-000000000000",
            "TopicArn": topic,
            "Message": message,
        })
        .to_string()
    }

    fn sns(message: &str) -> String {
        sns_from(TOPIC, message)
    }

    /// An Inspector2 event whose `account` is `event_account`, about a
    /// finding of `finding_account`.
    fn inspector2(event_account: &str, finding_account: &str, region: &str) -> String {
        serde_json::json!({
            "version": "0",
            "source": "aws.inspector2",
            "detail-type": "Inspector2 Finding",
            "account": event_account,
            "region": region,
            "detail": {
                "findingArn": format!("arn:aws:inspector2:{region}:{finding_account}:finding/abc"),
                "awsAccountId": finding_account,
                "updatedAt": "2026-01-01T00:00:00Z",
            },
        })
        .to_string()
    }

    fn reason(body: &str) -> &'static str {
        decode(body, &provenance()).unwrap_err().reason_code()
    }

    #[test]
    fn classic_finding_through_sns_and_raw() {
        for body in [
            sns(&classic("FINDING_REPORTED", true)),
            classic("FINDING_REPORTED", true),
        ] {
            let Notification::Reference {
                fetch: Fetch::ClassicDetails(finding_arn),
                origin,
            } = decode(&body, &provenance()).unwrap()
            else {
                panic!("not a classic finding")
            };
            assert_eq!(origin.account.as_str(), "111111111111");
            assert_eq!(finding_arn.as_str(), FINDING);
        }
    }

    #[test]
    fn the_topic_may_be_in_any_region_of_the_partition() {
        let other_region = TOPIC.replace("eu-west-1", "ap-southeast-2");
        let body = sns_from(&other_region, &classic("FINDING_REPORTED", true));
        assert!(decode(&body, &provenance()).is_ok());
        let listed = Provenance {
            topics: AcceptedTopics::Listed([TOPIC.to_owned()].into()),
            ..provenance()
        };
        assert!(decode(&sns(&classic("FINDING_REPORTED", true)), &listed).is_ok());
        assert_eq!(
            decode(&body, &listed).unwrap_err().reason_code(),
            "untrusted_topic"
        );
    }

    #[test]
    fn lifecycle_events_are_acknowledged() {
        for event in [
            "ASSESSMENT_RUN_STARTED",
            "ASSESSMENT_RUN_COMPLETED",
            "ASSESSMENT_RUN_STATE_CHANGED",
        ] {
            let decoded = decode(&sns(&classic(event, false)), &provenance()).unwrap();
            assert!(
                matches!(&decoded, Notification::Acknowledge { event: e } if e == event),
                "{decoded:?}"
            );
        }
    }

    #[test]
    fn inspector2_from_its_own_account_or_an_administrator() {
        for event_account in ["111111111111", "222222222222"] {
            let body = inspector2(event_account, "111111111111", "us-east-1");
            let Notification::Finding { origin, finding } = decode(&body, &provenance()).unwrap()
            else {
                panic!("not an Inspector2 finding")
            };
            assert_eq!(origin.account.as_str(), "111111111111");
            assert_eq!(origin.region.as_str(), "us-east-1");
            assert_eq!(finding.source_name(), "inspector2");
        }
    }

    #[test]
    fn on_demand_ami_scan_findings_are_inspector2_findings() {
        // The published example's detail, delivered with the `account` every
        // EventBridge event carries.
        let published: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/published/inspector2-ami-ondemand-finding.json"
        ))
        .unwrap();
        let mut event = published.clone();
        event["account"] = "111122223333".into();
        event["region"] = "us-east-1".into();
        let Notification::Finding { origin, finding } =
            decode(&event.to_string(), &provenance()).unwrap()
        else {
            panic!("not a complete finding")
        };
        assert_eq!(origin.account.as_str(), "111122223333");
        assert_eq!(finding.source_name(), "inspector2");
        assert!(
            matches!(
                finding.enrichment_target(),
                crate::normalize::EnrichmentTarget::NotApplicable(kind) if kind == "MACHINE_IMAGE"
            ),
            "a machine image has no instance to describe"
        );
        assert_eq!(reason(&sns(&event.to_string())), "inspector2_in_sns");
    }

    #[test]
    fn forged_origins_have_their_own_reasons() {
        let genuine_event = inspector2("111111111111", "111111111111", "us-east-1");
        let cases = [
            (
                inspector2("333333333333", "111111111111", "us-east-1"),
                "event_account_mismatch",
            ),
            (sns(&genuine_event), "inspector2_in_sns"),
            (
                sns_from(
                    "arn:aws:sns:eu-west-1:666666666666:fanin-inspector",
                    &classic("FINDING_REPORTED", true),
                ),
                "untrusted_topic",
            ),
            (
                sns_from(
                    "arn:aws:sns:eu-west-1:999999999999:other-topic",
                    &classic("FINDING_REPORTED", true),
                ),
                "untrusted_topic",
            ),
            (
                sns_from("not an arn", &classic("FINDING_REPORTED", true)),
                "untrusted_topic",
            ),
            (
                sns_from(
                    "arn:aws:sns:cn-north-1:999999999999:fanin-inspector",
                    &classic("FINDING_REPORTED", true),
                ),
                "foreign_partition",
            ),
            (
                inspector2("111111111111", "111111111111", "cn-north-1"),
                "foreign_partition",
            ),
            (
                classic("FINDING_REPORTED", true).replace("eu-west-1", "cn-north-1"),
                "foreign_partition",
            ),
            (
                classic("FINDING_REPORTED", true).replace("arn:aws:", "arn:aws-cn:"),
                "foreign_partition",
            ),
            (
                genuine_event.replace(r#""account":"111111111111","#, ""),
                "invalid_finding",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(reason(&body), expected, "{body}");
        }
        let mismatch = decode(
            &inspector2("333333333333", "111111111111", "us-east-1"),
            &provenance(),
        )
        .unwrap_err();
        assert_eq!(
            mismatch.to_string(),
            "EventBridge account 333333333333 is neither the finding's account 111111111111 nor an Inspector2 administrator"
        );
    }

    #[test]
    fn bad_inputs_have_distinct_permanent_reasons() {
        let cases = [
            ("{not json", "malformed_json"),
            (&*sns("this is not json"), "sns_message_not_json"),
            (&*sns(&classic("SOMETHING_ELSE", false)), "unknown_event"),
            (
                r#"{"source":"aws.guardduty","detail-type":"GuardDuty Finding","detail":{}}"#,
                "invalid_finding",
            ),
            (
                &*sns(r#"{"source":"aws.guardduty","detail-type":"GuardDuty Finding"}"#),
                "guardduty_in_sns",
            ),
            (
                r#"{"source":"aws.securityhub","detail-type":"Security Hub Findings - Imported","detail":{}}"#,
                "unknown_event",
            ),
            (r#"[1,2,3]"#, "unknown_event"),
            (&*classic("FINDING_REPORTED", false), "invalid_finding"),
        ];
        for (body, expected) in cases {
            assert_eq!(reason(body), expected, "{body}");
        }
        let bad_account = classic("FINDING_REPORTED", true).replace("111111111111", "11111111111x");
        assert_eq!(reason(&bad_account), "invalid_identifier");
    }

    #[test]
    fn schema_errors_are_cut_for_the_quarantine_detail() {
        let huge = "x".repeat(100_000);
        let body = inspector2("111111111111", "111111111111", "us-east-1").replace(
            r#""updatedAt":"2026-01-01T00:00:00Z""#,
            &format!(r#""updatedAt":"{huge}""#),
        );
        let error = decode(&body, &provenance()).unwrap_err();
        assert_eq!(error.reason_code(), "invalid_finding");
        assert!(error.to_string().len() < 400, "{}", error.to_string().len());
    }
}
