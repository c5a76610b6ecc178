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
use crate::search::bulk::BulkOp;

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

/// One latest-state write per pending version, into its class's index
/// (`index_of`), with external versioning.
pub fn index_ops(pending: &[Pending], index_of: impl Fn(FindingClass) -> String) -> Vec<BulkOp> {
    pending
        .iter()
        .map(|p| {
            let record = &p.carried.record;
            BulkOp::IndexLatest {
                index: index_of(record.class),
                id: record.document_id.clone(),
                version: record.version,
                document: record.document.clone(),
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
            let lines: Vec<&str> = positions
                .iter()
                .map(|&p| &*pending[p].carried.record.document)
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
        let body = std::fs::read_to_string(format!(
            "{}/../tests/fixtures/inspector2-ecr-finding-event.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
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
        let ops = index_ops(&pending, index_of);
        let targets: Vec<(&str, &str, i64)> = ops
            .iter()
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
