//! Planning the store (pure): which versions the ledger says to store, the
//! bulk operations for the index and the ledger, and the archive objects
//! with their keys. The send stage (`send.rs`) carries the plans out, in
//! the order of the module documentation of [`crate::pipeline`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::normalize::Carried;
use crate::archive;
use crate::ledger::{self, LedgerDocument, Standing};
use crate::normalize::{FindingClass, Origin};
use crate::ports::StoredDocument;
use crate::search::bulk::{BulkOp, ItemOutcome};

/// A finding version on its way to storage, and how its ledger claim is made.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    pub carried: &'a Carried,
    /// `Some` when a stale claim is taken over: the `(seq_no, primary_term)`
    /// it was read with.
    pub takeover: Option<(i64, i64)>,
}

/// The batch's versions sorted by what the ledger knows of them.
#[derive(Debug, Default)]
pub struct Triage<'a> {
    /// Not in the ledger: to store.
    pub pending: Vec<Pending<'a>>,
    /// Archived already (a redelivery): done.
    pub archived: Vec<&'a Carried>,
    /// Another invocation holds a live claim: retried later.
    pub claimed_elsewhere: Vec<&'a Carried>,
    /// Claims past their expiry, by the archive key they named: the object
    /// decides (there: only the mark was lost; missing: taken over).
    pub stale: BTreeMap<String, Vec<(&'a Carried, i64, i64)>>,
}

/// Sorts the records by their ledger entries (keyed by version id) at `now`.
pub fn triage<'a>(
    records: &'a [Carried],
    entries: &HashMap<String, StoredDocument>,
    now: DateTime<Utc>,
) -> Triage<'a> {
    let mut triage = Triage::default();
    for carried in records {
        match ledger::standing(entries.get(&carried.record.version_uid), now) {
            Standing::Unclaimed => triage.pending.push(Pending {
                carried,
                takeover: None,
            }),
            Standing::Archived => triage.archived.push(carried),
            Standing::ClaimedElsewhere => triage.claimed_elsewhere.push(carried),
            Standing::Stale {
                archive_key,
                seq_no,
                primary_term,
            } => triage
                .stale
                .entry(archive_key)
                .or_default()
                .push((carried, seq_no, primary_term)),
        }
    }
    triage
}

/// Two writes per pending version, in one list so they ride in the same
/// `_bulk` requests: at `2 * i` the latest-state write into its class's
/// index (`index_of`, `_id` the document id, external versioning), at
/// `2 * i + 1` the history write into its class's history alias
/// (`history_of`, `_id` the version id, `create`). History has every
/// version, an older update included: its latest write answers 409, its
/// history write creates.
pub fn index_ops(
    pending: &[Pending],
    index_of: impl Fn(FindingClass) -> String,
    history_of: impl Fn(FindingClass) -> String,
) -> Vec<BulkOp> {
    pending
        .iter()
        .flat_map(|p| {
            let record = &p.carried.record;
            [
                BulkOp::IndexLatest {
                    index: index_of(record.class),
                    id: record.document_id.clone(),
                    version: record.version,
                    document: record.document.clone(),
                },
                BulkOp::CreateOnce {
                    index: history_of(record.class),
                    id: record.version_uid.clone(),
                    document: record.document.clone(),
                },
            ]
        })
        .collect()
}

/// The outcome of each version from the outcomes of its two writes (in
/// the order of [`index_ops`]). A version is indexed only when both are:
/// latest written or already newer (409), history written or already
/// there (409). A permanent refusal of either quarantines it (the same
/// document, the same mapping: it will not pass later); otherwise a write
/// to retry retries it, and the write already done answers 409 next time.
pub fn version_outcomes(outcomes: &[ItemOutcome]) -> Vec<ItemOutcome> {
    outcomes
        .chunks(2)
        .map(|pair| {
            let permanent = pair.iter().find(|o| matches!(o, ItemOutcome::Permanent(_)));
            let retry = pair.iter().find(|o| matches!(o, ItemOutcome::Retry(_)));
            match (permanent, retry, pair.len()) {
                (Some(outcome), _, _) | (None, Some(outcome), _) => outcome.clone(),
                (None, None, 2) => ItemOutcome::Done,
                // An odd list is not index_ops': nothing in it is known.
                (None, None, _) => ItemOutcome::Retry("history write missing".into()),
            }
        })
        .collect()
}

