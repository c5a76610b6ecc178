//! The fault suite: the real collector against the local stack while the
//! gateway injects what its dependencies do on a bad day (throttling in
//! each service's words, 5xx, per-item bulk rejections, outages, slowness,
//! hangs), a role that stops trusting fanin mid-run, a collector killed in
//! the middle of a batch, and duplicated and reordered updates. Each
//! scenario ends in the same exact reconciliation ([`reconcile`]): every
//! finding version sent is archived exactly once, every finding is indexed
//! once with its newest state, every permanent failure is quarantined with
//! its reason, and the queue and the dead-letter queue hold what they should.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use fanin_devstack::gateway::{ErrorKind, Fault, FaultRule, When};
use fanin_devstack::scenario::{self, Deployed, LocalStack, PRIMARY_REGION};
use serde_json::{Value, json};

use crate::{deployed_with_inspector2, documents_by_uid, mapping};

/// What a scenario sent, and what it expects at the end.
#[derive(Debug, Default)]
pub struct Expected {
    /// Finding uid → the update times (epoch ms) of the versions sent; empty
    /// for a Classic finding (one version, whose time Inspector chose).
    pub versions: BTreeMap<String, BTreeSet<i64>>,
    /// Finding uid → the OCSF `status` its document must show.
    pub status: BTreeMap<String, String>,
    /// Finding uid → the enrichment status its document must show.
    pub enrichment: BTreeMap<String, String>,
    /// Quarantined messages by reason.
    pub quarantined: BTreeMap<String, usize>,
    pub dead_letters: u64,
}

impl Expected {
    /// Inspector2 events sent (each one version of its finding).
    pub fn inspector2(&mut self, events: &[Value]) {
        for event in events {
            self.versions
                .entry(event["findingArn"].as_str().unwrap().to_owned())
                .or_default()
                .insert(updated_ms(event));
        }
    }

    /// Classic findings reported (stored, one version each).
    pub fn classic(&mut self, arns: &[String]) {
        for arn in arns {
            self.versions.entry(arn.clone()).or_default();
        }
    }

    fn expect_status(&mut self, events: &[Value], status: &str) {
        for event in events {
            self.status.insert(
                event["findingArn"].as_str().unwrap().to_owned(),
                status.to_owned(),
            );
        }
    }
}

/// `updatedAt` of an Inspector2 event in epoch milliseconds, from any of
/// the three forms Inspector2 has used.
fn updated_ms(event: &Value) -> i64 {
    let text = event["updatedAt"].as_str().unwrap();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return time.timestamp_millis();
    }
    ["%b %d, %Y, %I:%M:%S %p", "%a %b %d %H:%M:%S%.3f UTC %Y"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .unwrap_or_else(|| panic!("updatedAt {text} in no known form"))
        .and_utc()
        .timestamp_millis()
}

/// The same findings updated `seconds` later with `status`.
fn updated(events: &[Value], seconds: i64, status: &str) -> Vec<Value> {
    events
        .iter()
        .map(|event| {
            let mut newer = event.clone();
            let time = updated_ms(event) / 1000 + seconds;
            newer["updatedAt"] = scenario::inspector2_time(time, 2);
            newer["status"] = json!(status);
            newer
        })
        .collect()
}

