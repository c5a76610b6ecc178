//! Bulk requests: encoding into size-capped NDJSON bodies, and the per-item
//! retry decision, both pure.

use serde_json::json;

use crate::ports::{BulkAction, BulkItemStatus};

/// One bulk operation.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkOp {
    /// Index the latest state, unless the stored version is newer or equal
    /// (`version_type: external`).
    IndexLatest {
        index: String,
        id: String,
        version: i64,
        document: std::sync::Arc<str>,
    },
    /// Create a document only if absent (`create`): a ledger claim.
    CreateOnce {
        index: String,
        id: String,
        document: std::sync::Arc<str>,
    },
    /// Replace a document only if it is still the one read
    /// (`if_seq_no`/`if_primary_term`): taking over a stale claim.
    ReplaceIfUnchanged {
        index: String,
        id: String,
        seq_no: i64,
        primary_term: i64,
        document: std::sync::Arc<str>,
    },
    /// Write a document whatever is there (`index`): a claim's archived mark.
    Put {
        index: String,
        id: String,
        document: std::sync::Arc<str>,
    },
    /// Delete a document (`delete`): releasing a claim.
    Delete { index: String, id: String },
}

impl BulkOp {
    /// The document `_id` the op acts on.
    pub fn id(&self) -> &str {
        match self {
            Self::IndexLatest { id, .. }
            | Self::CreateOnce { id, .. }
            | Self::ReplaceIfUnchanged { id, .. }
            | Self::Put { id, .. }
            | Self::Delete { id, .. } => id,
        }
    }

    /// The action line's verb, as the answer names it.
    pub fn action(&self) -> BulkAction {
        match self {
            Self::IndexLatest { .. } | Self::ReplaceIfUnchanged { .. } | Self::Put { .. } => {
                BulkAction::Index
            }
            Self::CreateOnce { .. } => BulkAction::Create,
            Self::Delete { .. } => BulkAction::Delete,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let (action, document) = match self {
            Self::IndexLatest {
                index,
                id,
                version,
                document,
            } => (
                json!({"index": {"_index": index, "_id": id, "version": version, "version_type": "external"}}),
                Some(document),
            ),
            Self::CreateOnce {
                index,
                id,
                document,
            } => (
                json!({"create": {"_index": index, "_id": id}}),
                Some(document),
            ),
            Self::ReplaceIfUnchanged {
                index,
                id,
                seq_no,
                primary_term,
                document,
            } => (
                json!({"index": {"_index": index, "_id": id, "if_seq_no": seq_no, "if_primary_term": primary_term}}),
                Some(document),
            ),
            Self::Put {
                index,
                id,
                document,
            } => (
                json!({"index": {"_index": index, "_id": id}}),
                Some(document),
            ),
            Self::Delete { index, id } => (json!({"delete": {"_index": index, "_id": id}}), None),
        };
        out.extend_from_slice(action.to_string().as_bytes());
        out.push(b'\n');
        if let Some(document) = document {
            out.extend_from_slice(document.as_bytes());
            out.push(b'\n');
        }
    }
}

/// One request body and the indices (into the op list) of the ops it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkChunk {
    pub body: Vec<u8>,
    pub ops: Vec<usize>,
}

/// Splits ops into bodies of at most `max_bytes` (an op larger than the cap
/// goes alone in its own body: the cluster, not fanin, decides on it).
/// `BulkChunk::ops` are positions in the order `ops` yields them.
pub fn encode<'a>(ops: impl IntoIterator<Item = &'a BulkOp>, max_bytes: usize) -> Vec<BulkChunk> {
    let mut chunks = Vec::new();
    let mut current = BulkChunk {
        body: Vec::new(),
        ops: Vec::new(),
    };
    let mut encoded = Vec::new();
    for (position, op) in ops.into_iter().enumerate() {
        encoded.clear();
        op.encode_into(&mut encoded);
        if !current.ops.is_empty() && current.body.len() + encoded.len() > max_bytes {
            chunks.push(std::mem::replace(
                &mut current,
                BulkChunk {
                    body: Vec::new(),
                    ops: Vec::new(),
                },
            ));
        }
        current.body.extend_from_slice(&encoded);
        current.ops.push(position);
    }
    if !current.ops.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// What one item's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Written (or, for a delete, already absent).
    Done,
    /// The write's condition did not hold (409): the stored version is newer
    /// or equal, the document to create exists, or it changed since it was
    /// read. What that means is the caller's to say.
    Conflict,
    /// Worth sending again (429, 5xx).
    Retry(String),
    /// The cluster will never take it (mapping error, bad request).
    Permanent(String),
}

/// Reads an answer against the ops sent, one outcome per op, or says why
/// the answer does not belong to the request (another item count, action or
/// `_id`): then nothing in it can be trusted, and the caller retries all.
pub fn outcomes(ops: &[&BulkOp], statuses: &[BulkItemStatus]) -> Result<Vec<ItemOutcome>, String> {
    if ops.len() != statuses.len() {
        return Err(format!(
            "bulk answered {} items for {}",
            statuses.len(),
            ops.len()
        ));
    }
    ops.iter()
        .zip(statuses)
        .enumerate()
        .map(|(n, (op, status))| {
            if status.action != op.action() {
                return Err(format!(
                    "bulk item {n} answered {:?} for {:?}",
                    status.action,
                    op.action()
                ));
            }
            if status.id != op.id() {
                return Err(format!("bulk item {n} answered for another _id"));
            }
            Ok(classify(op.action(), status))
        })
        .collect()
}

