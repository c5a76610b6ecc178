//! Property tests over every entry point that takes outside bytes: the
//! queue-message decoder, the timestamp parsers, normalization of what
//! decodes (an Inspector2 event's finding, a DescribeFindings answer), and
//! the search cluster's `_bulk` and `_mget` answers.
//!
//! The corpus is the fixtures of `tests/fixtures/`, mutated byte by byte and
//! value by value (hostile strings, huge strings, bad addresses, dates out
//! of range, wrong types). Case counts are bounded so the file runs in
//! seconds; `PROPTEST_CASES` raises them for a longer local run.

use crate::support::mutate;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use fanin::decode::{self, AcceptedTopics, Fetch, Notification, Provenance};
use fanin::enrich::{
    EnrichmentOutcome, EnrichmentStatus, FaninContext, InstanceLookup, enrich as enrich_network,
};
use fanin::ids::{AccountId, Partition};
use fanin::model::ClassicFinding;
use fanin::normalize::limits::{self, parse_ip};
use fanin::normalize::{EnrichmentTarget, FindingRecord, Origin, SourceFinding};
use fanin::search::answers;
use fanin::search::bulk::{self, BulkOp, ItemOutcome};
use fanin::timestamps;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every queue-message fixture, and the bodies the tests derive from them.
static MESSAGES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let sns = fixture("sns-finding-reported.json");
    let envelope: Value = serde_json::from_str(&sns).unwrap();
    let classic_raw = envelope["Message"].as_str().unwrap().to_owned();
    vec![
        sns,
        classic_raw,
        fixture("inspector2-ec2-finding-event.json"),
        fixture("inspector2-ecr-finding-event.json"),
        fixture("published/inspector2-ec2-package-vulnerability.json"),
        fixture("published/inspector2-ec2-network-reachability.json"),
        fixture("published/inspector2-lambda-code-vulnerability.json"),
        fixture("published/inspector2-azure-vm-package-vulnerability.json"),
    ]
});

static CLASSIC: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(&fixture("classic-finding.json")).unwrap());
static CLASSIC_BEST_PRACTICE: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(&fixture("classic-best-practice-finding.json")).unwrap());

fn provenance() -> Provenance {
    Provenance {
        partition: Partition::parse("aws").unwrap(),
        topics: AcceptedTopics::Named {
            account: AccountId::parse("123456789012").unwrap(),
            name: "fanin-inspector-classic".into(),
        },
        inspector2_admin_accounts: Default::default(),
        guardduty_admin_accounts: Default::default(),
    }
}

/// The collector's clock in these tests: after every fixture's update time.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

const REASONS: [&str; 11] = [
    "malformed_json",
    "sns_message_not_json",
    "untrusted_topic",
    "inspector2_in_sns",
    "guardduty_in_sns",
    "event_account_mismatch",
    "foreign_partition",
    "unknown_event",
    "invalid_identifier",
    "invalid_finding",
    "version_out_of_range",
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Values a hostile or broken sender might put anywhere.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        (1usize..200_000).prop_map(|n| Value::from("x".repeat(n))),
        prop::sample::select(vec![
            "999.1.1.1",
            "10.0.0",
            "::g",
            "0.0.0.0",
            "2001:db8::1",
            "9999-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "Jan 1, 10000, 1:00:00 AM",
            "Thu Jun 20 01:47:55.779 UTC 99999",
            "-1",
            "65536",
            "cn-north-1",
            "aws-cn",
            "../../etc",
            "CVE-2024-",
            "\u{0}\u{1b}[31m",
        ])
        .prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        // Statuses, sequence numbers and versions near the edges (65,736
        // is 200 once cast to u16).
        prop::sample::select(vec![
            0i64,
            -1,
            200,
            201,
            404,
            409,
            429,
            65_736,
            4_294_967_496,
            i64::MAX
        ])
        .prop_map(Value::from),
        prop::collection::vec(".{0,8}".prop_map(Value::from), 0..200).prop_map(Value::from),
    ]
}

