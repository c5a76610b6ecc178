//! After the demo, the shipped dashboards and every `fanin` command answer
//! with the archive's numbers. After the demo's pipeline, the query behind every visualization of
//! `cli/saved-objects/fanin.ndjson` (its filters as written, its
//! aggregations as OpenSearch Dashboards sends them) runs against the index,
//! and each bucket's count equals the count this test computes from the S3
//! archive and quarantine alone: the latest version of each finding for the
//! latest-state patterns, every version for the history, every quarantined
//! message for pipeline health. Then the demo's operator ending (install,
//! export, report) and summary, backfill and a redrive dry run, on the same
//! stack and with no places on their command lines.

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use fanin_devstack::scenario::{self, LocalStack};
use serde_json::{Value, json};

const SHIPPED: &str = include_str!("../../cli/saved-objects/fanin.ndjson");

/// Bucket path (one key per bucket aggregation) → document count.
type Counts = BTreeMap<Vec<String>, u64>;

/// Every value at a dotted path, arrays flattened at any level, as the
/// strings a terms aggregation keys its buckets with.
fn values(document: &Value, path: &str) -> BTreeSet<String> {
    let mut current = vec![document];
    for part in path.split('.') {
        current = current
            .into_iter()
            .flat_map(|value| match value {
                Value::Array(items) => items.iter().filter_map(|i| i.get(part)).collect::<Vec<_>>(),
                other => other.get(part).into_iter().collect::<Vec<_>>(),
            })
            .collect();
    }
    current
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        })
        .filter_map(|value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        })
        .collect()
}

/// Whether a document passes a filter (the DSL the saved objects use).
fn passes(document: &Value, query: &Value) -> bool {
    let (kind, body) = query
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("one clause");
    match kind.as_str() {
        "term" | "terms" => {
            let (field, wanted) = body.as_object().unwrap().iter().next().unwrap();
            // One value (term) or several (terms), read as a document would be.
            let wanted = values(&json!({"v": wanted}), "v");
            !values(document, field).is_disjoint(&wanted)
        }
        "exists" => !values(document, body["field"].as_str().unwrap()).is_empty(),
        "bool" => {
            let all = |key: &str| {
                body[key]
                    .as_array()
                    .is_none_or(|clauses| clauses.iter().all(|c| passes(document, c)))
            };
            let none = body["must_not"]
                .as_array()
                .is_none_or(|clauses| !clauses.iter().any(|c| passes(document, c)));
            all("filter") && all("must") && none
        }
        other => panic!("the test reads no {other} clause: add it"),
    }
}

/// The day (UTC midnight, epoch millis) of a document's `time`.
fn day_of(document: &Value, field: &str) -> BTreeSet<String> {
    let millis = match &document[field] {
        // The flows index's hours are epoch seconds (`epoch_second`).
        Value::Number(n) if field == "hour" => n.as_i64().unwrap() * 1000,
        Value::Number(n) => n.as_i64().unwrap(),
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis(),
        _ => return BTreeSet::new(),
    };
    let day = millis.div_euclid(86_400_000) * 86_400_000;
    BTreeSet::from([day.to_string()])
}

/// What the visualization's buckets count over `documents`.
fn expected(documents: &[Value], filters: &[Value], buckets: &[Value]) -> Counts {
    let mut counts = Counts::new();
    for document in documents
        .iter()
        .filter(|d| filters.iter().all(|f| passes(d, f)))
    {
        let mut paths: Vec<Vec<String>> = vec![vec![]];
        for bucket in buckets {
            let field = bucket["params"]["field"].as_str().unwrap();
            let keys = match bucket["type"].as_str().unwrap() {
                "terms" => values(document, field),
                "date_histogram" => day_of(document, field),
                other => panic!("the test reads no {other} aggregation: add it"),
            };
            paths = paths
                .into_iter()
                .flat_map(|path| {
                    keys.iter().map(move |key| {
                        let mut longer = path.clone();
                        longer.push(key.clone());
                        longer
                    })
                })
                .collect();
        }
        for path in paths {
            *counts.entry(path).or_default() += 1;
        }
    }
    counts
}