/// One planned archive object and the positions (into the pending list) of
/// the versions it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedObject {
    pub key: String,
    pub body: Vec<u8>,
    pub positions: Vec<usize>,
}

/// Groups the indexed versions (positions into `pending`) into one archive
/// object per (class, account, region, day).
pub fn archive_objects(pending: &[Pending], indexed: &[usize]) -> Vec<PlannedObject> {
    let mut partitions: BTreeMap<(FindingClass, &Origin, NaiveDate), Vec<usize>> = BTreeMap::new();
    for &position in indexed {
        let record = &pending[position].carried.record;
        partitions
            .entry((record.class, &record.origin, record.event_day))
            .or_default()
            .push(position);
    }
    partitions
        .into_iter()
        .map(|((class, origin, day), positions)| {
            let lines: Vec<archive::ArchiveLine> = positions
                .iter()
                .map(|&p| {
                    let record = &pending[p].carried.record;
                    archive::ArchiveLine {
                        version_uid: &record.version_uid,
                        document: &record.document,
                    }
                })
                .collect();
            let object = archive::encode(class, &origin.account, &origin.region, day, &lines);
            PlannedObject {
                key: object.key,
                body: object.body,
                positions,
            }
        })
        .collect()
}

/// The ledger claim of every version of every object, naming its object,
/// valid until `expires`: a `create` (one invocation wins), or for a stale
/// claim a replace conditional on the entry read. Returns the operations and
/// the position of the version each claims.
pub fn claims(
    objects: &[PlannedObject],
    pending: &[Pending],
    ledger_index: &str,
    expires: DateTime<Utc>,
) -> (Vec<BulkOp>, Vec<usize>) {
    let mut ops = Vec::new();
    let mut positions = Vec::new();
    for object in objects {
        for &position in &object.positions {
            let record = &pending[position].carried.record;
            let document: Arc<str> =
                LedgerDocument::claim(&record.finding_uid, record.version, &object.key, expires)
                    .to_json()
                    .into();
            let index = ledger_index.to_owned();
            let id = record.version_uid.clone();
            ops.push(match pending[position].takeover {
                None => BulkOp::CreateOnce {
                    index,
                    id,
                    document,
                },
                Some((seq_no, primary_term)) => BulkOp::ReplaceIfUnchanged {
                    index,
                    id,
                    seq_no,
                    primary_term,
                    document,
                },
            });
            positions.push(position);
        }
    }
    (ops, positions)
}

/// Splits the objects into those whose every version this invocation
/// claimed (to write) and the others: an object with a version claimed
/// elsewhere would be named for content it does not hold.
pub fn split_by_claims(
    objects: Vec<PlannedObject>,
    won: &HashSet<usize>,
) -> (Vec<PlannedObject>, Vec<PlannedObject>) {
    objects
        .into_iter()
        .partition(|o| o.positions.iter().all(|p| won.contains(p)))
}

/// The ledger entry of a version whose object is written.
pub fn archived_mark(ledger_index: &str, carried: &Carried, key: &str) -> BulkOp {
    let record = &carried.record;
    BulkOp::Put {
        index: ledger_index.to_owned(),
        id: record.version_uid.clone(),
        document: LedgerDocument::archived(&record.finding_uid, record.version, key)
            .to_json()
            .into(),
    }
}