/// The exact reconciliation every scenario ends with.
pub async fn reconcile(stack: &LocalStack, deployed: &Deployed, expected: &Expected) {
    let central = &deployed.central;

    // Every version sent is archived exactly once, and nothing else is.
    let archived = scenario::archived_records(stack, central).await.unwrap();
    let mut archived_versions: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for (_, record) in &archived {
        let uid = record["finding_info"]["uid"].as_str().unwrap().to_owned();
        let time = record["finding_info"]["modified_time"]
            .as_i64()
            .unwrap_or(0);
        *archived_versions.entry((uid, time)).or_default() += 1;
    }
    let duplicated: Vec<_> = archived_versions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "archived more than once: {duplicated:?}"
    );
    let mut archived_by_uid: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for (uid, time) in archived_versions.keys() {
        archived_by_uid.entry(uid).or_default().insert(*time);
    }
    assert_eq!(
        archived_by_uid.keys().copied().collect::<BTreeSet<_>>(),
        expected.versions.keys().map(String::as_str).collect(),
        "the archived findings are the findings sent"
    );
    for (uid, sent) in &expected.versions {
        let stored = &archived_by_uid[uid.as_str()];
        if sent.is_empty() {
            assert_eq!(stored.len(), 1, "{uid}: one Classic version archived");
        } else {
            assert_eq!(stored, sent, "{uid}: the versions archived");
        }
    }

    // Every finding is indexed exactly once, with its newest state.
    let documents = scenario::indexed_documents(stack, central).await.unwrap();
    assert_eq!(
        documents.len(),
        expected.versions.len(),
        "indexed documents"
    );
    let by_uid = documents_by_uid(stack, central).await;
    assert_eq!(
        by_uid.keys().collect::<BTreeSet<_>>(),
        expected.versions.keys().collect(),
        "the indexed findings are the findings sent"
    );
    for (uid, sent) in &expected.versions {
        let document = &by_uid[uid];
        if let Some(newest) = sent.last() {
            assert_eq!(
                document["finding_info"]["modified_time"].as_i64(),
                Some(*newest),
                "{uid}: the index holds the newest version"
            );
        }
        if let Some(status) = expected.status.get(uid) {
            assert_eq!(document["status"], status.as_str(), "{uid}: status");
        }
        let enrichment = document["unmapped"]["fanin"]["enrichment"]["status"]
            .as_str()
            .unwrap();
        match expected.enrichment.get(uid) {
            Some(wanted) => assert_eq!(enrichment, wanted, "{uid}: enrichment"),
            // Nothing was denied: a fault never leaves a finding unenriched.
            None => assert!(
                ["enriched", "not_applicable", "no_instance"].contains(&enrichment),
                "{uid}: enrichment {enrichment}"
            ),
        }
    }

    // Each permanent failure is set aside once, with its reason.
    let mut quarantined: BTreeMap<String, usize> = BTreeMap::new();
    for (_, object) in scenario::quarantined(stack, central).await.unwrap() {
        *quarantined
            .entry(object["reason"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(quarantined, expected.quarantined, "quarantined by reason");

    // Nothing is left in flight; the dead-letter queue holds what it should.
    let depth = mapping(stack, deployed).await.depth().await.unwrap();
    assert_eq!(depth, (0, 0), "queue visible and in flight");
    assert_eq!(
        scenario::dlq_depth(stack, central).await.unwrap(),
        expected.dead_letters,
        "dead letters"
    );
}

fn collector_rule(service: &str, fault: Fault, when: When) -> FaultRule {
    FaultRule::new(service, fault)
        .caller("fanin-collector")
        .when(when)
}

fn error(error: ErrorKind) -> Fault {
    Fault::Error {
        error,
        status: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensearch_item_rejections_and_an_outage_reconcile_exactly() {
    let (stack, deployed, events) =
        deployed_with_inspector2("222222222222", "eu-west-1", 3, 4).await;
    let mut expected = Expected::default();
    expected.inspector2(&events);
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let esm = mapping(&stack, &deployed).await;

    // Half of the items of the next two bulk requests (findings and ledger
    // alike) answer 429.
    let rejections = stack.gateway.inject(
        FaultRule::new(
            "opensearch",
            Fault::BulkItemRejections {
                share: 0.5,
                seed: 5,
            },
        )
        .operation("_bulk")
        .when(When::Next { count: 2 }),
    );
    let stats = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert!(stack.gateway.injected(rejections) > 0);
    stack.gateway.remove_fault(rejections);
    assert_eq!(
        stats.messages_deleted,
        events.len(),
        "every message acknowledged once: {stats:?}"
    );
    reconcile(&stack, &deployed, &expected).await;

    // Two failed bulk requests. (The deployed Lambda absorbs them inside the
    // invocation; cargo-lambda's local runtime gives the collector a deadline
    // with no time left for back-off, so here they may go back to the queue.)
    let closed = updated(&events, 3600, "CLOSED");
    scenario::emit_inspector2(&stack, "222222222222", "eu-west-1", &closed)
        .await
        .unwrap();
    expected.inspector2(&closed);
    expected.expect_status(&closed, "Resolved");
    let blip = stack.gateway.inject(
        FaultRule::new("opensearch", error(ErrorKind::Unavailable))
            .operation("_bulk")
            .when(When::Next { count: 2 }),
    );
    let stats = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stack.gateway.injected(blip), 2);
    assert_eq!(stats.messages_deleted, closed.len(), "{stats:?}");
    reconcile(&stack, &deployed, &expected).await;

    // OpenSearch down (every request 503) for a window: the batch goes back
    // to the queue, and lands once the window is over.
    let reopened = updated(&events, 7200, "ACTIVE");
    scenario::emit_inspector2(&stack, "222222222222", "eu-west-1", &reopened)
        .await
        .unwrap();
    expected.inspector2(&reopened);
    expected.expect_status(&reopened, "New");
    let window = Duration::from_secs(3);
    stack.gateway.inject(
        FaultRule::new("opensearch", error(ErrorKind::Unavailable)).when(When::For {
            millis: window.as_millis() as u64,
        }),
    );
    let started = tokio::time::Instant::now();
    let mut stats = Default::default();
    let delivered = esm.round(&mut collector, &mut stats).await.unwrap();
    assert_eq!(delivered, reopened.len());
    assert_eq!(stats.failures_reported, delivered, "all back to the queue");
    // On AWS the visibility timeout (minutes) outlasts such a window.
    tokio::time::sleep_until(started + window).await;
    let rest = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(rest.failures_reported, 0, "{rest:?}");
    reconcile(&stack, &deployed, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_slowness_and_a_hang_reconcile_exactly() {
    let (stack, deployed, events) =
        deployed_with_inspector2("111111111111", "us-east-1", 3, 4).await;
    let mut expected = Expected::default();
    expected.inspector2(&events);
    // More objects per batch: a second day of updates.
    let later = updated(&events, 86_400, "ACTIVE");
    scenario::emit_inspector2(&stack, "111111111111", "us-east-1", &later)
        .await
        .unwrap();
    expected.inspector2(&later);

    let put = |fault, when| collector_rule("s3", fault, when).operation("PutObject");
    // The first PutObject hangs (the SDK's attempt timeout ends it and
    // tries again), then a third of them answer SlowDown or InternalError,
    // and every one is slow.
    let hang = stack
        .gateway
        .inject(put(Fault::Hang, When::Next { count: 1 }));
    let slow_down = stack.gateway.inject(put(
        error(ErrorKind::Throttling),
        When::Rate { rate: 0.2, seed: 3 },
    ));
    let internal = stack.gateway.inject(put(
        error(ErrorKind::Internal),
        When::Rate {
            rate: 0.15,
            seed: 4,
        },
    ));
    let slow = stack
        .gateway
        .inject(put(Fault::Latency { millis: 300 }, When::Always));

    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let started = tokio::time::Instant::now();
    let stats = mapping(&stack, &deployed)
        .await
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(stack.gateway.injected(hang), 1);
    assert!(stack.gateway.injected(slow_down) + stack.gateway.injected(internal) > 0);
    assert!(stack.gateway.injected(slow) > 0);
    assert!(
        took < Duration::from_secs(60),
        "a hung PutObject is cut by the SDK's timeouts, not Lambda's: {took:?} {stats:?}"
    );
    stack.gateway.clear_faults();
    reconcile(&stack, &deployed, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_sts_ec2_and_inspector_then_a_role_denied_mid_run() {
    const STEADY: &str = "111111111111";
    const DENYING: &str = "333333333333";
    const REGION: &str = "us-east-1";
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[STEADY, DENYING], &[REGION])
        .await
        .unwrap();
    let mut expected = Expected::default();
    let mut templates = BTreeMap::new();
    let mut fleet = BTreeMap::new();
    for account in [STEADY, DENYING] {
        let facts = scenario::create_workloads(&stack, account, REGION, 2)
            .await
            .unwrap();
        let template = scenario::setup_classic(&stack, &deployed, account, REGION)
            .await
            .unwrap();
        let classic = scenario::complete_classic_run(&stack, account, REGION, &template, 2)
            .await
            .unwrap();
        expected.classic(&classic);
        let events = scenario::inspector2_fleet_findings(&facts, 2, 1_767_225_600);
        scenario::emit_inspector2(&stack, account, REGION, &events)
            .await
            .unwrap();
        expected.inspector2(&events);
        templates.insert(account, template);
        fleet.insert(account, events);
    }

    // Throttling everywhere the collector reads: what the SDK's own retries
    // do not absorb goes back to the queue; nothing is set aside as denied.
    let sts = stack.gateway.inject(
        collector_rule("sts", error(ErrorKind::Throttling), When::Next { count: 4 })
            .operation("AssumeRole"),
    );
    let ec2 = stack.gateway.inject(collector_rule(
        "ec2",
        error(ErrorKind::Throttling),
        When::Rate { rate: 0.3, seed: 9 },
    ));
    let inspector = stack.gateway.inject(
        collector_rule(
            "inspector",
            error(ErrorKind::Throttling),
            When::Next { count: 2 },
        )
        .operation("DescribeFindings"),
    );
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let esm = mapping(&stack, &deployed).await;
    esm.drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stack.gateway.injected(sts), 4);
    assert!(stack.gateway.injected(ec2) > 0);
    assert_eq!(stack.gateway.injected(inspector), 2);
    stack.gateway.clear_faults();
    reconcile(&stack, &deployed, &expected).await;

    // The read role of one account stops trusting fanin's ExternalId. A
    // collector instance started afterwards (cached sessions live until
    // shortly before they expire) cannot assume it.
    let credentials = stack.account_credentials(DENYING).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&stack.moto_config(PRIMARY_REGION, Some(credentials)));
    iam.update_assume_role_policy()
        .role_name(&deployed.central.read_role_name)
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{}:root", scenario::CENTRAL_ACCOUNT)},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "someone-else"}},
            }]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    drop(collector);
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    for account in [STEADY, DENYING] {
        let classic =
            scenario::complete_classic_run(&stack, account, REGION, &templates[account], 1)
                .await
                .unwrap();
        let newer = updated(&fleet[account], 3600, "ACTIVE");
        scenario::emit_inspector2(&stack, account, REGION, &newer)
            .await
            .unwrap();
        expected.inspector2(&newer);
        if account == DENYING {
            // Nothing can be fetched without the role: set aside to replay.
            *expected
                .quarantined
                .entry("role_unavailable".into())
                .or_default() += classic.len();
            // Complete findings are stored, marked as not enriched.
            for event in &newer {
                expected.enrichment.insert(
                    event["findingArn"].as_str().unwrap().to_owned(),
                    "role_unavailable".into(),
                );
            }
        } else {
            expected.classic(&classic);
        }
    }
    let stats = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stats.failures_reported, 0, "{stats:?}");
    reconcile(&stack, &deployed, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_collector_and_reordered_duplicates_reconcile_exactly() {
    const ACCOUNT: &str = "222222222222";
    const REGION: &str = "us-east-1";
    let (stack, deployed, events) = deployed_with_inspector2(ACCOUNT, REGION, 2, 3).await;
    let mut expected = Expected::default();
    expected.inspector2(&events);
    // Within one batch: each event twice, a newer CLOSED update, and an
    // older one arriving after it.
    let closed = updated(&events, 86_400, "CLOSED");
    let older = updated(&events, -86_400, "ACTIVE");
    for wave in [&events, &closed, &older] {
        scenario::emit_inspector2(&stack, ACCOUNT, REGION, wave)
            .await
            .unwrap();
    }
    expected.inspector2(&closed);
    expected.inspector2(&older);
    expected.expect_status(&closed, "Resolved");

    // The collector is killed while an archive write hangs: after its index
    // write, before its archive is complete and its ledger written.
    let hang = stack
        .gateway
        .inject(collector_rule("s3", Fault::Hang, When::Next { count: 1 }).operation("PutObject"));
    let sqs = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let visibility = |seconds: u64| {
        sqs.set_queue_attributes()
            .queue_url(&deployed.central.queue_url)
            .attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string())
            .send()
    };
    let original_visibility = sqs
        .get_queue_attributes()
        .queue_url(&deployed.central.queue_url)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::VisibilityTimeout]
        .parse::<u64>()
        .unwrap();
    // Messages of the killed batch come back after the (shortened) visibility timeout.
    visibility(4).await.unwrap();
    // Claims live 4 s here (60 s deployed, under the 390 s visibility
    // timeout): the killed batch's claims expire before its messages'
    // redelivery is done waiting for them.
    let short_claims = || {
        let mut env = scenario::collector_env(&stack, &deployed);
        env.push(("FANIN_CLAIM_TTL_SECONDS".into(), "4".into()));
        env
    };
    let doomed = fanin_devstack::lambda_host::LocalLambda::start(
        "fanin-collector",
        &fanin_devstack::lambda_host::workspace_binary("fanin-collector"),
        &short_claims(),
    )
    .await
    .unwrap();
    let player = mapping(&stack, &deployed).await;
    let batch = tokio::spawn(async move {
        let mut doomed = doomed;
        let mut stats = Default::default();
        player.round(&mut doomed, &mut stats).await
    });
    let waited = tokio::time::Instant::now();
    while stack.gateway.injected(hang) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no archive write"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Dropping the round kills the function process (and its runtime).
    batch.abort();
    assert!(batch.await.unwrap_err().is_cancelled());
    visibility(original_visibility).await.unwrap();
    let (visible, in_flight) = mapping(&stack, &deployed).await.depth().await.unwrap();
    assert_eq!(
        (visible + in_flight) as usize,
        events.len() * 4,
        "the killed batch acknowledged nothing"
    );

    let mut collector = fanin_devstack::lambda_host::LocalLambda::start(
        "fanin-collector",
        &fanin_devstack::lambda_host::workspace_binary("fanin-collector"),
        &short_claims(),
    )
    .await
    .unwrap();
    let mut esm = mapping(&stack, &deployed).await;
    // Versions the killed batch claimed are retried until its claims
    // expire, as they wait for the visibility timeout on AWS.
    esm.failure_visibility_seconds = 2;
    let stats = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stats.messages_deleted, events.len() * 4, "{stats:?}");
    reconcile(&stack, &deployed, &expected).await;

    // Across batches: the newest again, then older versions after it.
    let oldest = updated(&events, -2 * 86_400, "ACTIVE");
    scenario::emit_inspector2(&stack, ACCOUNT, REGION, &closed)
        .await
        .unwrap();
    esm.drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    scenario::emit_inspector2(&stack, ACCOUNT, REGION, &oldest)
        .await
        .unwrap();
    esm.drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    expected.inspector2(&oldest);
    reconcile(&stack, &deployed, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensearch_outage_is_retried_without_duplicates() {
    let (stack, deployed, events) =
        deployed_with_inspector2("222222222222", "eu-west-1", 3, 4).await;
    let central = deployed.central.clone();

    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let esm = mapping(&stack, &deployed).await;
    stack.gateway.set_opensearch_down(true);
    let mut stats = Default::default();
    let delivered = esm.round(&mut collector, &mut stats).await.unwrap();
    assert!(delivered > 0);
    assert_eq!(
        stats.failures_reported, delivered,
        "every message of the batch goes back to the queue"
    );
    assert!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .is_empty(),
        "nothing archived while the index is down"
    );

    stack.gateway.set_opensearch_down(false);
    let rest = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(rest.failures_reported, 0);
    let mut expected = Expected::default();
    expected.inspector2(&events);
    reconcile(&stack, &deployed, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_always_fails_ends_in_the_dead_letter_queue() {
    let (stack, deployed, _events) =
        deployed_with_inspector2("111111111111", "us-east-1", 1, 3).await;
    let central = deployed.central.clone();
    let max_receive_count = deployed.mapping.max_receive_count as usize;

    // OpenSearch stays down: every delivery fails transiently.
    stack.gateway.set_opensearch_down(true);
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let stats = mapping(&stack, &deployed)
        .await
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(stats.messages_deleted, 0, "nothing was acknowledged");
    assert_eq!(
        stats.messages_delivered,
        3 * max_receive_count,
        "each message delivered maxReceiveCount times, then redriven"
    );
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 3);
    assert!(
        scenario::archived_records(&stack, &central)
            .await
            .unwrap()
            .is_empty()
    );
}