/// A few bytes to overwrite, anywhere.
fn flips() -> impl Strategy<Value = Vec<(Index, u8)>> {
    prop::collection::vec((any::<Index>(), any::<u8>()), 1..6)
}

/// `text` with the bytes of `flips` overwritten, read back lossily.
fn flip(text: &str, flips: &[(Index, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (position, byte) in flips {
        let at = position.index(bytes.len());
        bytes[at] = *byte;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn edits() -> impl Strategy<Value = Vec<(Index, Value)>> {
    prop::collection::vec((any::<Index>(), hostile_value()), 1..4)
}

/// The context the pipeline would build without EC2: what the finding reported.
fn context(finding: &dyn SourceFinding) -> FaninContext {
    let (enrichment, instance, network) = match finding.enrichment_target() {
        EnrichmentTarget::Instance(id) => {
            let (outcome, instance, network) = enrich_network(
                &id,
                InstanceLookup::NotFound,
                &Default::default(),
                finding.reported_network(),
            );
            (outcome, Some(instance), network)
        }
        _ => (
            EnrichmentOutcome {
                status: EnrichmentStatus::NoInstance,
                reason: None,
            },
            None,
            None,
        ),
    };
    FaninContext {
        source: finding.source_name(),
        enrichment,
        instance,
        network,
        details: BTreeMap::new(),
    }
}

/// Normalizes `finding` and checks every promise a stored record keeps.
fn check_normalized(finding: &dyn SourceFinding, origin: Origin) -> Result<(), TestCaseError> {
    let partition = Partition::parse("aws").unwrap();
    let now = now();
    match FindingRecord::new(finding, origin, &partition, context(finding), now) {
        Err(error) => {
            prop_assert_eq!(error.reason_code(), "version_out_of_range");
            prop_assert!(!timestamps::is_believable(&finding.updated_at(), &now));
        }
        Ok(record) => {
            let updated = finding.updated_at();
            prop_assert!(timestamps::is_believable(&updated, &now));
            prop_assert!(record.version > 0);
            prop_assert_eq!(
                record.version / 1_000_000,
                updated.timestamp_millis(),
                "the version orders by update time first"
            );
            prop_assert_eq!(record.event_day, updated.date_naive());
            let document: Value = serde_json::from_str(&record.document).unwrap();
            check_typed(&document, &now)?;
            check_caps(&document)?;
        }
    }
    Ok(())
}

/// Every typed attribute holds a value of its type.
fn check_typed(document: &Value, now: &DateTime<Utc>) -> Result<(), TestCaseError> {
    let network = &document["unmapped"]["fanin"]["network"];
    let mut addresses: Vec<&Value> = vec![&document["device"]["ip"]];
    for list in ["private_ips", "public_ips", "ipv6_addresses"] {
        addresses.extend(network[list].as_array().into_iter().flatten());
        for interface in network["interfaces"].as_array().into_iter().flatten() {
            addresses.extend(interface[list].as_array().into_iter().flatten());
        }
    }
    for resource in document["resources"].as_array().into_iter().flatten() {
        addresses.push(&resource["ip"]);
    }
    for interface in document["device"]["network_interfaces"]
        .as_array()
        .into_iter()
        .flatten()
    {
        addresses.push(&interface["ip"]);
    }
    for address in addresses {
        if let Some(text) = address.as_str() {
            prop_assert!(parse_ip(text).is_some(), "{text} in an ip field");
        } else {
            prop_assert!(address.is_null(), "{address} in an ip field");
        }
    }
    let info = &document["finding_info"];
    for name in [
        "created_time",
        "first_seen_time",
        "last_seen_time",
        "modified_time",
    ] {
        if let Some(ms) = info[name].as_i64() {
            let time = DateTime::from_timestamp_millis(ms).unwrap();
            prop_assert!(timestamps::is_believable(&time, now), "{name} {ms}");
            let text = info[format!("{name}_dt")].as_str().unwrap();
            prop_assert!(DateTime::parse_from_rfc3339(text).is_ok(), "{text}");
        } else {
            prop_assert!(info[name].is_null());
        }
    }
    for resource in document["resources"].as_array().into_iter().flatten() {
        if resource.get("cloud_partition").is_none() {
            // A resource in another cloud: its region, if any, is that cloud's.
            prop_assert!(document["cloud"]["provider"] != "AWS", "{resource}");
            continue;
        }
        let region = resource["region"].as_str().unwrap();
        let parsed = fanin::ids::Region::parse(region).unwrap();
        prop_assert_eq!(parsed.partition_name(), "aws");
    }
    Ok(())
}

/// No string of the record is longer than the largest cap plus its marker,
/// and the title keeps its own cap.
fn check_caps(document: &Value) -> Result<(), TestCaseError> {
    const MARKER: usize = "…[truncated 18446744073709551615 bytes]".len();
    fn walk(value: &Value, path: &str, largest: usize) -> Result<(), TestCaseError> {
        match value {
            Value::String(text) => {
                prop_assert!(text.len() <= largest, "{} bytes at {path}", text.len())
            }
            Value::Array(items) => {
                prop_assert!(
                    items.len() <= limits::LIST_ITEMS,
                    "{} items at {path}",
                    items.len()
                );
                for item in items {
                    walk(item, &format!("{path}[]"), largest)?;
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(
                        item,
                        &format!("{path}.{}", key.chars().take(40).collect::<String>()),
                        largest,
                    )?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(document, "", limits::DESCRIPTION_BYTES + MARKER)?;
    let title = document["finding_info"]["title"].as_str().unwrap();
    prop_assert!(title.len() <= limits::TITLE_BYTES + MARKER);
    Ok(())
}

fn decode_and_check(body: &str) -> Result<(), TestCaseError> {
    match decode::decode(body, &provenance()) {
        Err(error) => {
            prop_assert!(REASONS.contains(&error.reason_code()));
            // The detail goes to a quarantine object and a log line.
            prop_assert!(
                error.to_string().len() < 1024,
                "{}",
                error.to_string().len()
            );
        }
        Ok(Notification::Finding { origin, finding }) => {
            prop_assert_eq!(origin.region.partition_name(), "aws");
            check_normalized(finding.as_ref(), origin)?;
        }
        Ok(Notification::Reference {
            fetch: Fetch::ClassicDetails(finding_arn),
            ..
        }) => {
            prop_assert_eq!(finding_arn.arn().partition.as_str(), "aws");
            prop_assert_eq!(finding_arn.arn().region.partition_name(), "aws");
        }
        Ok(Notification::Acknowledge { .. }) => {}
    }
    Ok(())
}

/// The answers captured from the OpenSearch API (see tests/fixtures/README.md).
static ANSWERS: LazyLock<Vec<String>> = LazyLock::new(|| {
    vec![
        fixture("opensearch-bulk-answer.json"),
        fixture("opensearch-mget-answer.json"),
        fixture("opensearch-mget-no-index-answer.json"),
    ]
});

/// The ops `opensearch-bulk-answer.json` answers, in order.
static BULK_OPS: LazyLock<Vec<BulkOp>> = LazyLock::new(|| {
    let document = || std::sync::Arc::<str>::from("{}");
    vec![
        BulkOp::IndexLatest {
            index: "fanin-findings".into(),
            id: "a1".into(),
            version: 1_767_225_600_000,
            document: document(),
        },
        BulkOp::IndexLatest {
            index: "fanin-findings".into(),
            id: "a1".into(),
            version: 1_767_225_600_000,
            document: document(),
        },
        BulkOp::CreateOnce {
            index: "fanin-ledger".into(),
            id: "v1".into(),
            document: document(),
        },
        BulkOp::CreateOnce {
            index: "fanin-ledger".into(),
            id: "v1".into(),
            document: document(),
        },
        BulkOp::ReplaceIfUnchanged {
            index: "fanin-ledger".into(),
            id: "v1".into(),
            seq_no: 99,
            primary_term: 1,
            document: document(),
        },
        BulkOp::Delete {
            index: "fanin-ledger".into(),
            id: "v2".into(),
        },
    ]
});

/// The ids the `_mget` fixtures answer.
const MGET_ASKED: [&str; 3] = ["v1", "v2", "v3"];

/// Whether item `n` of `answer` (read as plain JSON, apart from fanin's
/// reader) says `op` was carried out: its one action is the op's, its `_id`
/// the op's, its status 2xx, or 404 for a delete.
fn reports_done(answer: &Value, n: usize, op: &BulkOp) -> bool {
    let Some(item) = answer
        .pointer(&format!("/items/{n}"))
        .and_then(Value::as_object)
    else {
        return false;
    };
    let Some((action, result)) = item.iter().next().filter(|_| item.len() == 1) else {
        return false;
    };
    let verb = match op {
        BulkOp::CreateOnce { .. } => "create",
        BulkOp::Delete { .. } => "delete",
        _ => "index",
    };
    let status = result.get("status").and_then(Value::as_u64);
    action == verb
        && result.get("_id").is_some_and(|id| id == op.id())
        && (matches!(status, Some(200..=299)) || (verb == "delete" && status == Some(404)))
}

/// What fanin reads from a bulk answer is what the answer says, or a
/// transient error: no item is counted as written unless its answer says so.
fn check_bulk_answer(text: &str) -> Result<(), TestCaseError> {
    let ops: Vec<&BulkOp> = BULK_OPS.iter().collect();
    match answers::bulk(text) {
        Err(error) => prop_assert!(error.is_transient(), "{error:?}"),
        Ok(statuses) => {
            if let Ok(outcomes) = bulk::outcomes(&ops, &statuses) {
                prop_assert_eq!(outcomes.len(), ops.len());
                let plain: Value = serde_json::from_str(text).expect("fanin read it as JSON");
                for (n, (op, outcome)) in ops.iter().zip(&outcomes).enumerate() {
                    if *outcome == ItemOutcome::Done {
                        prop_assert!(reports_done(&plain, n, op), "item {n} of {text}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Every document fanin reads from an `_mget` answer was asked for and is
/// reported found with its sequence numbers; a document that failed (other
/// than a missing index) fails the whole answer.
fn check_mget_answer(text: &str) -> Result<(), TestCaseError> {
    let asked: Vec<String> = MGET_ASKED.map(str::to_owned).to_vec();
    let result = answers::mget(text, &asked);
    let plain: Option<Value> = serde_json::from_str(text).ok();
    let docs = plain
        .as_ref()
        .and_then(|p| p["docs"].as_array())
        .cloned()
        .unwrap_or_default();
    match result {
        Err(error) => prop_assert!(error.is_transient(), "{error:?}"),
        Ok(found) => {
            for (id, document) in &found {
                prop_assert!(asked.contains(id));
                let reported = docs.iter().any(|d| {
                    d["_id"] == id.as_str()
                        && d["found"] == true
                        && d["_seq_no"] == document.seq_no
                        && d["_primary_term"] == document.primary_term
                });
                prop_assert!(reported, "{id} in {text}");
            }
            let failed = docs.iter().any(|d| {
                d["_id"]
                    .as_str()
                    .is_some_and(|id| asked.iter().any(|a| a == id))
                    && d.get("error").is_some()
                    && d["error"]["type"] != "index_not_found_exception"
            });
            prop_assert!(!failed, "a failed document read as absent: {text}");
        }
    }
    Ok(())
}

#[test]
fn the_captured_answers_read_as_the_cluster_meant_them() {
    let ops: Vec<&BulkOp> = BULK_OPS.iter().collect();
    let statuses = answers::bulk(&ANSWERS[0]).unwrap();
    use ItemOutcome::{Conflict, Done};
    assert_eq!(
        bulk::outcomes(&ops, &statuses).unwrap(),
        vec![Done, Conflict, Done, Conflict, Conflict, Done]
    );
    let asked: Vec<String> = MGET_ASKED.map(str::to_owned).to_vec();
    let found = answers::mget(&ANSWERS[1], &asked).unwrap();
    assert_eq!(found.keys().collect::<Vec<_>>(), vec!["v1"]);
    assert_eq!((found["v1"].seq_no, found["v1"].primary_term), (0, 1));
    assert!(answers::mget(&ANSWERS[2], &asked).unwrap().is_empty());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decoding_any_text_never_panics(body in ".{0,400}") {
        decode_and_check(&body)?;
    }

    #[test]
    fn decoding_byte_mutations_of_the_fixtures_never_panics(
        which in any::<Index>(),
        flips in flips(),
    ) {
        decode_and_check(&flip(which.get::<String>(&MESSAGES[..]), &flips))?;
    }

    #[test]
    fn decoding_value_mutations_of_the_fixtures_never_panics(
        which in any::<Index>(),
        edits in edits(),
    ) {
        let document: Value = serde_json::from_str(which.get::<String>(&MESSAGES[..])).unwrap();
        decode_and_check(&mutate(&document, &edits).to_string())?;
    }

    #[test]
    fn normalizing_mutated_classic_answers_keeps_every_promise(
        best_practice in any::<bool>(),
        edits in edits(),
    ) {
        let answer = if best_practice { &*CLASSIC_BEST_PRACTICE } else { &*CLASSIC };
        let mutated = mutate(answer, &edits);
        // The pipeline normalizes only answers for the ARNs it asked for,
        // which were validated when the notification was decoded.
        let asked_for = |finding: &ClassicFinding| {
            fanin::ids::ClassicFindingArn::parse(&finding.arn).is_ok()
        };
        if let Some(finding) = serde_json::from_value::<ClassicFinding>(mutated)
            .ok()
            .filter(asked_for)
        {
            let origin = Origin {
                account: AccountId::parse("111111111111").unwrap(),
                region: fanin::ids::Region::parse("eu-west-1").unwrap(),
            };
            check_normalized(&finding, origin)?;
        }
    }

    #[test]
    fn timestamp_parsers_never_panic(text in ".{0,64}", number in any::<f64>()) {
        let _ = timestamps::parse_text(&text);
        let _ = timestamps::parse_json(&Value::from(text));
        if let Some(number) = serde_json::Number::from_f64(number)
            && let Ok(time) = timestamps::parse_json(&Value::Number(number))
        {
            prop_assert!(time.timestamp() >= 0);
        }
    }

    #[test]
    fn every_inspector2_form_reads_back_the_same_second(seconds in 1_420_070_400i64..4_102_444_800) {
        let time = DateTime::from_timestamp(seconds, 0).unwrap();
        for text in [
            time.format("%b %-d, %Y, %-I:%M:%S %p").to_string(),
            time.format("%a %b %d %H:%M:%S%.3f UTC %Y").to_string(),
            timestamps::rfc3339(&time),
        ] {
            prop_assert_eq!(timestamps::parse_text(&text).unwrap(), time, "{}", text);
        }
    }

    #[test]
    fn reading_any_text_as_a_search_answer_never_panics(text in ".{0,400}") {
        check_bulk_answer(&text)?;
        check_mget_answer(&text)?;
    }

    #[test]
    fn byte_mutations_of_search_answers_are_read_as_they_say(
        which in any::<Index>(),
        flips in flips(),
    ) {
        let text = flip(which.get::<String>(&ANSWERS[..]), &flips);
        check_bulk_answer(&text)?;
        check_mget_answer(&text)?;
    }

    #[test]
    fn value_mutations_of_search_answers_are_read_as_they_say(
        which in any::<Index>(),
        edits in edits(),
    ) {
        let answer: Value = serde_json::from_str(which.get::<String>(&ANSWERS[..])).unwrap();
        let text = mutate(&answer, &edits).to_string();
        check_bulk_answer(&text)?;
        check_mget_answer(&text)?;
    }
}