/// Decides per item, separately from how retries are carried out.
pub fn classify(action: BulkAction, status: &BulkItemStatus) -> ItemOutcome {
    let describe = || {
        format!(
            "{} {}: {}",
            status.status,
            status.error_type.as_deref().unwrap_or("error"),
            status.reason.as_deref().unwrap_or("")
        )
    };
    match status.status {
        200..=299 => ItemOutcome::Done,
        // A delete of an absent document: already released.
        404 if action == BulkAction::Delete => ItemOutcome::Done,
        409 => ItemOutcome::Conflict,
        // Not written, and worth sending again: throttling, the cluster's
        // own failures, a timeout, and a missing index (auto-creation off:
        // an operator's fix away, so the message waits in the queue).
        404 | 408 | 429 | 500..=599 => ItemOutcome::Retry(describe()),
        // The cluster will never take this item as it is.
        400..=499 => ItemOutcome::Permanent(describe()),
        // No item status outside 2xx-5xx is documented: not written.
        _ => ItemOutcome::Retry(describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: u16, error: Option<&str>) -> BulkItemStatus {
        BulkItemStatus {
            action: BulkAction::Index,
            id: "a".into(),
            status,
            error_type: error.map(str::to_owned),
            reason: None,
        }
    }

    #[test]
    fn per_item_decisions() {
        let index = |status, error| classify(BulkAction::Index, &item(status, error));
        assert_eq!(index(201, None), ItemOutcome::Done);
        assert_eq!(
            index(409, Some("version_conflict_engine_exception")),
            ItemOutcome::Conflict
        );
        assert_eq!(
            classify(BulkAction::Delete, &item(404, None)),
            ItemOutcome::Done
        );
        assert!(matches!(
            index(404, Some("index_not_found_exception")),
            ItemOutcome::Retry(_)
        ));
        assert!(matches!(
            index(429, Some("es_rejected_execution_exception")),
            ItemOutcome::Retry(_)
        ));
        assert!(matches!(index(503, None), ItemOutcome::Retry(_)));
        assert!(matches!(index(302, None), ItemOutcome::Retry(_)));
        assert!(matches!(
            index(400, Some("mapper_parsing_exception")),
            ItemOutcome::Permanent(_)
        ));
    }

    #[test]
    fn an_answer_that_is_not_the_request_s_is_not_read() {
        let claim = BulkOp::CreateOnce {
            index: "l".into(),
            id: "v1".into(),
            document: "{}".into(),
        };
        let release = BulkOp::Delete {
            index: "l".into(),
            id: "v2".into(),
        };
        let ops = [&claim, &release];
        let answer = |first: BulkAction, id: &str| {
            vec![
                BulkItemStatus {
                    action: first,
                    id: id.into(),
                    status: 201,
                    error_type: None,
                    reason: None,
                },
                BulkItemStatus {
                    action: BulkAction::Delete,
                    id: "v2".into(),
                    status: 404,
                    error_type: None,
                    reason: None,
                },
            ]
        };
        assert_eq!(
            outcomes(&ops, &answer(BulkAction::Create, "v1")),
            Ok(vec![ItemOutcome::Done, ItemOutcome::Done])
        );
        assert!(outcomes(&ops, &answer(BulkAction::Index, "v1")).is_err());
        assert!(outcomes(&ops, &answer(BulkAction::Create, "v9")).is_err());
        assert!(outcomes(&ops[..1], &answer(BulkAction::Create, "v1")).is_err());
    }

    #[test]
    fn bodies_are_ndjson_and_respect_the_cap() {
        let ops: Vec<BulkOp> = (0..5)
            .map(|i| BulkOp::IndexLatest {
                index: "f".into(),
                id: format!("id{i}"),
                version: 7,
                document: format!("{{\"n\":{i}}}").into(),
            })
            .collect();
        let single = encode(&ops, 1 << 20);
        assert_eq!(single.len(), 1);
        let text = String::from_utf8(single[0].body.clone()).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"index":{"_id":"id0","_index":"f","version":7,"version_type":"external"}}"#
        );
        assert_eq!(text.lines().count(), 10);
        let capped = encode(&ops, 120);
        assert!(capped.len() > 1);
        assert!(
            capped
                .iter()
                .all(|c| c.body.len() <= 120 || c.ops.len() == 1)
        );
        let all: Vec<usize> = capped.iter().flat_map(|c| c.ops.clone()).collect();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn ledger_ops_encode_as_opensearch_reads_them() {
        let ops = [
            BulkOp::ReplaceIfUnchanged {
                index: "l".into(),
                id: "v".into(),
                seq_no: 4,
                primary_term: 1,
                document: "{}".into(),
            },
            BulkOp::Put {
                index: "l".into(),
                id: "v".into(),
                document: "{}".into(),
            },
            BulkOp::Delete {
                index: "l".into(),
                id: "v".into(),
            },
        ];
        let body = String::from_utf8(encode(&ops, 1 << 20)[0].body.clone()).unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"index":{"_id":"v","_index":"l","if_primary_term":1,"if_seq_no":4}}"#,
                "\n{}\n",
                r#"{"index":{"_id":"v","_index":"l"}}"#,
                "\n{}\n",
                r#"{"delete":{"_id":"v","_index":"l"}}"#,
                "\n"
            )
        );
    }
}
