//! Finding sources: each is a module that decodes its own messages, declares
//! what it needs looked up, and maps its findings to OCSF.
//!
//! A source provides:
//! - a decoder, from a queue message (an EventBridge event routed here by its
//!   `source` and `detail-type`, see [`EVENT_SOURCES`]) to a
//!   [`Notification`]: a complete finding with its
//!   [`Origin`](crate::normalize::Origin), a reference
//!   to fetch ([`crate::decode::Fetch`]), or an event to acknowledge;
//! - its finding type, implementing
//!   [`SourceFinding`](crate::normalize::SourceFinding): its class, ids,
//!   version, the EC2 instance whose network context it needs
//!   ([`crate::normalize::EnrichmentTarget`], looked up in the origin's
//!   account and region) and its OCSF document.
//!
//! Nothing downstream knows the source: the store, the ledger, the archive
//! and the quarantine take a [`crate::normalize::FindingRecord`].
//!
//! Adding a source: a module here (or its own, e.g. `crate::guardduty`), its
//! fixtures under `tests/fixtures/`, and one line in [`EVENT_SOURCES`]
//! (`docs/design.md`, "How to add a source").

pub mod classic;
pub mod exposure;
pub mod guard;
pub mod guardduty;
pub mod inspector2;
pub mod privileges;

use serde_json::Value;

use crate::decode::{DecodeError, Notification, Provenance};
use crate::ids::{AccountId, truncate_for_message};

/// An EventBridge event kind a source decodes.
pub struct EventSource {
    /// The event's `source`, e.g. `aws.inspector2`.
    pub source: &'static str,
    /// The event's `detail-type`, e.g. `Inspector2 Finding`.
    pub detail_type: &'static str,
    /// The quarantine reason of such an event found inside an SNS envelope:
    /// the central rule is the only way in for a finding that carries its
    /// own contents.
    pub in_sns_reason: &'static str,
    /// Decodes the whole event and checks its provenance. Pure and total:
    /// every error is permanent.
    pub decode: fn(Value, &Provenance) -> Result<Notification, DecodeError>,
}

/// The registered EventBridge sources: one line per source.
pub static EVENT_SOURCES: &[EventSource] = &[
    inspector2::FINDING_EVENTS,
    inspector2::ONDEMAND_AMI_EVENTS,
    guardduty::FINDING_EVENTS,
    guard::DECISION_EVENTS,
    guard::COMPLIANCE_EVENTS,
    exposure::USAGE_EVENTS,
    privileges::PRIVILEGE_EVENTS,
];

/// The registered source for an event's `source` and `detail-type`.
pub fn event_source(source: &str, detail_type: &str) -> Option<&'static EventSource> {
    EVENT_SOURCES
        .iter()
        .find(|registered| registered.source == source && registered.detail_type == detail_type)
}

/// An event of one of fanin's own record sources (the guard, the
/// exposure and the least-privilege evaluations): the record carried whole
/// in `detail`, its envelope checked.
pub(crate) struct RecordEvent<T> {
    /// The event's `account`: the account whose principal put it.
    pub account: AccountId,
    /// Its `detail-type`, one of those asked.
    pub detail_type: String,
    pub record: T,
}

/// Reads a record event: `source` and `detail-type` among those of the
/// source (else `UnknownEvent`), `account` an account id, `detail` an
/// object that deserializes into the record. `what` names the source in
/// the errors.
pub(crate) fn record_event<T: serde::de::DeserializeOwned>(
    mut value: Value,
    source: &str,
    detail_types: &[&str],
    what: &str,
) -> Result<RecordEvent<T>, DecodeError> {
    let invalid = |why: String| DecodeError::InvalidFinding(why);
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let event_source = text(&value, "source").unwrap_or_default();
    let detail_type = text(&value, "detail-type").unwrap_or_default();
    if event_source != source || !detail_types.contains(&detail_type.as_str()) {
        return Err(DecodeError::UnknownEvent(format!(
            "EventBridge source {:?} detail-type {:?}",
            truncate_for_message(&event_source),
            truncate_for_message(&detail_type)
        )));
    }
    let account = text(&value, "account")
        .ok_or_else(|| invalid(format!("{what} event without `account`")))
        .and_then(|raw| Ok(AccountId::parse(&raw)?))?;
    let detail = value
        .get_mut("detail")
        .map(Value::take)
        .filter(Value::is_object)
        .ok_or_else(|| invalid(format!("{what} event without a `detail` object")))?;
    let record: T = serde_json::from_value(detail)
        .map_err(|e| invalid(truncate_for_message(&e.to_string())))?;
    Ok(RecordEvent {
        account,
        detail_type,
        record,
    })
}

/// The record's format is the one the collector reads.
pub(crate) fn check_record_version(found: u32, read: u32) -> Result<(), DecodeError> {
    if found == read {
        return Ok(());
    }
    Err(DecodeError::InvalidFinding(format!(
        "record_version {found} (the collector reads {read})"
    )))
}

/// SHA-256 of a source finding's serialization: the content hash of
/// [`crate::normalize::SourceFinding::content_hash`] for serde-modelled
/// findings.
pub fn content_hash_of(finding: &impl serde::Serialize) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(finding).expect("source findings serialize");
    Sha256::digest(bytes).into()
}

