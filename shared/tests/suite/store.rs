//! The store path on in-memory fakes: exactly one archive record per finding
//! version under concurrent invocations and crashes between the archive
//! write and its ledger mark, one bad item never taking its neighbours, the
//! per-item 429 path, and notifications from outside the organization.

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use fanin::decode::{AcceptedTopics, InboundMessage, Provenance};
use fanin::fakes::InMemory;
use fanin::ids::{AccountId, Partition};
use fanin::pipeline::{Collector, Settings};
use serde_json::{Value, json};

const LEDGER: &str = "fanin-ledger";
const FINDINGS: &str = "fanin-findings";

fn collector(world: Arc<InMemory>) -> Collector {
    Collector::new(
        Settings {
            partition: Partition::parse("aws").unwrap(),
            index_prefix: "fanin".into(),
            bulk_max_bytes: 1 << 20,
            max_concurrency: 4,
            provenance: Provenance {
                partition: Partition::parse("aws").unwrap(),
                topics: AcceptedTopics::Named {
                    account: AccountId::parse("999999999999").unwrap(),
                    name: "fanin-inspector".into(),
                },
                inspector2_admin_accounts: Default::default(),
                guardduty_admin_accounts: Default::default(),
            },
            claim_ttl: fanin::pipeline::DEFAULT_CLAIM_TTL,
        },
        fanin::fakes::ports(world),
    )
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30)
}

/// The published-shape Inspector2 event of the fixtures, as finding `n` of
/// account `account`, updated at `updated` (RFC 3339).
fn inspector2(account: &str, n: usize, updated: &str) -> String {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../tests/fixtures/inspector2-ec2-finding-event.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    event["account"] = json!(account);
    event["detail"]["awsAccountId"] = json!(account);
    event["detail"]["findingArn"] = json!(format!(
        "arn:aws:inspector2:us-east-1:{account}:finding/{n:032x}"
    ));
    event["detail"]["updatedAt"] = json!(updated);
    event.to_string()
}

fn messages(bodies: &[String], prefix: &str) -> Vec<InboundMessage> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: format!("{prefix}-{i}"),
            body: body.clone(),
            receive_count: 1,
        })
        .collect()
}

fn fleet(count: usize) -> Vec<String> {
    (0..count)
        .map(|n| inspector2("111111111111", n, "2026-01-01T00:00:00Z"))
        .collect()
}

/// Every archived record, as `metadata.uid`s (one per line of every object).
fn archived_uids(world: &InMemory) -> Vec<String> {
    let objects = world.objects.lock().unwrap();
    let mut uids = Vec::new();
    for (key, body) in objects.iter().filter(|(k, _)| k.starts_with("findings/")) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            uids.push(record["metadata"]["uid"].as_str().unwrap().to_owned());
        }
    }
    uids
}

