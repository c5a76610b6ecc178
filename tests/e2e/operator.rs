//! The operator CLI (`target/debug/fanin`) on the local stack, run as an
//! operator runs it: central credentials, no ARNs, every place from the
//! deployed central stack. The numbers it prints are checked against
//! counts this file computes itself from the archive's records.
//!
//! The scenario: two application accounts, three instances each (even ones
//! public web servers with 443 open to the internet), six Inspector2
//! findings per instance (every severity), then a CLOSED version of some of
//! them, and a critical finding whose title is markup.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use fanin_devstack::scenario::{self, Central, LocalStack, PRIMARY_REGION};
use serde_json::Value;

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
const T0: i64 = 1_767_225_600;
const HOSTILE_TITLE: &str = "<script>document.title='owned'</script><img src=x onerror=alert(1)>";

/// The local stack after the scenario went through the deployed pipeline.
async fn scenario() -> (LocalStack, Central) {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &ACCOUNTS, &[PRIMARY_REGION])
        .await
        .unwrap();
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let mapping = crate::mapping(&stack, &deployed).await;
    for account in ACCOUNTS {
        let facts = scenario::create_workloads(&stack, account, PRIMARY_REGION, 3)
            .await
            .unwrap();
        let mut findings = scenario::inspector2_fleet_findings(&facts, 6, T0);
        // The first instance is public (internet-exposed); its critical
        // finding gets a title that is markup.
        findings[0]["title"] = HOSTILE_TITLE.into();
        scenario::emit_inspector2(&stack, account, PRIMARY_REGION, &findings)
            .await
            .unwrap();
        mapping
            .drain(&mut collector, scenario::DRAIN_LIMIT)
            .await
            .unwrap();
        // Later, the HIGH and LOW findings of the first instance are closed:
        // a second version of each.
        let closed: Vec<Value> = [1usize, 3]
            .into_iter()
            .map(|i| {
                let mut finding = scenario::inspector2_ec2_finding(&facts[0], i, T0 + 3_600);
                finding["status"] = "CLOSED".into();
                finding
            })
            .collect();
        scenario::emit_inspector2(&stack, account, PRIMARY_REGION, &closed)
            .await
            .unwrap();
        mapping
            .drain(&mut collector, scenario::DRAIN_LIMIT)
            .await
            .unwrap();
    }
    (stack, deployed.central)
}

/// What the archive holds, counted here without the CLI's code.
struct ArchiveCounts {
    versions: usize,
    /// The newest version of each finding (by update time).
    latest: BTreeMap<String, Value>,
}

impl ArchiveCounts {
    async fn read(stack: &LocalStack, central: &Central) -> Self {
        let records = scenario::archived_records(stack, central).await.unwrap();
        let versions: BTreeSet<String> = records
            .iter()
            .map(|(_, r)| r["metadata"]["uid"].as_str().unwrap().to_owned())
            .collect();
        let mut latest: BTreeMap<String, Value> = BTreeMap::new();
        for (_, record) in records {
            let uid = record["finding_info"]["uid"].as_str().unwrap().to_owned();
            let newer = latest
                .get(&uid)
                .is_none_or(|kept| record["time"].as_i64() > kept["time"].as_i64());
            if newer {
                latest.insert(uid, record);
            }
        }
        Self {
            versions: versions.len(),
            latest,
        }
    }

    fn open(&self) -> impl Iterator<Item = &Value> {
        // Open: not 3 Suppressed, 4 Resolved, 5 Archived or 6 Deleted.
        self.latest
            .values()
            .filter(|r| !matches!(r["status_id"].as_u64(), Some(3..=6)))
    }

    fn open_by(&self, key: impl Fn(&Value) -> String) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for record in self.open() {
            *counts.entry(key(record)).or_default() += 1;
        }
        counts
    }
}

fn severity_caption(record: &Value) -> String {
    match record["severity_id"].as_u64().unwrap() {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        99 => "Other",
        _ => "Unknown",
    }
    .to_owned()
}