/// The aggregation OpenSearch Dashboards sends for these bucket aggs.
fn aggregation(buckets: &[Value]) -> Option<Value> {
    let (first, rest) = buckets.split_first()?;
    let params = &first["params"];
    let mut agg = match first["type"].as_str().unwrap() {
        "terms" => json!({"terms": {
            "field": params["field"], "size": params["size"], "order": {"_count": "desc"},
        }}),
        "date_histogram" => json!({"date_histogram": {
            "field": params["field"], "calendar_interval": "1d", "min_doc_count": 1,
        }}),
        other => panic!("no {other}"),
    };
    if let Some(inner) = aggregation(rest) {
        agg["aggs"] = json!({"next": inner});
    }
    Some(agg)
}

/// The answer's buckets as counts.
fn answered(aggs: &Value, depth: usize, path: Vec<String>, counts: &mut Counts) {
    for bucket in aggs["buckets"]
        .as_array()
        .unwrap_or_else(|| panic!("no buckets in {aggs}"))
    {
        // Terms on keywords key by the string, on numbers by the number;
        // a date histogram keys by the bucket's epoch millis.
        let key = match &bucket["key"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut longer = path.clone();
        longer.push(key);
        if depth == 1 {
            *counts.entry(longer).or_default() += bucket["doc_count"].as_u64().unwrap();
        } else {
            answered(&bucket["next"], depth - 1, longer, counts);
        }
    }
}

/// Latest version of each finding: the one with the greatest `time`, then
/// `metadata.uid` (what the external version orders by first).
fn latest(records: &[Value]) -> Vec<Value> {
    let mut by_uid: BTreeMap<String, &Value> = BTreeMap::new();
    for record in records {
        let uid = record["finding_info"]["uid"].as_str().unwrap().to_owned();
        let newer = by_uid.get(&uid).is_none_or(|kept| {
            (record["time"].as_i64(), record["metadata"]["uid"].as_str())
                > (kept["time"].as_i64(), kept["metadata"]["uid"].as_str())
        });
        if newer {
            by_uid.insert(uid, record);
        }
    }
    by_uid.into_values().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_demo_every_panel_and_command_answers_with_the_archive() {
    let stack = LocalStack::start().await.unwrap();
    let played = fanin_devstack::demo::play(&stack).await.unwrap();
    let central = &played.deployed.central;

    // The archive, one record per version (an object written twice holds
    // the same version twice).
    let mut versions: BTreeMap<String, Value> = BTreeMap::new();
    // And the archive's partitions (class, region, account, day: the key's
    // folder), which the export writes one Parquet object each for.
    let mut partitions: BTreeSet<String> = BTreeSet::new();
    for (key, record) in scenario::archived_records(&stack, central).await.unwrap() {
        if let Some((folder, _)) = key.rsplit_once('/') {
            partitions.insert(folder.to_owned());
        }
        versions.insert(
            record["metadata"]["uid"].as_str().unwrap().to_owned(),
            record,
        );
    }
    let versions: Vec<Value> = versions.into_values().collect();
    let of_class = |class: i64| -> Vec<Value> {
        versions
            .iter()
            .filter(|r| r["class_uid"] == class)
            .cloned()
            .collect()
    };
    let quarantine: Vec<Value> = scenario::quarantined(&stack, central)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, object)| json!({"reason": object["reason"], "time": object["quarantined_at"]}))
        .collect();
    // The flow-log aggregates, one document per line of the archive's
    // `flow-aggregates/` objects (the index's `_id` is the line's `id`).
    let mut flow_aggregates: BTreeMap<String, Value> = BTreeMap::new();
    for (key, bytes) in scenario::bucket_objects(&stack, central, "flow-aggregates/")
        .await
        .unwrap()
    {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .expect(&key);
        for line in text.lines() {
            let doc: Value = serde_json::from_str(line).unwrap();
            flow_aggregates.insert(doc["id"].as_str().unwrap().to_owned(), doc);
        }
    }
    let flow_aggregates: Vec<Value> = flow_aggregates.into_values().collect();
    assert!(!flow_aggregates.is_empty(), "the demo aggregated flow logs");
    // The CloudTrail usage documents, one per line of the archive's
    // `iam-usage/` objects (the index's `_id` is the line's `id`).
    let mut usage_documents: BTreeMap<String, Value> = BTreeMap::new();
    for (key, bytes) in scenario::bucket_objects(&stack, central, "iam-usage/")
        .await
        .unwrap()
    {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .expect(&key);
        for line in text.lines() {
            let doc: Value = serde_json::from_str(line).unwrap();
            usage_documents.insert(doc["id"].as_str().unwrap().to_owned(), doc);
        }
    }
    let usage_documents: Vec<Value> = usage_documents.into_values().collect();
    assert!(!usage_documents.is_empty(), "the demo read CloudTrail");
    let prefix = &central.index_prefix;
    let documents: BTreeMap<String, Vec<Value>> = BTreeMap::from([
        (format!("{prefix}-findings"), latest(&of_class(2002))),
        (format!("{prefix}-detections"), latest(&of_class(2004))),
        (
            format!("{prefix}-findings,{prefix}-detections"),
            latest(&[of_class(2002), of_class(2004)].concat()),
        ),
        (format!("{prefix}-findings-history*"), of_class(2002)),
        (format!("{prefix}-quarantine"), quarantine),
        (format!("{prefix}-compliance"), latest(&of_class(2003))),
        (format!("{prefix}-flows*"), flow_aggregates),
        (format!("{prefix}-iam-usage*"), usage_documents),
    ]);
    assert!(
        documents[&format!("{prefix}-findings")].len() > 100,
        "the demo stored its findings"
    );

    let objects: Vec<Value> = SHIPPED
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let titles: BTreeMap<&str, String> = objects
        .iter()
        .filter(|o| o["type"] == "index-pattern")
        .map(|o| {
            let title = o["attributes"]["title"].as_str().unwrap();
            (
                o["id"].as_str().unwrap(),
                title.replace("fanin-", &format!("{prefix}-")),
            )
        })
        .collect();
    let http = reqwest::Client::new();
    http.post(format!("{}/_refresh", stack.osmem.url))
        .send()
        .await
        .unwrap();
    let mut compared = 0;
    for object in objects.iter().filter(|o| o["type"] == "visualization") {
        let id = object["id"].as_str().unwrap();
        let vis: Value =
            serde_json::from_str(object["attributes"]["visState"].as_str().unwrap()).unwrap();
        let source: Value = serde_json::from_str(
            object["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let pattern = object["references"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == source["indexRefName"])
            .unwrap()["id"]
            .as_str()
            .unwrap();
        let title = &titles[pattern];
        let filters: Vec<Value> = source["filter"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["query"].clone())
            .collect();
        let buckets: Vec<Value> = vis["aggs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["schema"] != "metric")
            .cloned()
            .collect();
        // Quarantine documents carry their source as the collector read it;
        // the archive-side check counts reasons and days, their first level.
        let depth = if pattern == "fanin-quarantine" {
            1
        } else {
            buckets.len()
        };
        let buckets = &buckets[..depth];
        let mut body =
            json!({"size": 0, "track_total_hits": true, "query": {"bool": {"filter": filters}}});
        if let Some(agg) = aggregation(buckets) {
            body["aggs"] = json!({"next": agg});
        }
        let answer = fanin_tests::search(&stack.osmem.url, title, &body).await;
        let want = expected(&documents[title], &filters, buckets);
        let mut got = Counts::new();
        if buckets.is_empty() {
            got.insert(vec![], answer["hits"]["total"]["value"].as_u64().expect(id));
        } else {
            assert!(
                answer["aggregations"]["next"].is_object(),
                "{id} ({title}): {answer}"
            );
            answered(
                &answer["aggregations"]["next"],
                buckets.len(),
                vec![],
                &mut got,
            );
        }
        // A terms level that returned `size` buckets may have cut the rest:
        // what it returned must still be exact.
        let cut = buckets.iter().any(|b| {
            b["type"] == "terms"
                && want
                    .keys()
                    .map(|p| p[..1].to_vec())
                    .collect::<BTreeSet<_>>()
                    .len()
                    > b["params"]["size"].as_u64().unwrap() as usize
        });
        if cut {
            for (path, count) in &got {
                assert_eq!(want.get(path), Some(count), "{id}: bucket {path:?}");
            }
        } else {
            assert_eq!(got, want, "{id} ({title}): index answer vs archive");
        }
        assert!(!want.is_empty(), "{id}: the demo gives it data");
        compared += 1;
    }
    assert_eq!(
        compared,
        objects
            .iter()
            .filter(|o| o["type"] == "visualization")
            .count()
    );

    // Then the operator's end of the demo, and every other command, on the
    // same stack, with no places on the command line.
    let out = std::env::temp_dir().join(format!("fanin-demo-{}", std::process::id()));
    let operated = fanin_devstack::demo::operate(&stack, &played, &out)
        .await
        .unwrap();
    assert!(
        operated
            .install
            .iter()
            .any(|l| l.contains("saved objects: 35 imported")),
        "{:?}",
        operated.install
    );
    let stored: Value = reqwest::get(format!("{}/_devstack/saved_objects", stack.dashboards.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["objects"].as_array().unwrap().len(), objects.len());
    // One Parquet object per (class, region, account, day) of the archive,
    // for the classes the export writes (2003 has no Security Lake source
    // yet: docs/export.md). The day is the archive key's, as the export
    // reads it: versions of one (class, region, account) fall on two days
    // when the demo runs near midnight UTC.
    partitions.retain(|folder| !folder.starts_with("findings/classUid=2003/"));
    assert_eq!(operated.parquet_objects.len(), partitions.len());
    let html = std::fs::read_to_string(&operated.report).unwrap();
    // Every class the report reads: vulnerabilities, detections and
    // compliance (the guard's and unused exposure's).
    let compliance: Vec<Value> = scenario::indexed_in(&stack, central, "compliance")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, document)| document)
        .collect();
    let open = documents[&format!("{prefix}-findings,{prefix}-detections")]
        .iter()
        .chain(&compliance)
        .filter(|d| !matches!(d["status_id"].as_u64(), Some(3..=6)))
        .count();
    assert!(
        html.contains(&format!("data-metric=\"open\">{open}<")),
        "the report shows {open} open findings"
    );
    let run = |args: &'static [&'static str]| {
        let stack = &stack;
        async move { fanin_devstack::operator::fanin(stack, args).await.unwrap() }
    };
    let summary: Value = serde_json::from_str(&run(&["summary", "--json"]).await).unwrap();
    assert_eq!(summary["open"], open as u64);
    let backfill = run(&["backfill", "--restart"]).await;
    let findings =
        documents[&format!("{prefix}-findings,{prefix}-detections")].len() + compliance.len();
    assert!(
        backfill.contains(&format!(
            "archive: {} versions, {findings} findings; index now: {findings} latest, {} history",
            versions.len(),
            versions.len()
        )),
        "{backfill}"
    );
    let redrive = run(&["redrive", "--dry-run"]).await;
    assert!(
        redrive.contains("would move 1 quarantined and 0 dead-lettered message(s)"),
        "{redrive}"
    );
    std::fs::remove_dir_all(&out).ok();
}

/// A client of the saved-objects API stand-in.
fn dashboards_client(url: &str) -> fanin::search::transport::SearchTransport {
    fanin::search::transport::SearchTransport::new(
        &url::Url::parse(url).unwrap(),
        &fanin::config::SearchAuth::None,
        None,
        None,
    )
    .unwrap()
}

#[tokio::test]
async fn importing_the_saved_objects_twice_leaves_the_same_objects() {
    let dashboards = fanin_devstack::dashboards::start().await.unwrap();
    let client = dashboards_client(&dashboards.url);
    let objects = fanin_cli::dashboards::saved_objects("acme");
    for _ in 0..2 {
        let imported = fanin_cli::dashboards::import(&client, &objects)
            .await
            .unwrap();
        assert_eq!(imported.objects, objects.len());
    }
    let stored: Value = reqwest::get(format!("{}/_devstack/saved_objects", dashboards.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["imports"], 2);
    let stored = stored["objects"].as_array().unwrap();
    assert_eq!(stored.len(), objects.len(), "one object per id, not two");
    assert!(
        stored.iter().all(|s| s["writes"] == 2),
        "each overwritten in place"
    );
    let pattern: Value = reqwest::get(format!(
        "{}/api/saved_objects/index-pattern/fanin-findings",
        dashboards.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(pattern["attributes"]["title"], "acme-findings");

    // A set whose dashboard refers to a visualization it lacks is refused,
    // and the error names it.
    let fresh = fanin_devstack::dashboards::start().await.unwrap();
    let partial: Vec<Value> = objects
        .iter()
        .filter(|o| o["id"] != "fanin-trend")
        .cloned()
        .collect();
    let error = fanin_cli::dashboards::import(&dashboards_client(&fresh.url), &partial)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("fanin-overview") && error.contains("missing_references"),
        "{error}"
    );
}