/// Test helper: pydantic-ocsf reads each document as its OCSF class.
#[cfg(test)]
pub(crate) fn validate_ocsf(class: &str, documents: &[Value]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".local/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup to install pydantic-ocsf",
        python.display()
    );
    let input: String = documents.iter().map(|d| format!("{d}\n")).collect();
    let mut child = std::process::Command::new(python)
        .arg(root.join("tests/validate_ocsf.py"))
        .arg(class)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer =
        std::thread::spawn(move || std::io::Write::write_all(&mut stdin, input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains(&format!("ocsf: {} valid, 0 invalid", documents.len())),
        "{report}"
    );
}

/// Test helpers shared by fanin's own record sources (the guard, the
/// exposure and the least-privilege evaluations): the collector's
/// provenance, a fixture record in its EventBridge envelope, and the OCSF
/// document the pipeline stores for it.
#[cfg(test)]
pub(crate) mod record_tests {
    use std::collections::BTreeMap;

    use chrono::DateTime;
    use serde_json::{Value, json};

    use crate::decode::{AcceptedTopics, DecodeError, Notification, Provenance};
    use crate::enrich::{EnrichmentOutcome, EnrichmentStatus, FaninContext};
    use crate::ids::{AccountId, Partition};
    use crate::normalize::{FindingRecord, Origin, SourceFinding};

    /// The central account of [`provenance`].
    pub const CENTRAL: &str = "999999999999";

    /// A collector of partition `aws` whose central account is [`CENTRAL`].
    pub fn provenance() -> Provenance {
        Provenance {
            partition: Partition::parse("aws").unwrap(),
            topics: AcceptedTopics::Named {
                account: AccountId::parse(CENTRAL).unwrap(),
                name: "fanin-inspector".into(),
            },
            inspector2_admin_accounts: Default::default(),
            guardduty_admin_accounts: Default::default(),
        }
    }

    /// `tests/fixtures/<folder>/<name>.json`.
    pub fn fixture(folder: &str, name: &str) -> Value {
        let path = format!(
            "{}/../tests/fixtures/{folder}/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// A record in the EventBridge envelope PutEvents delivers.
    pub fn envelope(
        source: &str,
        detail_type: &str,
        account: &str,
        region: &Value,
        record: &Value,
    ) -> Value {
        json!({
            "version": "0",
            "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": "2026-11-30T06:00:03Z",
            "region": region,
            "resources": [],
            "detail": record,
        })
    }

    /// The decoded finding of an event, panicking on anything but a finding.
    pub fn decode_with(
        decode: fn(Value, &Provenance) -> Result<Notification, DecodeError>,
        value: Value,
    ) -> Result<(Origin, Box<dyn SourceFinding>), DecodeError> {
        match decode(value, &provenance())? {
            Notification::Finding { origin, finding } => Ok((origin, finding)),
            other => panic!("not a finding: {other:?}"),
        }
    }

    /// The OCSF document the pipeline stores for a decoded finding (no EC2
    /// enrichment: these records carry their own context).
    pub fn document_of(origin: Origin, finding: Box<dyn SourceFinding>, now: &str) -> Value {
        let context = FaninContext {
            source: finding.source_name(),
            enrichment: EnrichmentOutcome {
                status: EnrichmentStatus::NotApplicable,
                reason: None,
            },
            instance: None,
            network: None,
            details: BTreeMap::new(),
        };
        let now = DateTime::parse_from_rfc3339(now).unwrap().to_utc();
        let record = FindingRecord::new(
            finding.as_ref(),
            origin,
            &Partition::parse("aws").unwrap(),
            context,
            now,
        )
        .unwrap();
        serde_json::from_str(&record.document).unwrap()
    }
}

/// Test helper: [`validate_ocsf`] of Compliance Findings. pydantic-ocsf
/// 3.0 gives Compliance Finding's `status_id` the enumeration of
/// `compliance.status_id` (the name clash `tests/validate_ocsf.py`
/// describes), refusing 4 Resolved, which OCSF 1.7.0 defines for every
/// finding class: a resolved document is read with `status_id` 1 New,
/// everything else as it is.
#[cfg(test)]
pub(crate) fn validate_compliance_findings(documents: &[Value]) {
    let documents: Vec<Value> = documents
        .iter()
        .cloned()
        .map(|mut doc| {
            if doc["status_id"] == 4 {
                doc["status_id"] = serde_json::json!(1);
                doc["status"] = serde_json::json!("New");
            }
            doc
        })
        .collect();
    validate_ocsf("compliance_finding", &documents);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_kind_has_one_source_and_its_own_sns_reason() {
        for (i, registered) in EVENT_SOURCES.iter().enumerate() {
            let found = event_source(registered.source, registered.detail_type).unwrap();
            assert!(
                std::ptr::eq(found, &EVENT_SOURCES[i]),
                "{} registered twice",
                registered.source
            );
            assert!(registered.in_sns_reason.ends_with("_in_sns"));
        }
        assert!(event_source("aws.inspector2", "Inspector2 Finding").is_some());
        assert!(event_source("aws.inspector2", "Inspector2 Coverage").is_none());
    }
}