/// Runs `fanin <args>` as the central account's operator.
async fn fanin(stack: &LocalStack, args: &[&str]) -> Output {
    fanin_devstack::operator::command(stack, args)
        .output()
        .await
        .expect("target/debug/fanin runs (cargo build --workspace --bins)")
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "fanin failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `_id` → `_source` of every document of `index` (straight from osmem).
async fn documents(stack: &LocalStack, index: &str) -> BTreeMap<String, Value> {
    let body = serde_json::json!({"size": 10000, "query": {"match_all": {}}});
    let answer = fanin_tests::search(&stack.osmem.url, index, &body).await;
    answer["hits"]["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|h| (h["_id"].as_str().unwrap().to_owned(), h["_source"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// `_id` → `_version` (the external version) of every document of `index`.
async fn versions(stack: &LocalStack, index: &str) -> BTreeMap<String, i64> {
    let body = serde_json::json!({"size": 10000, "version": true, "query": {"match_all": {}}});
    let answer = fanin_tests::search(&stack.osmem.url, index, &body).await;
    answer["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["_id"].as_str().unwrap().to_owned(),
                h["_version"].as_i64().expect("hits carry _version"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_rebuilds_the_index_from_the_archive_and_resumes() {
    let (stack, central) = scenario().await;
    let archive = ArchiveCounts::read(&stack, &central).await;
    assert!(
        archive.versions > archive.latest.len(),
        "the scenario has findings with two versions"
    );
    let objects = scenario::bucket_keys(&stack, &central, "findings/")
        .await
        .unwrap();
    assert!(objects.len() >= 3, "{objects:?}");
    let dir = std::env::temp_dir().join(format!("fanin-backfill-{}", uuid_like()));
    let checkpoint = dir.join("checkpoint.json");
    let checkpoint_arg = checkpoint.to_str().unwrap();
    // A new, empty "cluster": another index prefix on the same server.
    let rebuild = [
        "backfill",
        "--index-prefix",
        "rebuilt",
        "--checkpoint",
        checkpoint_arg,
    ];

    let first = stdout_of(&fanin(&stack, &[&rebuild[..], &["--limit", "1"]].concat()).await);
    assert!(first.contains("from 1 object(s)"), "{first}");
    assert!(first.contains("stopped at --limit"), "{first}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    let mut sorted = objects.clone();
    sorted.sort();
    assert_eq!(
        saved["last_key"],
        sorted[0].as_str(),
        "the checkpoint is the first object"
    );
    let partial = documents(&stack, "rebuilt-findings-history").await;
    assert!(!partial.is_empty() && partial.len() < archive.versions);

    let second = stdout_of(&fanin(&stack, &rebuild).await);
    assert!(
        second.contains(&format!("resumed after {}", sorted[0])),
        "{second}"
    );
    assert!(
        second.contains(&format!("from {} object(s)", sorted.len() - 1)),
        "only the rest is written: {second}"
    );
    let count_line = format!(
        "archive: {} versions, {} findings; index now: {} latest, {} history",
        archive.versions,
        archive.latest.len(),
        archive.latest.len(),
        archive.versions
    );
    assert!(
        second.contains(&count_line),
        "{second}\nexpected: {count_line}"
    );

    // The rebuilt latest state is the collector's, document for document,
    // and the history holds every archived version under its version id.
    let collected = documents(&stack, &format!("{}-findings", central.index_prefix)).await;
    let rebuilt = documents(&stack, "rebuilt-findings").await;
    assert_eq!(rebuilt, collected);
    // On the empty cluster, both names became write aliases (the contract).
    for alias in ["rebuilt-findings", "rebuilt-findings-history"] {
        let aliases: Value = reqwest::get(format!("{}/_alias/{alias}", stack.osmem.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            aliases[format!("{alias}-000001")]["aliases"][alias]["is_write_index"],
            true,
            "{aliases}"
        );
    }
    let history = documents(&stack, "rebuilt-findings-history").await;
    assert_eq!(history.len(), archive.versions);
    for (id, document) in &history {
        assert_eq!(document["metadata"]["uid"], id.as_str());
    }
    for document in rebuilt.values() {
        let uid = document["finding_info"]["uid"].as_str().unwrap();
        assert_eq!(document, &archive.latest[uid], "the newest version wins");
    }

    // Without the ledger, the versions are rebuilt from the documents: the
    // same update time and state as the collector's.
    let collected_index = format!("{}-findings", central.index_prefix);
    let collector_versions = versions(&stack, &collected_index).await;
    let rebuilt_versions = versions(&stack, "rebuilt-findings").await;
    assert_eq!(
        rebuilt_versions.keys().collect::<Vec<_>>(),
        collector_versions.keys().collect::<Vec<_>>()
    );
    for (id, version) in &rebuilt_versions {
        assert_eq!(version / 250_000, collector_versions[id] / 250_000, "{id}");
    }

    // Again from the start: nothing changes.
    let again = stdout_of(&fanin(&stack, &[&rebuild[..], &["--restart"]].concat()).await);
    assert!(again.contains(&count_line), "{again}");
    assert_eq!(documents(&stack, "rebuilt-findings").await, rebuilt);
    assert_eq!(documents(&stack, "rebuilt-findings-history").await, history);
    assert_eq!(versions(&stack, "rebuilt-findings").await, rebuilt_versions);

    // Into the collector's own indices (the prefix from the stack): the
    // ledger's exact versions, so the latest state stays as it is and the
    // history is filled in.
    let own_checkpoint = dir.join("own.json");
    let own = stdout_of(
        &fanin(
            &stack,
            &["backfill", "--checkpoint", own_checkpoint.to_str().unwrap()],
        )
        .await,
    );
    assert!(own.contains(&count_line), "{own}");
    assert_eq!(documents(&stack, &collected_index).await, collected);
    assert_eq!(versions(&stack, &collected_index).await, collector_versions);
    assert_eq!(
        documents(&stack, &format!("{collected_index}-history"))
            .await
            .len(),
        archive.versions
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_counts_open_findings_like_the_archive() {
    let (stack, central) = scenario().await;
    let archive = ArchiveCounts::read(&stack, &central).await;
    let expected = serde_json::json!({
        "findings": archive.latest.len(),
        "open": archive.open().count(),
        "by_severity": archive.open_by(severity_caption),
        "by_account": archive.open_by(|r| r["cloud"]["account"]["uid"].as_str().unwrap().to_owned()),
        "by_region": archive.open_by(|r| r["cloud"]["region"].as_str().unwrap().to_owned()),
        "by_source": archive.open_by(|r| r["metadata"]["product"]["name"].as_str().unwrap().to_owned()),
    });
    assert_eq!(expected["by_account"].as_object().unwrap().len(), 2);
    assert!(
        archive.open().count() < archive.latest.len(),
        "some are closed"
    );

    let from_index: Value =
        serde_json::from_str(&stdout_of(&fanin(&stack, &["summary", "--json"]).await)).unwrap();
    assert_eq!(from_index, expected, "aggregations on the index");
    let from_archive: Value = serde_json::from_str(&stdout_of(
        &fanin(&stack, &["summary", "--json", "--from-archive"]).await,
    ))
    .unwrap();
    assert_eq!(from_archive, expected, "the archive read by the CLI");

    let tables = stdout_of(&fanin(&stack, &["summary"]).await);
    assert!(
        tables.starts_with(&format!(
            "open findings: {} of {}",
            expected["open"], expected["findings"]
        )),
        "{tables}"
    );
    for (account, count) in expected["by_account"].as_object().unwrap() {
        assert!(
            tables
                .lines()
                .any(|l| l.starts_with(account.as_str())
                    && l.trim_end().ends_with(&format!(" {count}"))),
            "{account} {count}\n{tables}"
        );
    }

    // No deployed stack by that name: the error says what to do.
    let missing = fanin(&stack, &["summary", "--stack-set", "fanin-elsewhere"]).await;
    assert!(!missing.status.success());
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(
        error.contains(&format!(
            "no stack instance of fanin-elsewhere in account {} region {PRIMARY_REGION}: deploy it",
            scenario::CENTRAL_ACCOUNT
        )) && error.contains("--opensearch-endpoint"),
        "{error}"
    );

    // Redrive finds its bucket and queues in the stack too.
    let dry = stdout_of(&fanin(&stack, &["redrive", "--dry-run"]).await);
    assert_eq!(
        dry, "would move 0 quarantined and 0 dead-lettered message(s)\n",
        "nothing was set aside in this scenario"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_renders_in_chromium_with_the_archive_s_numbers() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "Chromium renders the report: run scripts/setup"
    );
    let (stack, central) = scenario().await;
    let archive = ArchiveCounts::read(&stack, &central).await;
    let dir = std::env::temp_dir().join(format!("fanin-report-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();

    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    expected.insert("findings".into(), archive.latest.len() as u64);
    expected.insert("open".into(), archive.open().count() as u64);
    let critical = |r: &&Value| r["severity_id"] == 5;
    let exposed = |r: &&Value| r["unmapped"]["fanin"]["network"]["internet_exposed"] == true;
    expected.insert(
        "open-critical".into(),
        archive.open().filter(critical).count() as u64,
    );
    expected.insert(
        "exposed-critical".into(),
        archive.open().filter(critical).filter(exposed).count() as u64,
    );
    for (severity, count) in archive.open_by(severity_caption) {
        expected.insert(format!("open-by-severity:{severity}"), count);
    }
    for account in ACCOUNTS {
        let mine = |r: &&Value| r["cloud"]["account"]["uid"] == account;
        expected.insert(
            format!("account:{account}:open"),
            archive.open().filter(mine).count() as u64,
        );
        expected.insert(
            format!("account:{account}:critical"),
            archive.open().filter(mine).filter(critical).count() as u64,
        );
        expected.insert(
            format!("account:{account}:exposed-critical"),
            archive
                .open()
                .filter(mine)
                .filter(critical)
                .filter(exposed)
                .count() as u64,
        );
    }
    assert!(expected["exposed-critical"] > 0, "{expected:?}");

    for (name, extra) in [("archive", &[][..]), ("index", &["--from-index"][..])] {
        let out = dir.join(format!("report-{name}.html"));
        let args = [&["report", "--out", out.to_str().unwrap()][..], extra].concat();
        stdout_of(&fanin(&stack, &args).await);
        let dom = render_in_chromium(chromium, &out, &dir).await;
        let shown = metrics(&dom);
        for (metric, value) in &expected {
            assert_eq!(shown.get(metric), Some(value), "{name}: {metric}");
        }
        // The hostile title is shown as text, in the top risks and the
        // exposed list, and nothing of it became an element.
        assert!(!dom.contains("<script"), "{name}: no script element");
        assert!(!dom.contains("<img"), "{name}: no injected element");
        assert!(
            dom.matches("&lt;script&gt;document.title='owned'&lt;/script&gt;")
                .count()
                >= 2,
            "{name}"
        );
        assert!(
            dom.contains("<title>fanin findings report</title>"),
            "{name}: the title stayed"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The DOM Chromium built from the file, headless and offline.
async fn render_in_chromium(chromium: &Path, file: &Path, dir: &Path) -> String {
    let profile = dir.join("chromium-profile");
    let output = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .await
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `data-metric="<name>">N<` pairs of a serialized DOM.
fn metrics(dom: &str) -> BTreeMap<String, u64> {
    dom.split("data-metric=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let (_, rest) = rest.split_once('>')?;
            let (value, _) = rest.split_once('<')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