fn assert_each_archived_once(world: &InMemory, expected: usize) {
    let uids = archived_uids(world);
    let distinct: HashSet<&String> = uids.iter().collect();
    assert_eq!(distinct.len(), expected, "versions archived");
    assert_eq!(uids.len(), expected, "duplicate archive records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_invocations_with_the_same_versions_archive_each_once() {
    let world = Arc::new(InMemory::default());
    let bodies = fleet(40);
    let (one, two) = (collector(world.clone()), collector(world.clone()));
    let (first, second) = tokio::join!(
        one.process_batch(messages(&bodies, "a"), deadline()),
        two.process_batch(messages(&bodies, "b"), deadline()),
    );
    assert_each_archived_once(&world, 40);
    // What one invocation could not claim comes back, and is then done.
    let retried: Vec<String> = first
        .failed_message_ids
        .iter()
        .chain(&second.failed_message_ids)
        .cloned()
        .collect();
    assert_eq!(
        first.findings_stored + second.findings_stored,
        40,
        "{first:?} {second:?}"
    );
    let redelivered: Vec<InboundMessage> = messages(&bodies, "a")
        .into_iter()
        .chain(messages(&bodies, "b"))
        .filter(|m| retried.contains(&m.message_id))
        .collect();
    let again = collector(world.clone())
        .process_batch(redelivered, deadline())
        .await;
    assert!(again.failed_message_ids.is_empty(), "{again:?}");
    assert_eq!(again.findings_stored, 0);
    assert_each_archived_once(&world, 40);
    assert_eq!(world.index(FINDINGS).len(), 40);
}

/// Rewrites every ledger entry to the claim an invocation leaves when it
/// dies after its claims (and maybe its archive write), expired.
fn leave_expired_claims(world: &InMemory) {
    for (id, entry) in world.index(LEDGER) {
        let mut claim = entry.source.clone();
        claim["state"] = json!("claimed");
        claim["claim_expires_at"] = json!(1);
        world.overwrite(LEDGER, &id, claim);
    }
}

#[tokio::test]
async fn a_batch_that_died_after_its_archive_write_is_not_archived_again() {
    let world = Arc::new(InMemory::default());
    let bodies = fleet(8);
    collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    leave_expired_claims(&world);

    let redrive = collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    assert_eq!(
        (redrive.findings_stored, redrive.findings_already_stored),
        (0, 8),
        "{redrive:?}"
    );
    assert!(redrive.failed_message_ids.is_empty());
    assert_each_archived_once(&world, 8);
    let states: HashSet<String> = world
        .index(LEDGER)
        .values()
        .map(|e| e.source["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, HashSet::from(["archived".to_owned()]));
}

#[tokio::test]
async fn a_batch_that_died_before_its_archive_write_is_archived_on_redrive() {
    let world = Arc::new(InMemory::default());
    let bodies = fleet(8);
    collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    leave_expired_claims(&world);
    world.objects.lock().unwrap().clear();

    let redrive = collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    assert_eq!(redrive.findings_stored, 8, "{redrive:?}");
    assert_each_archived_once(&world, 8);
}

#[tokio::test]
async fn a_fresh_claim_of_another_invocation_is_retried_not_archived() {
    let world = Arc::new(InMemory::default());
    let bodies = fleet(3);
    collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    for (id, entry) in world.index(LEDGER) {
        let mut claim = entry.source.clone();
        claim["state"] = json!("claimed");
        claim["claim_expires_at"] = json!(i64::MAX);
        world.overwrite(LEDGER, &id, claim);
    }
    world.objects.lock().unwrap().clear();
    let report = collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    assert_eq!(report.failed_message_ids.len(), 3, "{report:?}");
    assert_eq!(report.findings_claimed_elsewhere, 3);
    assert!(archived_uids(&world).is_empty());
}

#[tokio::test]
async fn an_archive_failure_releases_its_claims() {
    let world = Arc::new(InMemory::default());
    *world.archive_down.lock().unwrap() = true;
    let bodies = fleet(5);
    let report = collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    assert_eq!(report.failed_message_ids.len(), 5);
    assert!(world.index(LEDGER).is_empty(), "claims released");
    *world.archive_down.lock().unwrap() = false;
    let retry = collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    assert_eq!(retry.findings_stored, 5, "{retry:?}");
    assert_each_archived_once(&world, 5);
}

#[tokio::test]
async fn one_poisoned_item_in_a_refused_request_leaves_the_other_99_stored() {
    let world = Arc::new(InMemory::default());
    let mut bodies = fleet(99);
    // Before the epoch: a negative external version makes OpenSearch refuse
    // the whole bulk request.
    bodies.insert(37, inspector2("111111111111", 500, "1969-12-31T23:59:59Z"));
    let report = collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    assert_eq!(report.findings_stored, 99, "{report:?}");
    assert!(report.failed_message_ids.is_empty(), "{report:?}");
    assert_eq!(report.quarantined.values().sum::<usize>(), 1, "{report:?}");
    assert_each_archived_once(&world, 99);
    let set_aside: Vec<String> = world
        .objects
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("quarantine/"))
        .cloned()
        .collect();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
}

#[tokio::test]
async fn items_the_cluster_is_too_busy_for_are_sent_again() {
    let world = Arc::new(InMemory::default());
    *world.reject_next_items.lock().unwrap() = 7;
    let report = collector(world.clone())
        .process_batch(messages(&fleet(20), "m"), deadline())
        .await;
    assert_eq!(
        (report.findings_stored, report.failed_message_ids.len()),
        (20, 0),
        "{report:?}"
    );
    assert_eq!(world.index(FINDINGS).len(), 20);
    assert_each_archived_once(&world, 20);
}

fn classic_notification(account: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": format!("sns-{account}"),
        "TopicArn": "arn:aws:sns:us-east-1:999999999999:fanin-inspector",
        "Message": json!({
            "template": format!("arn:aws:inspector:us-east-1:{account}:target/0-aaaa1111/template/0-bbbb2222"),
            "run": format!("arn:aws:inspector:us-east-1:{account}:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333"),
            "time": "2026-01-01T00:00:00.000Z",
            "event": "FINDING_REPORTED",
            "finding": format!("arn:aws:inspector:us-east-1:{account}:target/0-aaaa1111/template/0-bbbb2222/run/0-cccc3333/finding/0-dddd4444"),
            "target": format!("arn:aws:inspector:us-east-1:{account}:target/0-aaaa1111"),
        }).to_string(),
    })
    .to_string()
}

#[tokio::test]
async fn outsiders_are_counted_and_members_without_a_role_set_aside() {
    let mut world = InMemory::default();
    world.denied_accounts = HashSet::from(["333333333333".into(), "444444444444".into()]);
    world.organization = Some(HashSet::from(["444444444444".into()]));
    let world = Arc::new(world);
    let bodies = [
        classic_notification("333333333333"),
        classic_notification("444444444444"),
    ];
    let report = collector(world.clone())
        .process_batch(messages(&bodies, "m"), deadline())
        .await;
    assert_eq!(report.outsiders, 1, "{report:?}");
    assert_eq!(
        report.quarantined,
        [("role_unavailable".to_owned(), 1)].into_iter().collect(),
    );
    assert!(report.failed_message_ids.is_empty());
    let keys: Vec<String> = world.objects.lock().unwrap().keys().cloned().collect();
    assert_eq!(
        keys.len(),
        1,
        "only the member's message is set aside: {keys:?}"
    );
    assert!(keys[0].starts_with("quarantine/reason=role_unavailable/"));

    // Without an account list, nobody is called an outsider.
    let mut unknown = InMemory::default();
    unknown.denied_accounts = HashSet::from(["333333333333".into()]);
    let unknown = Arc::new(unknown);
    let report = collector(unknown)
        .process_batch(messages(&bodies[..1], "m"), deadline())
        .await;
    assert_eq!(
        (report.outsiders, report.quarantined.get("role_unavailable")),
        (0, Some(&1))
    );
}
