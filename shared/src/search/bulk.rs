//! Bulk requests: encoding into size-capped NDJSON bodies, and the per-item
//! retry decision, both pure.

use serde::Serialize;

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

    /// The action line, typed (no JSON value built), and the document.
    fn action_line(&self) -> (Action<'_>, Option<&str>) {
        let target = Target::new;
        match self {
            Self::IndexLatest {
                index,
                id,
                version,
                document,
            } => (
                Action::Index(Target {
                    version: Some(*version),
                    version_type: Some("external"),
                    ..target(index, id)
                }),
                Some(document),
            ),
            Self::CreateOnce {
                index,
                id,
                document,
            } => (Action::Create(target(index, id)), Some(document)),
            Self::ReplaceIfUnchanged {
                index,
                id,
                seq_no,
                primary_term,
                document,
            } => (
                Action::Index(Target {
                    if_primary_term: Some(*primary_term),
                    if_seq_no: Some(*seq_no),
                    ..target(index, id)
                }),
                Some(document),
            ),
            Self::Put {
                index,
                id,
                document,
            } => (Action::Index(target(index, id)), Some(document)),
            Self::Delete { index, id } => (Action::Delete(target(index, id)), None),
        }
    }

    /// Appends the op's lines: the action, then the document if any.
    fn encode_into(&self, out: &mut Vec<u8>) {
        let (action, document) = self.action_line();
        serde_json::to_writer(&mut *out, &action).expect("an action line serializes");
        out.push(b'\n');
        if let Some(document) = document {
            out.extend_from_slice(document.as_bytes());
            out.push(b'\n');
        }
    }

    /// The bytes `encode_into` appends, without copying the document.
    fn encoded_len(&self, scratch: &mut Vec<u8>) -> usize {
        let (action, document) = self.action_line();
        scratch.clear();
        serde_json::to_writer(&mut *scratch, &action).expect("an action line serializes");
        scratch.len() + 1 + document.map_or(0, |d| d.len() + 1)
    }
}

/// An action line: `{"<verb>": {<target>}}`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Action<'a> {
    Index(Target<'a>),
    Create(Target<'a>),
    Delete(Target<'a>),
}

impl<'a> Target<'a> {
    fn new(index: &'a str, id: &'a str) -> Self {
        Self {
            id,
            index,
            if_primary_term: None,
            if_seq_no: None,
            version: None,
            version_type: None,
        }
    }
}

#[derive(Serialize)]
struct Target<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    #[serde(rename = "_index")]
    index: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    if_primary_term: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    if_seq_no: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_type: Option<&'static str>,
}

/// One request body and the indices (into the op list) of the ops it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkChunk {
    pub body: Vec<u8>,
    pub ops: Vec<usize>,
}

/// Splits ops into requests of at most `max_bytes` each (an op larger than
/// the cap goes alone in its own request: the cluster, not fanin, decides
/// on it), without encoding them: the positions, in the order `ops` yields
/// them, and each request's size.
pub fn split<'a>(
    ops: impl IntoIterator<Item = &'a BulkOp>,
    max_bytes: usize,
) -> Vec<(Vec<usize>, usize)> {
    let mut requests = Vec::new();
    let mut current: (Vec<usize>, usize) = (Vec::new(), 0);
    let mut scratch = Vec::new();
    for (position, op) in ops.into_iter().enumerate() {
        let size = op.encoded_len(&mut scratch);
        if !current.0.is_empty() && current.1 + size > max_bytes {
            requests.push(std::mem::take(&mut current));
        }
        current.0.push(position);
        current.1 += size;
    }
    if !current.0.is_empty() {
        requests.push(current);
    }
    requests
}

/// One request body of the ops, in order; `capacity` is its size when
/// known (from [`split`]), so the body is allocated once.
pub fn body<'a>(ops: impl IntoIterator<Item = &'a BulkOp>, capacity: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(capacity);
    for op in ops {
        op.encode_into(&mut body);
    }
    body
}

/// Splits ops into bodies of at most `max_bytes` (see [`split`]) and
/// encodes them all. `BulkChunk::ops` are positions in the order `ops`
/// yields them.
pub fn encode<'a>(ops: impl IntoIterator<Item = &'a BulkOp>, max_bytes: usize) -> Vec<BulkChunk> {
    let ops: Vec<&BulkOp> = ops.into_iter().collect();
    split(ops.iter().copied(), max_bytes)
        .into_iter()
        .map(|(positions, size)| BulkChunk {
            body: body(positions.iter().map(|&p| ops[p]), size),
            ops: positions,
        })
        .collect()
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
    fn action_lines_are_the_sorted_json_objects() {
        use serde_json::json;
        let document: std::sync::Arc<str> = "{\"a\":1}".into();
        let cases = [
            (
                BulkOp::IndexLatest {
                    index: "f".into(),
                    id: "i\"1".into(),
                    version: 7,
                    document: document.clone(),
                },
                json!({"index": {"_index": "f", "_id": "i\"1", "version": 7, "version_type": "external"}}),
            ),
            (
                BulkOp::CreateOnce {
                    index: "h".into(),
                    id: "v1".into(),
                    document: document.clone(),
                },
                json!({"create": {"_index": "h", "_id": "v1"}}),
            ),
            (
                BulkOp::ReplaceIfUnchanged {
                    index: "l".into(),
                    id: "v2".into(),
                    seq_no: 9,
                    primary_term: 2,
                    document: document.clone(),
                },
                json!({"index": {"_index": "l", "_id": "v2", "if_seq_no": 9, "if_primary_term": 2}}),
            ),
            (
                BulkOp::Put {
                    index: "l".into(),
                    id: "v3".into(),
                    document: document.clone(),
                },
                json!({"index": {"_index": "l", "_id": "v3"}}),
            ),
            (
                BulkOp::Delete {
                    index: "l".into(),
                    id: "v4".into(),
                },
                json!({"delete": {"_index": "l", "_id": "v4"}}),
            ),
        ];
        for (op, action) in &cases {
            let mut expected = format!("{action}\n").into_bytes();
            if !matches!(op, BulkOp::Delete { .. }) {
                expected.extend_from_slice(b"{\"a\":1}\n");
            }
            let mut encoded = Vec::new();
            op.encode_into(&mut encoded);
            assert_eq!(
                String::from_utf8(encoded).unwrap(),
                String::from_utf8(expected.clone()).unwrap()
            );
            assert_eq!(op.encoded_len(&mut Vec::new()), expected.len());
        }
        let ops: Vec<BulkOp> = cases.into_iter().map(|(op, _)| op).collect();
        let requests = split(&ops, 150);
        assert!(requests.len() > 1);
        for (positions, size) in &requests {
            let body = body(positions.iter().map(|&p| &ops[p]), *size);
            assert_eq!(body.len(), *size, "the size split computed is the body's");
        }
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
