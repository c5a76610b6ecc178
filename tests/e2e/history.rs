//! The history index, its aliases and the pipeline-health index on
//! osmem-server: every version of a finding lands once in
//! `<prefix>-findings-history` (an older update included) while the latest
//! index keeps the newest; a redelivery adds no history document; each
//! quarantined message has its health document; and the installer is
//! idempotent.

use std::collections::BTreeSet;

use fanin::config::SearchAuth;
use fanin::search::install::{self, Change, IsmSettings};
use fanin::search::opensearch::OpenSearchIndexer;
use fanin_devstack::procs::OsmemServer;
use fanin_devstack::scenario::{self, LocalStack, PRIMARY_REGION};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const MEMBER: &str = "111111111111";
const UPDATED: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn inspector2_event(detail: &Value) -> String {
    json!({
        "version": "0", "id": "8d2e7c1a-history", "detail-type": "Inspector2 Finding",
        "source": "aws.inspector2", "account": MEMBER, "region": PRIMARY_REGION,
        "time": "2026-01-01T00:00:00Z", "resources": [], "detail": detail,
    })
    .to_string()
}

/// Every hit of a search on `target` (an index, alias or pattern): (`_id`,
/// `_index`, `_source`).
async fn search(osmem: &str, target: &str, query: Value) -> Vec<(String, String, Value)> {
    let answer = fanin_tests::search(osmem, target, &json!({"size": 1000, "query": query})).await;
    answer["hits"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("{target}: {answer}"))
        .iter()
        .map(|hit| {
            (
                hit["_id"].as_str().unwrap().to_owned(),
                hit["_index"].as_str().unwrap().to_owned(),
                hit["_source"].clone(),
            )
        })
        .collect()
}

