//! Fates: what becomes of each message, kept typed until the batch is
//! settled into its [`BatchReport`] (the one place that turns them into
//! counts, reason codes and retry log lines).

use std::collections::HashMap;

use tracing::warn;

use super::BatchReport;
use crate::decode::InboundMessage;
use crate::normalize::Origin;
use crate::ports::CallError;
use crate::quarantine::QuarantineReason;

#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    Done,
    /// An event to acknowledge (a Classic lifecycle event).
    Acknowledged,
    /// A notification about an account outside the organization.
    Outsider,
    Quarantine(QuarantineReason),
    Retry(RetryCause),
}

/// Why a message goes back to the queue; kept typed until it is logged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RetryCause {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("bulk item: {0}")]
    BulkItem(String),
    #[error("bulk item refused: {0}")]
    LedgerRefused(String),
    #[error("another invocation is archiving this finding version")]
    ClaimedElsewhere,
    #[error("DescribeFindings failedItems: {0} (retryable: true)")]
    ClassicRetryable(String),
    #[error("DescribeFindings did not answer for the ARN")]
    ClassicNotAnswered,
}

/// Every message's fate so far, by message id. A later stage may overwrite
/// an earlier fate (a quarantine write that fails becomes a retry).
/// Also keeps what decoding validated about each finding message (its
/// source and origin), for the quarantine's health documents.
#[derive(Debug, Default)]
pub struct Fates {
    fates: HashMap<String, Fate>,
    origins: HashMap<String, (&'static str, Origin)>,
}

impl Fates {
    pub fn set(&mut self, message_id: &str, fate: Fate) {
        self.fates.insert(message_id.to_owned(), fate);
    }

    /// Records the source and the validated origin of a decoded message.
    pub fn note_origin(&mut self, message_id: &str, source: &'static str, origin: Origin) {
        self.origins.insert(message_id.to_owned(), (source, origin));
    }

    /// The source and origin of a message that decoded, `None` otherwise.
    pub fn origin(&self, message_id: &str) -> Option<(&'static str, &Origin)> {
        self.origins
            .get(message_id)
            .map(|(source, origin)| (*source, origin))
    }

    pub fn set_all<'a>(&mut self, message_ids: impl IntoIterator<Item = &'a String>, fate: Fate) {
        for id in message_ids {
            self.set(id, fate.clone());
        }
    }

    pub fn get(&self, message_id: &str) -> Option<&Fate> {
        self.fates.get(message_id)
    }

    pub fn extend(&mut self, fates: impl IntoIterator<Item = (String, Fate)>) {
        self.fates.extend(fates);
    }
}

/// Counts the fates into the report and lists the messages to retry (a
/// message without a fate is retried, and said so). Pure but for the logs.
pub fn settle(messages: &[InboundMessage], fates: &Fates, report: &mut BatchReport) {
    for message in messages {
        let message_id = &message.message_id;
        match fates.get(message_id) {
            Some(Fate::Done) => {}
            Some(Fate::Acknowledged) => report.lifecycle_acknowledged += 1,
            Some(Fate::Outsider) => report.outsiders += 1,
            Some(Fate::Quarantine(reason)) => {
                *report.quarantined.entry(reason.code()).or_default() += 1
            }
            Some(Fate::Retry(cause)) => {
                warn!(message_id = %message_id, reason = %cause, "message will be retried");
                report.failed_message_ids.push(message_id.clone());
            }
            None => {
                warn!(message_id = %message_id, "message without a fate; retrying it");
                report.failed_message_ids.push(message_id.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::DecodeError;

    fn message(id: &str) -> InboundMessage {
        InboundMessage {
            message_id: id.into(),
            body: "{}".into(),
            receive_count: 1,
        }
    }

    #[test]
    fn every_fate_is_counted_once_and_the_unsettled_are_retried() {
        let messages: Vec<_> = ["done", "ack", "out", "bad", "again", "lost"]
            .map(message)
            .into();
        let mut fates = Fates::default();
        fates.set("done", Fate::Done);
        fates.set("ack", Fate::Acknowledged);
        fates.set("out", Fate::Outsider);
        fates.set(
            "bad",
            Fate::Quarantine(QuarantineReason::Decode(DecodeError::MalformedJson(
                "x".into(),
            ))),
        );
        fates.set("again", Fate::Retry(RetryCause::ClaimedElsewhere));
        let mut report = BatchReport {
            received: messages.len(),
            ..Default::default()
        };
        settle(&messages, &fates, &mut report);
        assert_eq!(report.failed_message_ids, ["again", "lost"]);
        assert_eq!(report.lifecycle_acknowledged, 1);
        assert_eq!(report.outsiders, 1);
        assert_eq!(
            report.quarantined,
            [("malformed_json".to_owned(), 1)].into()
        );
    }
}
