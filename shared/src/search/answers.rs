//! The cluster's answers to `_bulk` and `_mget`, read into types.
//!
//! These are the bytes fanin trusts most: an item read as written is a
//! finding counted as stored. So the reading is strict and pure (property
//! tests feed it any bytes, `shared/tests/suite/properties.rs`): an answer that
//! is not the documented shape is a transient `decode` error for the whole
//! request, never a guess. Whether the answer belongs to the request (one
//! item per op, same action, same `_id`) is [`super::bulk::outcomes`]'s to
//! check.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use crate::ports::{BulkAction, BulkItemStatus, CallError, StoredDocument};

#[derive(Deserialize)]
struct BulkAnswer {
    items: Vec<BTreeMap<BulkAction, BulkItemAnswer>>,
}

#[derive(Deserialize)]
struct BulkItemAnswer {
    #[serde(rename = "_id")]
    id: String,
    /// An HTTP status: anything outside `u16` fails the whole answer.
    status: u16,
    /// An object with `type` and `reason` (OpenSearch); a bare string is
    /// taken as the type.
    error: Option<Value>,
}

/// Reads a `_bulk` answer: one status per item, in order.
pub fn bulk(text: &str) -> Result<Vec<BulkItemStatus>, CallError> {
    let decode = |why: String| CallError::transient("Bulk", "decode", why);
    let answer: BulkAnswer = serde_json::from_str(text).map_err(|e| decode(e.to_string()))?;
    answer
        .items
        .into_iter()
        .enumerate()
        .map(|(n, item)| {
            let mut entries = item.into_iter();
            let (Some((action, result)), None) = (entries.next(), entries.next()) else {
                return Err(decode(format!("bulk item {n} is not one action")));
            };
            let text_of = |field: &str| {
                result
                    .error
                    .as_ref()
                    .and_then(|e| e.get(field))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let error_type = match &result.error {
                Some(Value::String(kind)) => Some(kind.clone()),
                Some(Value::Null) | None => None,
                Some(_) => Some(text_of("type").unwrap_or_else(|| "error".to_owned())),
            };
            Ok(BulkItemStatus {
                action,
                id: result.id.clone(),
                status: result.status,
                error_type,
                reason: text_of("reason"),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct MgetAnswer {
    docs: Vec<MgetDoc>,
}

#[derive(Deserialize)]
struct MgetDoc {
    #[serde(rename = "_id")]
    id: String,
    found: Option<bool>,
    #[serde(rename = "_source")]
    source: Option<Value>,
    #[serde(rename = "_seq_no")]
    seq_no: Option<i64>,
    #[serde(rename = "_primary_term")]
    primary_term: Option<i64>,
    /// A per-document failure: a missing index (the document is absent) or
    /// anything else (a shard not available: the state is unknown, which is
    /// not "absent").
    error: Option<Value>,
}

/// Reads an `_mget` answer: the documents found among `asked`, by id.
///
/// A document that failed, or is found without its source or sequence
/// numbers, fails the whole answer: reading it as absent would let a ledger
/// lookup miss a stored version and archive it again. Documents not asked
/// for are ignored.
pub fn mget(text: &str, asked: &[String]) -> Result<HashMap<String, StoredDocument>, CallError> {
    let decode = |why: String| CallError::transient("Mget", "decode", why);
    let answer: MgetAnswer = serde_json::from_str(text).map_err(|e| decode(e.to_string()))?;
    let mut found = HashMap::new();
    for doc in answer.docs {
        if !asked.contains(&doc.id) {
            continue;
        }
        let error_type = doc
            .error
            .as_ref()
            .and_then(|e| e.get("type"))
            .and_then(Value::as_str);
        // `_mget` on an index that does not exist (the ledger before its
        // first write) answers each document with this error: absent.
        if error_type == Some("index_not_found_exception") {
            continue;
        }
        if doc.error.is_some() {
            return Err(decode(format!(
                "document {} failed: {}",
                crate::ids::truncate_for_message(&doc.id),
                crate::ids::truncate_for_message(&doc.error.unwrap_or_default().to_string())
            )));
        }
        match (doc.found, doc.source, doc.seq_no, doc.primary_term) {
            (Some(false), ..) => {}
            (Some(true), Some(source), Some(seq_no), Some(primary_term))
                if seq_no >= 0 && primary_term >= 1 =>
            {
                found.insert(
                    doc.id,
                    StoredDocument {
                        source,
                        seq_no,
                        primary_term,
                    },
                );
            }
            _ => {
                return Err(decode(format!(
                    "document {} without found, source or sequence numbers",
                    crate::ids::truncate_for_message(&doc.id)
                )));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_answer_reads_action_id_status_and_error() {
        let text = r#"{"took":3,"errors":true,"items":[
            {"index":{"_index":"f","_id":"a","_version":2,"result":"updated","status":200}},
            {"create":{"_index":"l","_id":"b","status":409,"error":{"type":"version_conflict_engine_exception","reason":"document already exists"}}},
            {"delete":{"_index":"l","_id":"c","result":"not_found","status":404}}]}"#;
        let items = bulk(text).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(
            (items[0].action, items[0].id.as_str(), items[0].status),
            (BulkAction::Index, "a", 200)
        );
        assert_eq!(
            (
                items[1].action,
                items[1].error_type.as_deref(),
                items[1].reason.as_deref()
            ),
            (
                BulkAction::Create,
                Some("version_conflict_engine_exception"),
                Some("document already exists")
            )
        );
        assert_eq!(
            (items[2].action, items[2].status),
            (BulkAction::Delete, 404)
        );
    }

    #[test]
    fn a_bulk_answer_out_of_shape_is_a_transient_decode_error() {
        for text in [
            "",
            "{}",
            r#"{"items":{}}"#,
            // 65,736 would read as 200 if cast to u16.
            r#"{"items":[{"index":{"_id":"a","status":65736}}]}"#,
            r#"{"items":[{"index":{"_id":"a","status":-200}}]}"#,
            r#"{"items":[{"index":{"_id":"a","status":"200"}}]}"#,
            r#"{"items":[{"index":{"_id":"a"}}]}"#,
            r#"{"items":[{}]}"#,
            r#"{"items":[{"index":{"_id":"a","status":200},"create":{"_id":"a","status":201}}]}"#,
            r#"{"items":[{"index":{"_id":null,"status":200}}]}"#,
            r#"{"items":[{"index":{"status":200}}]}"#,
            r#"{"items":[{"upsert":{"_id":"a","status":200}}]}"#,
        ] {
            let error = bulk(text).expect_err(text);
            assert!(
                matches!(&error, CallError::Transient { code, .. } if code == "decode"),
                "{text}: {error:?}"
            );
        }
    }

    fn asked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_mget_answer_keeps_found_documents_with_their_sequence_numbers() {
        let text = r#"{"docs":[
            {"_index":"l","_id":"a","_version":1,"_seq_no":7,"_primary_term":1,"found":true,"_source":{"state":"claimed"}},
            {"_index":"l","_id":"b","found":false},
            {"_index":"l","_id":"z","_seq_no":1,"_primary_term":1,"found":true,"_source":{}}]}"#;
        let found = mget(text, &asked(&["a", "b"])).unwrap();
        assert_eq!(found.len(), 1, "b is absent, z was not asked");
        let no_index = r#"{"docs":[{"_index":"l","_id":"a","error":{"type":"index_not_found_exception","reason":"no such index [l]"}}]}"#;
        assert!(mget(no_index, &asked(&["a"])).unwrap().is_empty());
        assert_eq!((found["a"].seq_no, found["a"].primary_term), (7, 1));
        assert_eq!(found["a"].source["state"], "claimed");
    }

    #[test]
    fn an_mget_document_that_failed_or_lacks_its_numbers_is_not_absent() {
        for text in [
            r#"{"docs":[{"_index":"l","_id":"a","error":{"type":"no_shard_available_action_exception"}}]}"#,
            r#"{"docs":[{"_index":"l","_id":"a","found":true,"_source":{}}]}"#,
            r#"{"docs":[{"_index":"l","_id":"a","found":true,"_seq_no":-1,"_primary_term":0,"_source":{}}]}"#,
            r#"{"docs":[{"_index":"l","_id":"a"}]}"#,
            r#"{"docs":{}}"#,
        ] {
            assert!(mget(text, &asked(&["a"])).is_err(), "{text}");
        }
    }
}
