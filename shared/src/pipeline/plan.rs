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
