//! The collector binary as a long-running poller (`--poll`): the same
//! pipeline, receiving from, deleting on and releasing to the queue itself.
//! It gathers batches as the deployed event-source mapping does, stops on
//! SIGTERM or SIGINT without stranding a message, and exits 0.

use std::collections::BTreeSet;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanin_devstack::lambda_host::workspace_binary;
use fanin_devstack::scenario::{self, Deployed, LocalStack};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::{deployed_with_inspector2, documents_by_uid, mapping};

/// The collector started with `--poll`, its JSON log lines collected.
struct Poller {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Poller {
    /// Starts the poller with the deployed collector's environment, the
    /// deployed mapping's batch size and window, and `overrides`.
    fn start(stack: &LocalStack, deployed: &Deployed, overrides: &[(&str, String)]) -> Self {
        let mut env = scenario::collector_env(stack, deployed);
        env.push((
            "FANIN_BATCH_SIZE".into(),
            deployed.mapping.batch_size.to_string(),
        ));
        env.push((
            "FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS".into(),
            deployed.mapping.maximum_batching_window_seconds.to_string(),
        ));
        env.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let mut child = tokio::process::Command::new(workspace_binary("fanin-collector"))
            .arg("--poll")
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
        let collected = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                collected.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    /// The log lines whose message is `message`.
    fn logged(&self, message: &str) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["fields"]["message"] == message)
            .collect()
    }

    async fn wait_for_log(&self, message: &str, limit: Duration) -> Value {
        let started = tokio::time::Instant::now();
        while started.elapsed() < limit {
            if let Some(line) = self.logged(message).into_iter().next() {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "no {message:?} within {limit:?}: {:#?}",
            self.lines.lock().unwrap()
        );
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    async fn exit_status(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the poller exits after a stop signal")
            .unwrap()
    }
}

/// A TCP proxy to `upstream` that holds each request (the first bytes after
/// a quiet spell on the connection) for `delay`: a slow OpenSearch.
async fn slow_proxy(upstream: String, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let mut buffer = vec![0; 64 * 1024];
                let mut last = None::<tokio::time::Instant>;
                loop {
                    let n = match client_read.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if last.is_none_or(|at| at.elapsed() > Duration::from_millis(50)) {
                        tokio::time::sleep(delay).await;
                    }
                    if server_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                    last = Some(tokio::time::Instant::now());
                }
                let _ = server_write.shutdown().await;
            });
        }
    });
    url
}