/// `alias -> (index, is_write_index)` from `_cat/aliases`.
async fn aliases(osmem: &str) -> Vec<(String, String, String)> {
    let answer: Value = reqwest::get(format!("{osmem}/_cat/aliases?format=json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut all: Vec<(String, String, String)> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["alias"].as_str().unwrap().to_owned(),
                a["index"].as_str().unwrap().to_owned(),
                a["is_write_index"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_lands_in_history_once_and_quarantines_are_counted() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[MEMBER], &[PRIMARY_REGION])
        .await
        .unwrap();
    let central = deployed.central.clone();
    let prefix = central.index_prefix.clone();
    let osmem = stack.osmem.url.clone();
    let facts = scenario::create_workloads(&stack, MEMBER, PRIMARY_REGION, 1)
        .await
        .unwrap();
    let version = |epoch: i64| scenario::inspector2_ec2_finding(&facts[0], 0, epoch);
    let first = version(UPDATED);
    let arn = first["findingArn"].as_str().unwrap().to_owned();
    let newest = version(UPDATED + 2 * 86_400);
    let older = version(UPDATED + 86_400);
    let mut out_of_range = scenario::inspector2_ec2_finding(&facts[0], 1, UPDATED);
    out_of_range["updatedAt"] = json!("2014-06-01T00:00:00Z");

    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let esm = crate::mapping(&stack, &deployed).await;
    // The first version with two messages that are set aside: one that
    // never decodes, one whose finding has an update time no version may
    // have (its account and region were validated).
    let deliveries = [
        vec![
            inspector2_event(&first),
            "{\"truncated\": ".to_owned(),
            inspector2_event(&out_of_range),
        ],
        vec![inspector2_event(&newest)],
        // Delivered after the newest: the latest index keeps the newest.
        vec![inspector2_event(&older)],
    ];
    for bodies in &deliveries {
        scenario::send_raw(&stack, &central, bodies).await.unwrap();
        let drained = esm
            .drain(&mut collector, scenario::DRAIN_LIMIT)
            .await
            .unwrap();
        assert_eq!(drained.failures_reported, 0, "{drained:?}");
    }

    // On a new cluster the latest and history names are write aliases
    // over their first indices.
    let latest_name = format!("{prefix}-findings");
    let history_alias = format!("{latest_name}-history");
    let found = aliases(&osmem).await;
    for alias in [&latest_name, &history_alias] {
        assert!(
            found.contains(&(alias.clone(), format!("{alias}-000001"), "true".into())),
            "{alias}: {found:?}"
        );
    }

    // The latest index: one document, the newest version.
    let latest = search(&osmem, &latest_name, json!({"match_all": {}})).await;
    assert_eq!(latest.len(), 1, "{latest:?}");
    let (id, index, document) = &latest[0];
    assert_eq!(id, &hex::encode(Sha256::digest(arn.as_bytes())));
    assert_eq!(index, &format!("{latest_name}-000001"));
    assert_eq!(
        document["finding_info"]["modified_time_dt"],
        "2026-01-03T00:00:00.000Z"
    );

    // History: one document per version, the older update included, each
    // under its version id, the same document the archive holds.
    let by_finding = json!({"term": {"finding_info.uid": arn}});
    let history = search(&osmem, &format!("{history_alias}*"), by_finding.clone()).await;
    let times: BTreeSet<&str> = history
        .iter()
        .map(|(_, _, d)| d["finding_info"]["modified_time_dt"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        BTreeSet::from([
            "2026-01-01T00:00:00.000Z",
            "2026-01-02T00:00:00.000Z",
            "2026-01-03T00:00:00.000Z"
        ]),
        "{history:?}"
    );
    assert_eq!(history.len(), 3);
    let archived: Vec<Value> = scenario::archived_records(&stack, &central)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    for (id, index, document) in &history {
        assert_eq!(document["metadata"]["uid"].as_str(), Some(id.as_str()));
        assert_eq!(index, &format!("{history_alias}-000001"));
        assert!(
            archived.contains(document),
            "history holds what the archive holds"
        );
    }
    let all_history = search(
        &osmem,
        &format!("{history_alias}*"),
        json!({"match_all": {}}),
    )
    .await;
    assert_eq!(all_history.len(), 3, "nothing else in history");

    // Redelivering every version adds no history document.
    let again: Vec<String> = [&first, &newest, &older]
        .into_iter()
        .map(inspector2_event)
        .collect();
    scenario::send_raw(&stack, &central, &again).await.unwrap();
    let drained = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(
        (drained.messages_delivered, drained.failures_reported),
        (3, 0)
    );
    let after = search(&osmem, &format!("{history_alias}*"), by_finding).await;
    assert_eq!(after.len(), 3, "{after:?}");

    // One health document per quarantine object, naming it.
    let objects = scenario::quarantined(&stack, &central).await.unwrap();
    assert_eq!(objects.len(), 2, "{objects:?}");
    let health = search(
        &osmem,
        &format!("{prefix}-quarantine"),
        json!({"match_all": {}}),
    )
    .await;
    assert_eq!(health.len(), 2, "{health:?}");
    for (key, object) in &objects {
        let (id, _, document) = health
            .iter()
            .find(|(_, _, d)| d["key"] == key.as_str())
            .unwrap_or_else(|| panic!("no health document for {key}: {health:?}"));
        assert_eq!(id, &hex::encode(Sha256::digest(key.as_bytes())));
        assert_eq!(document["reason"], object["reason"]);
        let quarantined_at =
            chrono::DateTime::parse_from_rfc3339(object["quarantined_at"].as_str().unwrap())
                .unwrap();
        assert_eq!(
            document["time"].as_i64(),
            Some(quarantined_at.timestamp_millis())
        );
        match object["reason"].as_str().unwrap() {
            "malformed_json" => {
                assert_eq!(document["source"], "unknown");
                assert!(document.get("account_id").is_none() && document.get("region").is_none());
            }
            "version_out_of_range" => {
                assert_eq!(document["source"], "inspector2");
                assert_eq!(
                    (&document["account_id"], &document["region"]),
                    (&json!(MEMBER), &json!(PRIMARY_REGION))
                );
            }
            other => panic!("unexpected reason {other}"),
        }
    }
    // The health documents count by reason, as a dashboard asks.
    let counted: Value = reqwest::Client::new()
        .post(format!("{osmem}/{prefix}-quarantine/_search"))
        .json(&json!({"size": 0, "aggs": {"reasons": {"terms": {"field": "reason"}}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counted["aggregations"]["reasons"]["buckets"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{counted}"
    );

    // The installer on the cluster the collector bootstrapped: what the
    // collector installed reads back unchanged, the rest is added once.
    let url = url::Url::parse(&osmem).unwrap();
    let indexer = OpenSearchIndexer::new(&url, &SearchAuth::None, None, None).unwrap();
    let first_run = install::install(&indexer, &prefix, &IsmSettings::default())
        .await
        .unwrap();
    let unchanged = |name: &str| {
        first_run
            .items
            .iter()
            .any(|i| i.name == name && i.change == Change::Unchanged)
    };
    for name in [
        latest_name.as_str(),
        history_alias.as_str(),
        &format!("{prefix}-ledger"),
        &format!("{prefix}-quarantine"),
    ] {
        assert!(unchanged(name), "{name}:\n{first_run}");
    }
    let second_run = install::install(&indexer, &prefix, &IsmSettings::default())
        .await
        .unwrap();
    assert_eq!(second_run.changed(), 0, "{second_run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installer_is_idempotent_and_keeps_a_concrete_latest_index() {
    let osmem = OsmemServer::start().await.unwrap();
    let http = reqwest::Client::new();
    // A cluster from before the aliases: the detections index is concrete.
    http.put(format!("{}/fanin-detections", osmem.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let url = url::Url::parse(&osmem.url).unwrap();
    let indexer = OpenSearchIndexer::new(&url, &SearchAuth::None, None, None).unwrap();

    let first = install::install(&indexer, "fanin", &IsmSettings::default())
        .await
        .unwrap();
    let change_of = |name: &str, kind: &str| {
        first
            .items
            .iter()
            .find(|i| i.name == name && i.kind == kind)
            .map(|i| i.change)
    };
    assert_eq!(
        change_of("fanin-findings-history", "index template"),
        Some(Change::Created)
    );
    assert_eq!(
        change_of("fanin-findings", "write alias"),
        Some(Change::Created)
    );
    assert_eq!(
        change_of("fanin-detections", "write alias"),
        Some(Change::Unchanged),
        "a concrete index of that name is left as it is"
    );
    assert_eq!(
        change_of("fanin-history-rollover", "ISM policy"),
        Some(Change::NotAvailable)
    );
    assert_eq!(first.warnings.len(), 1, "{first}");
    assert!(
        first.warnings[0].starts_with(&format!(
            "ISM plugin not available on {}: history indices will not roll over",
            url.origin().ascii_serialization()
        )),
        "{}",
        first.warnings[0]
    );

    let second = install::install(&indexer, "fanin", &IsmSettings::default())
        .await
        .unwrap();
    assert_eq!(second.changed(), 0, "{second}");
    assert_eq!(second.items.len(), first.items.len());

    // The first history index has the history template: its mapping and
    // the rollover alias ISM needs.
    let settings: Value = http
        .get(format!(
            "{}/fanin-detections-history-000001/_settings",
            osmem.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        settings["fanin-detections-history-000001"]["settings"]["index"]["plugins"]["index_state_management"]
            ["rollover_alias"],
        "fanin-detections-history"
    );
    let mapping: Value = http
        .get(format!(
            "{}/fanin-findings-history-000001/_mapping",
            osmem.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        mapping["fanin-findings-history-000001"]["mappings"]["properties"]["vulnerabilities"]["properties"]
            ["cve"]["properties"]["uid"]["type"],
        "keyword"
    );
    let found = aliases(&osmem.url).await;
    assert!(
        found
            .iter()
            .all(|(alias, _, _)| alias != "fanin-detections"),
        "{found:?}"
    );
}