/// Gives a claim up: its object was not written.
pub fn release(ledger_index: &str, carried: &Carried) -> BulkOp {
    BulkOp::Delete {
        index: ledger_index.to_owned(),
        id: carried.record.version_uid.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use chrono::TimeZone;
    use serde_json::Value;

    use super::*;
    use crate::decode::{AcceptedTopics, Notification, Provenance};
    use crate::enrich::{EnrichmentOutcome, EnrichmentStatus, FaninContext, ReportedNetwork};
    use crate::ids::{AccountId, Partition};
    use crate::normalize::{EnrichmentTarget, FindingRecord, OcsfDocument, SourceFinding};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap()
    }

    fn partition() -> Partition {
        Partition::parse("aws").unwrap()
    }

    fn context(status: EnrichmentStatus) -> FaninContext {
        FaninContext {
            source: "test",
            enrichment: EnrichmentOutcome {
                status,
                reason: None,
            },
            instance: None,
            network: None,
            details: Default::default(),
        }
    }

    /// The ECR finding of the Inspector2 fixture, decoded and normalized.
    fn inspector2_record() -> Carried {
        inspector2_record_updated(None)
    }

    /// The same finding, updated at another time when `updated_at` is given.
    fn inspector2_record_updated(updated_at: Option<&str>) -> Carried {
        let mut event: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../tests/fixtures/inspector2-ecr-finding-event.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        if let Some(time) = updated_at {
            event["detail"]["updatedAt"] = time.into();
        }
        let body = event.to_string();
        let provenance = Provenance {
            partition: partition(),
            topics: AcceptedTopics::Listed(Default::default()),
            inspector2_admin_accounts: Default::default(),
            guardduty_admin_accounts: Default::default(),
        };
        let Notification::Finding { origin, finding } =
            crate::decode::decode(&body, &provenance).unwrap()
        else {
            panic!("the fixture is a complete finding")
        };
        let record = FindingRecord::new(
            finding.as_ref(),
            origin,
            &partition(),
            context(EnrichmentStatus::NotApplicable),
            now(),
        )
        .unwrap();
        Carried {
            record,
            message_ids: vec!["m-inspector2".into()],
        }
    }

    /// A source of another class, as a new source would plug in: the
    /// store takes its records like any other.
    #[derive(Debug)]
    struct Detection;

    impl SourceFinding for Detection {
        fn source_name(&self) -> &'static str {
            "test-detections"
        }
        fn class(&self) -> FindingClass {
            FindingClass::DetectionFinding
        }
        fn uid(&self) -> &str {
            "arn:aws:guardduty:us-east-1:111111111111:detector/d1/finding/f1"
        }
        fn updated_at(&self) -> DateTime<Utc> {
            Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap()
        }
        fn content_hash(&self) -> [u8; 32] {
            [7; 32]
        }
        fn enrichment_target(&self) -> EnrichmentTarget {
            EnrichmentTarget::NoInstance
        }
        fn reported_network(&self) -> ReportedNetwork {
            ReportedNetwork::default()
        }
        fn to_ocsf(
            &self,
            _: &Origin,
            _: &Partition,
            _: FaninContext,
            uid: String,
            _: &DateTime<Utc>,
        ) -> OcsfDocument {
            OcsfDocument {
                json: format!(r#"{{"class_uid":2004,"metadata":{{"uid":"{uid}"}}}}"#).into(),
                unparsed: Vec::new(),
                truncated: Vec::new(),
            }
        }
    }

    fn detection_record() -> Carried {
        let origin = Origin {
            account: AccountId::parse("111111111111").unwrap(),
            region: crate::ids::Region::parse("us-east-1").unwrap(),
        };
        let record = FindingRecord::new(
            &Detection,
            origin,
            &partition(),
            context(EnrichmentStatus::NoInstance),
            now(),
        )
        .unwrap();
        Carried {
            record,
            message_ids: vec!["m-detection".into()],
        }
    }

    fn stored(document: &LedgerDocument, seq_no: i64) -> StoredDocument {
        StoredDocument {
            source: serde_json::from_str(&document.to_json()).unwrap(),
            seq_no,
            primary_term: 1,
        }
    }

    fn index_of(class: FindingClass) -> String {
        format!("fanin-{}", class.index_suffix())
    }

    fn history_of(class: FindingClass) -> String {
        format!("fanin-{}-history", class.index_suffix())
    }

    #[test]
    fn the_ledger_sorts_versions_into_store_done_wait_and_check() {
        let records: Vec<Carried> = vec![inspector2_record(), detection_record()];
        let (vulnerability, detection) = (&records[0].record, &records[1].record);
        let later = now() + chrono::Duration::minutes(1);
        let earlier = now() - chrono::Duration::minutes(1);
        let mut entries = HashMap::new();
        entries.insert(
            vulnerability.version_uid.clone(),
            stored(
                &LedgerDocument::claim(&vulnerability.finding_uid, 1, "findings/k1", later),
                5,
            ),
        );
        let none = triage(&records, &HashMap::new(), now());
        assert_eq!(none.pending.len(), 2);
        assert!(none.pending.iter().all(|p| p.takeover.is_none()));

        let live = triage(&records, &entries, now());
        assert_eq!(live.claimed_elsewhere.len(), 1);
        assert_eq!(live.pending.len(), 1);

        entries.insert(
            vulnerability.version_uid.clone(),
            stored(
                &LedgerDocument::claim(&vulnerability.finding_uid, 1, "findings/k1", earlier),
                5,
            ),
        );
        entries.insert(
            detection.version_uid.clone(),
            stored(
                &LedgerDocument::archived(&detection.finding_uid, 1, "findings/k2"),
                6,
            ),
        );
        let later_triage = triage(&records, &entries, now());
        assert_eq!(later_triage.archived.len(), 1);
        assert_eq!(
            later_triage.archived[0].record.class,
            FindingClass::DetectionFinding
        );
        let stale = &later_triage.stale["findings/k1"];
        assert_eq!(
            (stale[0].1, stale[0].2),
            (5, 1),
            "read with seq_no 5, term 1"
        );
    }

    #[test]
    fn each_class_goes_to_its_own_index_and_archive_prefix() {
        let records = [inspector2_record(), detection_record()];
        let pending: Vec<Pending> = records
            .iter()
            .map(|carried| Pending {
                carried,
                takeover: None,
            })
            .collect();
        let ops = index_ops(&pending, index_of, history_of);
        let targets: Vec<(&str, &str, i64)> = ops
            .iter()
            .step_by(2)
            .map(|op| match op {
                BulkOp::IndexLatest {
                    index, id, version, ..
                } => (index.as_str(), id.as_str(), *version),
                other => panic!("not a latest-state write: {other:?}"),
            })
            .collect();
        assert_eq!(
            targets,
            [
                (
                    "fanin-findings",
                    records[0].record.document_id.as_str(),
                    records[0].record.version
                ),
                (
                    "fanin-detections",
                    records[1].record.document_id.as_str(),
                    records[1].record.version
                ),
            ]
        );

        let objects = archive_objects(&pending, &[0, 1]);
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(objects.len(), 2, "one object per class: {keys:?}");
        assert!(keys[0].starts_with(
            "findings/classUid=2002/region=us-east-1/accountId=111111111111/eventDay="
        ));
        assert!(keys[1].starts_with(
            "findings/classUid=2004/region=us-east-1/accountId=111111111111/eventDay=20261129/"
        ));
        let mut line = String::new();
        flate2::read::GzDecoder::new(&objects[1].body[..])
            .read_to_string(&mut line)
            .unwrap();
        let document: Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(document["class_uid"], 2004);
        assert_eq!(
            document["metadata"]["uid"], records[1].record.version_uid,
            "the archived line is the indexed document"
        );
    }

    #[test]
    fn every_version_is_written_to_history_once_under_its_version_id() {
        // The same finding at another update time: another version.
        let older = inspector2_record_updated(Some("2020-01-01T00:00:00Z"));
        let records = [inspector2_record(), older, detection_record()];
        let pending: Vec<Pending> = records
            .iter()
            .map(|carried| Pending {
                carried,
                takeover: None,
            })
            .collect();
        let ops = index_ops(&pending, index_of, history_of);
        assert_eq!(ops.len(), 6, "two writes per version");
        for (carried, pair) in records.iter().zip(ops.chunks(2)) {
            let record = &carried.record;
            assert!(
                matches!(&pair[0], BulkOp::IndexLatest { id, .. } if id == &record.document_id)
            );
            let BulkOp::CreateOnce {
                index,
                id,
                document,
            } = &pair[1]
            else {
                panic!("history is a create: {:?}", pair[1])
            };
            assert_eq!(index, &history_of(record.class));
            assert_eq!(id, &record.version_uid);
            assert_eq!(document, &record.document, "the same document as latest");
            let body: Value = serde_json::from_str(document).unwrap();
            assert_eq!(body["metadata"]["uid"].as_str(), Some(id.as_str()));
        }
        assert_eq!(ops[0].id(), ops[2].id(), "one latest document per finding");
        assert_ne!(ops[1].id(), ops[3].id(), "one history document per version");
        assert_eq!(
            (history_of(records[2].record.class)).as_str(),
            "fanin-detections-history"
        );
        let encoded = String::from_utf8(
            crate::search::bulk::encode(&ops[..2], usize::MAX)
                .remove(0)
                .body,
        )
        .unwrap();
        let action: Value = serde_json::from_str(encoded.lines().nth(2).unwrap()).unwrap();
        assert_eq!(
            action,
            serde_json::json!({"create": {"_index": "fanin-findings-history", "_id": records[0].record.version_uid}})
        );
    }

    #[test]
    fn a_version_is_indexed_only_when_latest_and_history_are() {
        use ItemOutcome::*;
        let retry = || Retry("429".into());
        let refused = || Permanent("400 mapper_parsing_exception".into());
        let outcomes = [
            Done,
            Done, // new version
            Conflict,
            Done, // an older update: history still gets it
            Conflict,
            Conflict, // a redelivery
            Done,
            retry(), // history throttled: retried, latest 409s next time
            retry(),
            Conflict,
            refused(),
            retry(), // refused for good
            Done,
            refused(),
        ];
        assert_eq!(
            version_outcomes(&outcomes),
            [Done, Done, Done, retry(), retry(), refused(), refused()]
        );
        assert!(matches!(version_outcomes(&[Done])[0], Retry(_)));
    }

    #[test]
    fn claims_name_their_object_and_a_takeover_is_conditional() {
        let records = [inspector2_record(), detection_record()];
        let pending = vec![
            Pending {
                carried: &records[0],
                takeover: None,
            },
            Pending {
                carried: &records[1],
                takeover: Some((9, 2)),
            },
        ];
        let objects = archive_objects(&pending, &[0, 1]);
        let expires = now() + chrono::Duration::minutes(1);
        let (ops, positions) = claims(&objects, &pending, "fanin-ledger", expires);
        assert_eq!(positions, [0, 1]);
        let BulkOp::CreateOnce { id, document, .. } = &ops[0] else {
            panic!("a first claim is a create: {:?}", ops[0])
        };
        assert_eq!(id, &records[0].record.version_uid);
        let claim: Value = serde_json::from_str(document).unwrap();
        assert_eq!(claim["archive_key"], objects[0].key.as_str());
        assert_eq!(claim["state"], "claimed");
        assert_eq!(claim["claim_expires_at"], expires.timestamp_millis());
        assert!(matches!(
            &ops[1],
            BulkOp::ReplaceIfUnchanged {
                seq_no: 9,
                primary_term: 2,
                ..
            }
        ));

        // Only objects whose every version was won are written.
        let won: HashSet<usize> = [1].into();
        let (write, hold) = split_by_claims(objects, &won);
        assert_eq!(write.len(), 1);
        assert_eq!(write[0].positions, [1]);
        assert_eq!(hold[0].positions, [0]);
    }
}
