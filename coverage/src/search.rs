//! [`EventCounter`] over the findings index: one composite aggregation by
//! (`cloud.account.uid`, `cloud.region`) of the Inspector2 documents whose
//! `time` (the finding's update time, epoch ms) is in the window, paged by
//! `after_key`. The query and the answer's reading are pure functions.
//!
//! Requests go through fanin's OpenSearch transport, as the collector's:
//! TLS certificates always verified with the AWS SDK's TLS configuration and
//! root store, SigV4 for Amazon OpenSearch Service.

use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use chrono::{DateTime, Utc};
use fanin::config::SearchAuth;
use fanin::ids::{AccountId, Region};
use fanin::ports::CallError;
use fanin::search::transport::{Method, SearchTransport, content_type};
use serde_json::{Value, json};

use crate::ports::{EventCounter, EventCounts};

/// Buckets per page of the composite aggregation.
const PAGE: usize = 1000;
/// A bound on pages (a million account-regions) against a server that never
/// stops answering an `after_key`.
const MAX_PAGES: usize = 1000;

/// The aggregation query of one page.
pub fn counts_query(since: DateTime<Utc>, after: Option<&Value>) -> Value {
    let mut composite = json!({
        "size": PAGE,
        "sources": [
            {"account": {"terms": {"field": "cloud.account.uid"}}},
            {"region": {"terms": {"field": "cloud.region"}}},
        ],
    });
    if let Some(after) = after {
        composite["after"] = after.clone();
    }
    json!({
        "size": 0,
        "track_total_hits": false,
        "query": {"bool": {"filter": [
            {"term": {"unmapped.fanin.source": "inspector2"}},
            {"range": {"time": {"gte": since.timestamp_millis()}}},
        ]}},
        "aggs": {"by_account_region": {"composite": composite}},
    })
}

/// Reads one page: its counts and the `after_key` of the next page (`None`
/// when this was the last). Buckets whose keys are not an account id and a
/// region are skipped: they cannot name a row.
pub fn read_page(answer: &Value, counts: &mut EventCounts) -> Result<Option<Value>, CallError> {
    let aggregation = answer
        .pointer("/aggregations/by_account_region")
        .ok_or_else(|| CallError::transient("Search", "decode", "answer without aggregation"))?;
    let buckets = aggregation
        .get("buckets")
        .and_then(Value::as_array)
        .ok_or_else(|| CallError::transient("Search", "decode", "aggregation without buckets"))?;
    for bucket in buckets {
        let key = |name: &str| {
            bucket
                .pointer(&format!("/key/{name}"))
                .and_then(Value::as_str)
        };
        let (Some(account), Some(region)) = (key("account"), key("region")) else {
            continue;
        };
        let (Ok(account), Ok(region)) = (AccountId::parse(account), Region::parse(region)) else {
            continue;
        };
        let count = bucket.get("doc_count").and_then(Value::as_u64).unwrap_or(0);
        *counts.entry((account, region)).or_default() += count;
    }
    if buckets.is_empty() {
        return Ok(None);
    }
    Ok(aggregation.get("after_key").cloned())
}

pub struct OpenSearchEvents {
    transport: SearchTransport,
    index: String,
}

impl OpenSearchEvents {
    /// `credentials` and `region` are used only with [`SearchAuth::SigV4`].
    pub fn new(
        url: &url::Url,
        auth: &SearchAuth,
        credentials: Option<SharedCredentialsProvider>,
        region: Option<aws_config::Region>,
        index_prefix: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            // A composite aggregation over the whole index: more time than
            // the collector's writes.
            transport: SearchTransport::new(url, auth, credentials, region)?
                .with_timeout(Duration::from_secs(30)),
            index: format!("{index_prefix}-findings"),
        })
    }

    /// One `_search`; `Ok(None)` when the index does not exist yet.
    async fn search(&self, body: &Value) -> Result<Option<Value>, CallError> {
        let path = format!("/{}/_search", self.index);
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let answer = self
            .transport
            .send(
                "Search",
                Method::POST,
                &path,
                &[content_type("application/json")],
                body,
            )
            .await?;
        let status = answer.status.as_u16();
        let text = answer.body;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = answer
            .pointer("/error/type")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| status.to_string());
        let message = fanin::ids::truncate_for_message(&text);
        match status {
            200..=299 => Ok(Some(answer)),
            404 if code == "index_not_found_exception" || code == "404" => Ok(None),
            401 | 403 => Err(CallError::Denied {
                operation: "Search",
                code,
                message,
            }),
            408 | 429 | 500..=599 => Err(CallError::Transient {
                operation: "Search",
                code,
                message,
            }),
            _ => Err(CallError::Rejected {
                operation: "Search",
                code,
                message,
            }),
        }
    }
}

#[async_trait]
impl EventCounter for OpenSearchEvents {
    async fn inspector2_counts(&self, since: DateTime<Utc>) -> Result<EventCounts, CallError> {
        let mut counts = EventCounts::new();
        let mut after: Option<Value> = None;
        for _ in 0..MAX_PAGES {
            let Some(answer) = self.search(&counts_query(since, after.as_ref())).await? else {
                return Ok(counts);
            };
            match read_page(&answer, &mut counts)? {
                Some(next) => after = Some(next),
                None => return Ok(counts),
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_filters_inspector2_in_the_window_and_pages() {
        let since = DateTime::parse_from_rfc3339("2026-11-29T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let first = counts_query(since, None);
        assert_eq!(
            first["query"]["bool"]["filter"][1]["range"]["time"]["gte"],
            json!(1_795_928_400_000_i64)
        );
        assert_eq!(
            first["query"]["bool"]["filter"][0]["term"]["unmapped.fanin.source"],
            "inspector2"
        );
        assert!(
            first["aggs"]["by_account_region"]["composite"]
                .get("after")
                .is_none()
        );
        let after = json!({"account": "111111111111", "region": "us-east-1"});
        let next = counts_query(since, Some(&after));
        assert_eq!(
            next["aggs"]["by_account_region"]["composite"]["after"],
            after
        );
    }

    #[test]
    fn pages_are_read_until_an_empty_one_and_bad_keys_are_skipped() {
        let mut counts = EventCounts::new();
        let page = json!({"aggregations": {"by_account_region": {
            "after_key": {"account": "222222222222", "region": "eu-west-1"},
            "buckets": [
                {"key": {"account": "111111111111", "region": "us-east-1"}, "doc_count": 5},
                {"key": {"account": "not-an-account", "region": "us-east-1"}, "doc_count": 9},
                {"key": {"account": "222222222222", "region": "eu-west-1"}, "doc_count": 2},
            ],
        }}});
        let next = read_page(&page, &mut counts).unwrap();
        assert_eq!(next.unwrap()["account"], "222222222222");
        assert_eq!(counts.len(), 2);
        assert_eq!(
            counts[&(
                AccountId::parse("111111111111").unwrap(),
                Region::parse("us-east-1").unwrap()
            )],
            5
        );
        let last = json!({"aggregations": {"by_account_region": {"buckets": []}}});
        assert_eq!(read_page(&last, &mut counts).unwrap(), None);
        assert!(read_page(&json!({"hits": {}}), &mut counts).is_err());
    }
}