/// Waits until the queue has `expected` (visible, in flight) messages.
async fn wait_for_depth(esm: &fanin_devstack::esm::EventSourceMapping, expected: (u64, u64)) {
    let mut depth = (0, 0);
    for _ in 0..300 {
        depth = esm.depth().await.unwrap();
        if depth == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(depth, expected, "queue depth (visible, in flight)");
}

/// Runs a second poller until the queue is empty, then stops it with SIGTERM.
async fn drain(stack: &LocalStack, deployed: &Deployed, expected: usize) {
    let central = &deployed.central;
    let esm = mapping(stack, deployed).await;
    let mut poller = Poller::start(stack, deployed, &[]);
    for _ in 0..240 {
        if documents_by_uid(stack, central).await.len() == expected
            && esm.depth().await.unwrap() == (0, 0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    poller.signal("TERM");
    assert_eq!(
        poller.exit_status(Duration::from_secs(30)).await.code(),
        Some(0)
    );
    assert_eq!(esm.depth().await.unwrap(), (0, 0), "every message deleted");
    assert_eq!(documents_by_uid(stack, central).await.len(), expected);
    let archived = scenario::archived_records(stack, central).await.unwrap();
    let uids: BTreeSet<&str> = archived
        .iter()
        .map(|(_, record)| record["finding_info"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        (archived.len(), uids.len()),
        (expected, expected),
        "each finding archived exactly once"
    );
    assert_eq!(scenario::dlq_depth(stack, central).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_drains_the_queue() {
    let (stack, deployed, events) =
        deployed_with_inspector2("333333333333", "eu-west-1", 2, 3).await;
    drain(&stack, &deployed, events.len()).await;
}

/// SIGTERM while a batch is being processed (OpenSearch answers slowly):
/// the batch is finished and its messages deleted, nothing is left in
/// flight, the process exits 0, and a second poller stores the rest exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_batch_in_hand_and_exits_0() {
    // 150 messages: the first batch takes the deployed batch size (100).
    let (stack, deployed, events) =
        deployed_with_inspector2("444444444444", "eu-west-1", 15, 10).await;
    let central = deployed.central.clone();
    let esm = mapping(&stack, &deployed).await;
    wait_for_depth(&esm, (150, 0)).await;
    let upstream = stack
        .opensearch_url()
        .trim_start_matches("http://")
        .to_owned();
    let slow_opensearch = slow_proxy(upstream, Duration::from_millis(1500)).await;

    let mut poller = Poller::start(
        &stack,
        &deployed,
        &[("FANIN_OPENSEARCH_URL", slow_opensearch)],
    );
    let gathered = poller
        .wait_for_log("batch gathered", Duration::from_secs(60))
        .await;
    assert_eq!(gathered["fields"]["messages"], 100, "{gathered}");
    poller.signal("TERM");
    let status = poller.exit_status(Duration::from_secs(60)).await;
    let (visible, in_flight) = esm.depth().await.unwrap();

    assert_eq!(status.code(), Some(0), "{status:?}");
    let stop = &poller.logged("stop requested")[0];
    assert_eq!(
        stop["fields"]["during"], "process",
        "the signal came while the batch was in flight: {stop}"
    );
    let processed = &poller.logged("batch processed")[0];
    assert_eq!(processed["fields"]["stored"], 100, "{processed}");
    // Timestamps outside Lambda, in RFC 3339 UTC.
    let timestamp = gathered["timestamp"].as_str().unwrap_or_default();
    assert!(
        timestamp.len() >= 20 && timestamp.contains('T') && timestamp.ends_with('Z'),
        "{gathered}"
    );

    assert_eq!(
        (visible, in_flight),
        (50, 0),
        "the finished batch deleted, the rest never received"
    );
    assert_eq!(documents_by_uid(&stack, &central).await.len(), 100);
    assert_eq!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .len(),
        100
    );
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);

    drain(&stack, &deployed, events.len()).await;
}

/// SIGINT while a batch is being gathered (a long window): what was
/// received is visible again at once, nothing is stored, the process exits
/// 0, and a second poller stores everything exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_while_gathering_makes_the_received_messages_visible_at_once() {
    let (stack, deployed, events) =
        deployed_with_inspector2("555555555555", "eu-west-1", 3, 10).await;
    let central = deployed.central.clone();
    let esm = mapping(&stack, &deployed).await;
    wait_for_depth(&esm, (30, 0)).await;

    let mut poller = Poller::start(
        &stack,
        &deployed,
        &[
            ("FANIN_BATCH_SIZE", "1000".into()),
            ("FANIN_MAXIMUM_BATCHING_WINDOW_SECONDS", "300".into()),
        ],
    );
    // The poller holds every message while it gathers.
    wait_for_depth(&esm, (0, 30)).await;
    poller.signal("INT");
    let status = poller.exit_status(Duration::from_secs(30)).await;
    let depth = esm.depth().await.unwrap();

    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(
        depth,
        (30, 0),
        "visible again at once, not after the visibility timeout"
    );
    assert!(poller.logged("batch gathered").is_empty());
    assert!(documents_by_uid(&stack, &central).await.is_empty());
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);

    drain(&stack, &deployed, events.len()).await;
}

const BATCHING_ACCOUNTS: [&str; 4] = [
    "610000000001",
    "610000000002",
    "610000000003",
    "610000000004",
];
const BATCHING_REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"];
const COLLECTOR: &str = "fanin-collector";

/// What the collector asked of AWS and OpenSearch for one drained queue.
#[derive(Debug)]
struct CallFigures {
    findings: usize,
    aws_calls: u64,
    sqs_calls: u64,
    s3_objects: u64,
    opensearch_requests: u64,
}

impl CallFigures {
    fn per_finding(&self, count: u64) -> f64 {
        count as f64 / self.findings as f64
    }

    fn report(&self, arrival: &str) -> Value {
        json!({
            "arrival": arrival,
            "findings": self.findings,
            "aws_calls_per_finding": self.per_finding(self.aws_calls),
            "aws_calls_per_finding_without_sqs": self.per_finding(self.aws_calls - self.sqs_calls),
            "s3_objects_per_finding": self.per_finding(self.s3_objects),
            "opensearch_requests_per_finding": self.per_finding(self.opensearch_requests),
            "calls": {
                "aws": self.aws_calls,
                "sqs": self.sqs_calls,
                "s3_objects": self.s3_objects,
                "opensearch": self.opensearch_requests,
            },
        })
    }
}

/// Starts a poller on a full queue, lets it drain, stops it and counts its calls.
async fn measure(stack: &LocalStack, deployed: &Deployed, findings: usize) -> CallFigures {
    let esm = mapping(stack, deployed).await;
    wait_for_depth(&esm, (findings as u64, 0)).await;
    stack.gateway.reset_calls();
    let mut poller = Poller::start(stack, deployed, &[]);
    for _ in 0..1200 {
        if esm.depth().await.unwrap() == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    poller.signal("TERM");
    assert_eq!(
        poller.exit_status(Duration::from_secs(30)).await.code(),
        Some(0)
    );
    assert_eq!(esm.depth().await.unwrap(), (0, 0), "drained");
    let calls = stack.gateway.calls();
    let sum = |keep: &dyn Fn(&fanin_devstack::gateway::CallCount) -> bool| -> u64 {
        calls.iter().filter(|c| keep(c)).map(|c| c.count).sum()
    };
    CallFigures {
        findings,
        aws_calls: sum(&|c| c.caller == COLLECTOR),
        sqs_calls: sum(&|c| c.caller == COLLECTOR && c.service == "sqs"),
        s3_objects: sum(&|c| c.caller == COLLECTOR && c.operation == "PutObject"),
        opensearch_requests: sum(&|c| c.service == "opensearch"),
    }
}

/// Calls per finding with the deployed batch size, for findings arriving
/// grouped by account and region and for 16 account-regions arriving
/// mixed (each receive of 10 spans 10 of them). Prints the figures of
/// `docs/benchmarks.md`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_batches_like_the_event_source_mapping() {
    let stack = LocalStack::start().await.unwrap();
    let deployed =
        fanin_devstack::deployment::deploy(&stack, &BATCHING_ACCOUNTS, &BATCHING_REGIONS)
            .await
            .unwrap();
    let central = deployed.central.clone();
    let mut fleets = Vec::new();
    for account in BATCHING_ACCOUNTS {
        for region in BATCHING_REGIONS {
            let facts = scenario::create_workloads(&stack, account, region, 2)
                .await
                .unwrap();
            fleets.push((account, region, facts));
        }
    }
    // 20 findings per account-region, 320 in all.
    let updated = 1_767_225_600;
    let grouped: Vec<_> = fleets
        .iter()
        .map(|(account, region, facts)| {
            (
                *account,
                *region,
                scenario::inspector2_fleet_findings(facts, 10, updated),
            )
        })
        .collect();
    let findings: usize = grouped.iter().map(|(_, _, events)| events.len()).sum();
    for (account, region, events) in &grouped {
        scenario::emit_inspector2(&stack, account, region, events)
            .await
            .unwrap();
    }
    let grouped_figures = measure(&stack, &deployed, findings).await;

    // The same findings updated an hour later, sent one account-region after another.
    for i in 0..20 {
        for (account, region, facts) in &fleets {
            let event = scenario::inspector2_ec2_finding(&facts[i / 10], i % 10, updated + 3600);
            scenario::emit_inspector2(&stack, account, region, &[event])
                .await
                .unwrap();
        }
    }
    let mixed_figures = measure(&stack, &deployed, findings).await;

    println!("{}", grouped_figures.report("grouped"));
    println!("{}", mixed_figures.report("mixed"));
    assert_eq!(documents_by_uid(&stack, &central).await.len(), findings);
    assert_eq!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .len(),
        2 * findings,
        "both versions of each finding archived once"
    );
    // 100 messages a batch: one object per account-region and batch.
    assert!(
        mixed_figures.per_finding(mixed_figures.s3_objects) <= 0.25,
        "{mixed_figures:?}"
    );
    assert!(
        mixed_figures.per_finding(mixed_figures.aws_calls) <= 1.0,
        "{mixed_figures:?}"
    );
    assert!(
        grouped_figures.per_finding(grouped_figures.aws_calls) <= 0.5,
        "{grouped_figures:?}"
    );
}
