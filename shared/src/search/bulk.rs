//! Bulk requests: encoding into size-capped NDJSON bodies, and the per-item
//! retry decision, both pure.

use serde_json::json;

use crate::ports::BulkItemStatus;

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
    /// Create a document only if absent (`create`): the archive ledger.
    CreateOnce {
        index: String,
        id: String,
        document: std::sync::Arc<str>,
    },
}

impl BulkOp {
    fn encode_into(&self, out: &mut Vec<u8>) {
        let action = match self {
            Self::IndexLatest {
                index, id, version, ..
            } => {
                json!({"index": {"_index": index, "_id": id, "version": version, "version_type": "external"}})
            }
            Self::CreateOnce { index, id, .. } => json!({"create": {"_index": index, "_id": id}}),
        };
        let document = match self {
            Self::IndexLatest { document, .. } | Self::CreateOnce { document, .. } => document,
        };
        out.extend_from_slice(action.to_string().as_bytes());
        out.push(b'\n');
        out.extend_from_slice(document.as_bytes());
        out.push(b'\n');
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
    /// Written, or already there in this or a newer version.
    Done,
    /// Worth sending again (429, 5xx).
    Retry(String),
    /// The cluster will never take it (mapping error, bad request).
    Permanent(String),
}

/// Decides per item, separately from how retries are carried out.
///
/// 409 on an external-versioned index means the stored version is newer or
/// equal: success. 409 on a create means the ledger entry exists: success.
pub fn classify(status: &BulkItemStatus) -> ItemOutcome {
    let describe = || {
        format!(
            "{} {}: {}",
            status.status,
            status.error_type.as_deref().unwrap_or("error"),
            status.reason.as_deref().unwrap_or("")
        )
    };
    match status.status {
        200..=299 | 409 => ItemOutcome::Done,
        429 | 500..=599 => ItemOutcome::Retry(describe()),
        _ => ItemOutcome::Permanent(describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: u16, error: Option<&str>) -> BulkItemStatus {
        BulkItemStatus {
            status,
            error_type: error.map(str::to_owned),
            reason: None,
        }
    }

    #[test]
    fn per_item_decisions() {
        assert_eq!(classify(&item(201, None)), ItemOutcome::Done);
        assert_eq!(
            classify(&item(409, Some("version_conflict_engine_exception"))),
            ItemOutcome::Done
        );
        assert!(matches!(
            classify(&item(429, Some("es_rejected_execution_exception"))),
            ItemOutcome::Retry(_)
        ));
        assert!(matches!(classify(&item(503, None)), ItemOutcome::Retry(_)));
        assert!(matches!(
            classify(&item(400, Some("mapper_parsing_exception"))),
            ItemOutcome::Permanent(_)
        ));
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
}
