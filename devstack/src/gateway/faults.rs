//! Fault injection: rules that make the gateway answer a matching request
//! the way a struggling dependency would, in that service's own wire format.
//!
//! A [`FaultRule`] matches a SigV4 service (`sts`, `ec2`, `inspector`, `s3`,
//! ...) or `opensearch`, optionally one operation and one caller, and says
//! what to inject ([`Fault`]) and when ([`When`]). Rules are tried in the
//! order they were added; the first one that fires decides. Everything is
//! deterministic given the order of requests: rates draw from a seeded
//! generator of their own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One fault to inject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The SigV4 service (`sts`, `ec2`, `inspector`, `s3`, `sqs`...) or
    /// `opensearch`.
    pub service: String,
    /// The operation as the call counts name it (`AssumeRole`,
    /// `DescribeInstances`, `PutObject`, `_bulk`...); any when absent.
    #[serde(default)]
    pub operation: Option<String>,
    /// The caller as the call counts name it (`fanin-collector`); any when
    /// absent.
    #[serde(default)]
    pub caller: Option<String>,
    pub fault: Fault,
    #[serde(default)]
    pub when: When,
}

impl FaultRule {
    /// A rule for every operation of `service`, always firing.
    pub fn new(service: &str, fault: Fault) -> Self {
        Self {
            service: service.to_owned(),
            operation: None,
            caller: None,
            fault,
            when: When::Always,
        }
    }

    pub fn operation(mut self, operation: &str) -> Self {
        self.operation = Some(operation.to_owned());
        self
    }

    pub fn caller(mut self, caller: &str) -> Self {
        self.caller = Some(caller.to_owned());
        self
    }

    pub fn when(mut self, when: When) -> Self {
        self.when = when;
        self
    }

    fn matches(&self, caller: &str, service: &str, operation: &str) -> bool {
        self.service == service
            && self.operation.as_deref().is_none_or(|o| o == operation)
            && self.caller.as_deref().is_none_or(|c| c == caller)
    }
}

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Wait this long, then forward as usual.
    Latency { millis: u64 },
    /// An error answer in the service's wire format; `status` overrides the
    /// status the service would use for that error.
    Error {
        error: ErrorKind,
        #[serde(default)]
        status: Option<u16>,
    },
    /// Close the connection with a TCP reset, without an answer.
    Reset,
    /// Forward, then send the status, the headers and a `Content-Length` of
    /// the whole body but only its first half (of an empty body: a declared
    /// byte that never comes), and close the connection.
    Truncate,
    /// Accept the request and never answer (until the gateway stops).
    Hang,
    /// OpenSearch `_bulk` only: a `share` of the items (drawn with `seed`)
    /// is not sent to the cluster and answers 429
    /// `es_rejected_execution_exception`, as a full write queue does; the
    /// others are written and answered as usual.
    BulkItemRejections { share: f64, seed: u64 },
}

/// The kinds of error answer, each in the service's own code and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// EC2 `RequestLimitExceeded`, STS `Throttling`, S3 `SlowDown`, JSON
    /// services `ThrottlingException`, OpenSearch 429.
    Throttling,
    /// A 500 (`InternalError`, `InternalFailure`, `InternalException`).
    Internal,
    /// A 503 (`Unavailable`, `ServiceUnavailable`...).
    Unavailable,
    /// A 403 (`AccessDenied`, `UnauthorizedOperation`...).
    AccessDenied,
}

/// When a rule fires, among the requests it matches.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    #[default]
    Always,
    /// The next `count` matching requests.
    Next { count: u64 },
    /// Every matching request for `millis` after the rule is added.
    For { millis: u64 },
    /// Each matching request with probability `rate`, drawn from a
    /// generator seeded with `seed`.
    Rate { rate: f64, seed: u64 },
}

/// A rule with what it did so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultStatus {
    pub id: u64,
    pub rule: FaultRule,
    /// Requests the rule matched.
    pub matched: u64,
    /// Requests it injected its fault into.
    pub injected: u64,
}

/// A fault chosen for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    pub rule_id: u64,
    pub fault: Fault,
}

struct Active {
    status: FaultStatus,
    added: Instant,
    random: SplitMix64,
}

/// The rules of one gateway.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Active>>,
    next_id: Mutex<u64>,
}

impl Faults {
    /// Adds a rule after the existing ones; answers its id.
    pub fn add(&self, rule: FaultRule) -> u64 {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
        let seed = match (&rule.when, &rule.fault) {
            (When::Rate { seed, .. }, _) | (_, Fault::BulkItemRejections { seed, .. }) => *seed,
            _ => id,
        };
        self.lock().push(Active {
            status: FaultStatus {
                id,
                rule,
                matched: 0,
                injected: 0,
            },
            added: Instant::now(),
            random: SplitMix64(seed),
        });
        id
    }

    /// Removes one rule; answers whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|r| r.status.id != id);
        rules.len() != before
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn list(&self) -> Vec<FaultStatus> {
        self.lock().iter().map(|r| r.status.clone()).collect()
    }

    /// The fault for one request, if a rule fires.
    pub fn decide(&self, caller: &str, service: &str, operation: &str) -> Option<Injection> {
        let mut rules = self.lock();
        for active in rules.iter_mut() {
            if !active.status.rule.matches(caller, service, operation) {
                continue;
            }
            active.status.matched += 1;
            let fires = match active.status.rule.when {
                When::Always => true,
                When::Next { count } => active.status.injected < count,
                When::For { millis } => active.added.elapsed() < Duration::from_millis(millis),
                When::Rate { rate, .. } => active.random.next_unit() < rate,
            };
            if fires {
                active.status.injected += 1;
                return Some(Injection {
                    rule_id: active.status.id,
                    fault: active.status.rule.fault.clone(),
                });
            }
        }
        None
    }

    /// A uniform draw in `[0, 1)` from a rule's generator (for per-item
    /// decisions); `None` when the rule is gone.
    pub fn draw(&self, rule_id: u64) -> Option<f64> {
        self.lock()
            .iter_mut()
            .find(|r| r.status.id == rule_id)
            .map(|r| r.random.next_unit())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Active>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A small seeded generator (Steele, Lea and Flood's SplitMix64): enough
/// for reproducible fault draws, no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The wire protocol of a service's error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// EC2's query protocol: `<Response><Errors><Error>`.
    Ec2Query,
    /// The AWS query protocol (STS, IAM, SNS...): `<ErrorResponse><Error>`.
    AwsQuery,
    /// S3's REST-XML: `<Error>` at the root.
    S3Xml,
    /// AWS JSON 1.0/1.1 (Inspector Classic, SQS, EventBridge): `__type`.
    AwsJson,
    /// REST-JSON (Inspector2, Lambda): `x-amzn-ErrorType` and a JSON body.
    RestJson,
    OpenSearch,
}

fn protocol(service: &str) -> Protocol {
    match service {
        "ec2" => Protocol::Ec2Query,
        "s3" => Protocol::S3Xml,
        "inspector" | "sqs" | "events" => Protocol::AwsJson,
        "inspector2" | "lambda" => Protocol::RestJson,
        "opensearch" | "es" | "aoss" => Protocol::OpenSearch,
        _ => Protocol::AwsQuery,
    }
}

/// (status, code, message) the service would answer for `kind`.
fn error_of(protocol: Protocol, kind: ErrorKind) -> (u16, &'static str, &'static str) {
    use ErrorKind::*;
    use Protocol::*;
    match (protocol, kind) {
        (Ec2Query, Throttling) => (503, "RequestLimitExceeded", "Request limit exceeded."),
        (Ec2Query, Internal) => (500, "InternalError", "An internal error has occurred."),
        (Ec2Query, Unavailable) => (503, "Unavailable", "The server is overloaded."),
        (Ec2Query, AccessDenied) => (
            403,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        ),
        (AwsQuery, Throttling) => (400, "Throttling", "Rate exceeded"),
        (AwsQuery, Internal) => (500, "InternalFailure", "An internal error occurred."),
        (AwsQuery, Unavailable) => (503, "ServiceUnavailable", "Service is unavailable."),
        (AwsQuery, AccessDenied) => (403, "AccessDenied", "Access denied."),
        (S3Xml, Throttling) => (503, "SlowDown", "Please reduce your request rate."),
        (S3Xml, Internal) => (
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        (S3Xml, Unavailable) => (
            503,
            "ServiceUnavailable",
            "Please reduce your request rate.",
        ),
        (S3Xml, AccessDenied) => (403, "AccessDenied", "Access Denied"),
        (AwsJson, Throttling) => (400, "ThrottlingException", "Rate exceeded"),
        (RestJson, Throttling) => (429, "ThrottlingException", "Rate exceeded"),
        (AwsJson | RestJson, Internal) => (500, "InternalException", "Internal error."),
        (AwsJson | RestJson, Unavailable) => (
            503,
            "ServiceUnavailableException",
            "Service is unavailable.",
        ),
        (AwsJson | RestJson, AccessDenied) => (403, "AccessDeniedException", "Access denied."),
        (OpenSearch, Throttling) => (
            429,
            "es_rejected_execution_exception",
            "rejected execution of coordinating operation (devstack fault injection)",
        ),
        (OpenSearch, Internal) => (
            500,
            "exception",
            "internal error (devstack fault injection)",
        ),
        (OpenSearch, Unavailable) => (
            503,
            "cluster_block_exception",
            "blocked by: [SERVICE_UNAVAILABLE/2/no cluster-manager] (devstack fault injection)",
        ),
        (OpenSearch, AccessDenied) => (
            403,
            "security_exception",
            "no permissions (devstack fault injection)",
        ),
    }
}

/// The error answer `service` gives for `kind`, in its wire format.
pub fn error_answer(service: &str, kind: ErrorKind, status: Option<u16>) -> Response {
    let protocol = protocol(service);
    let (default_status, code, message) = error_of(protocol, kind);
    let status = StatusCode::from_u16(status.unwrap_or(default_status))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = uuid::Uuid::new_v4().to_string();
    let (content_type, body) = match protocol {
        Protocol::Ec2Query => (
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        ),
        Protocol::AwsQuery => {
            let party = if status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            };
            (
                "text/xml",
                format!(
                    "<ErrorResponse><Error><Type>{party}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                ),
            )
        }
        Protocol::S3Xml => (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId><HostId>devstack</HostId></Error>"
            ),
        ),
        Protocol::AwsJson | Protocol::RestJson => {
            let mut body = json!({"__type": code, "message": message});
            // Inspector Classic's modeled errors carry these members.
            if service == "inspector" {
                body["canRetry"] = json!(kind != ErrorKind::AccessDenied);
                if kind == ErrorKind::AccessDenied {
                    body["errorCode"] = json!("ACCESS_DENIED_TO_FINDING");
                }
            }
            ("application/x-amz-json-1.1", body.to_string())
        }
        Protocol::OpenSearch => (
            "application/json; charset=UTF-8",
            json!({
                "error": {
                    "root_cause": [{"type": code, "reason": message}],
                    "type": code,
                    "reason": message,
                },
                "status": status.as_u16(),
            })
            .to_string(),
        ),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id.clone());
        headers.insert("x-amz-request-id", id);
    }
    if matches!(protocol, Protocol::AwsJson | Protocol::RestJson) {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(code));
    }
    response
}

/// One item of a `_bulk` request: its action line and, but for `delete`,
/// its source line.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkItem {
    pub action: String,
    pub index: Option<String>,
    pub id: Option<String>,
    pub lines: Vec<u8>,
}

/// Splits a `_bulk` NDJSON body into its items; `None` if it is not one.
pub fn bulk_items(body: &[u8]) -> Option<Vec<BulkItem>> {
    let mut lines = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let mut items = Vec::new();
    while let Some(action_line) = lines.next() {
        let action: Value = serde_json::from_slice(action_line).ok()?;
        let (name, meta) = action.as_object()?.iter().next()?;
        let mut raw = action_line.to_vec();
        raw.push(b'\n');
        if name != "delete" {
            raw.extend_from_slice(lines.next()?);
            raw.push(b'\n');
        }
        items.push(BulkItem {
            action: name.clone(),
            index: meta
                .get("_index")
                .and_then(Value::as_str)
                .map(str::to_owned),
            id: meta.get("_id").and_then(Value::as_str).map(str::to_owned),
            lines: raw,
        });
    }
    Some(items)
}

/// The answer of a rejected item, as OpenSearch gives it when its write
/// queue is full.
pub fn rejected_item(item: &BulkItem) -> Value {
    json!({ item.action.clone(): {
        "_index": item.index,
        "_id": item.id,
        "status": 429,
        "error": {
            "type": "es_rejected_execution_exception",
            "reason": "rejected execution of coordinating operation (devstack fault injection)",
        },
    }})
}

/// Merges the cluster's answer for the items sent with the rejections, in
/// request order. `sent[i]` says whether item `i` was sent; `answer` is the
/// cluster's `_bulk` answer for the sent ones (absent when none was sent).
pub fn merge_bulk_answer(items: &[BulkItem], sent: &[bool], answer: Option<&Value>) -> Value {
    let mut upstream = answer
        .and_then(|a| a.get("items"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter();
    let merged: Vec<Value> = items
        .iter()
        .zip(sent)
        .map(|(item, &was_sent)| {
            if was_sent {
                upstream.next().unwrap_or_else(|| rejected_item(item))
            } else {
                rejected_item(item)
            }
        })
        .collect();
    json!({
        "took": answer.and_then(|a| a.get("took")).cloned().unwrap_or(json!(0)),
        "errors": true,
        "items": merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_by_window_and_by_seeded_rate() {
        let faults = Faults::default();
        let next = faults.add(
            FaultRule::new("s3", Fault::Reset)
                .operation("PutObject")
                .when(When::Next { count: 2 }),
        );
        assert_eq!(faults.decide("fanin-collector", "s3", "GetObject"), None);
        for _ in 0..2 {
            assert_eq!(
                faults.decide("fanin-collector", "s3", "PutObject"),
                Some(Injection {
                    rule_id: next,
                    fault: Fault::Reset
                })
            );
        }
        assert_eq!(faults.decide("fanin-collector", "s3", "PutObject"), None);
        let status = &faults.list()[0];
        assert_eq!((status.matched, status.injected), (3, 2));

        let draws = |seed| {
            let faults = Faults::default();
            faults.add(FaultRule::new("sts", Fault::Hang).when(When::Rate { rate: 0.3, seed }));
            (0..1000)
                .map(|_| faults.decide("any", "sts", "AssumeRole").is_some())
                .collect::<Vec<_>>()
        };
        let first = draws(7);
        assert_eq!(first, draws(7), "the same seed draws the same requests");
        assert_ne!(first, draws(8));
        let fired = first.iter().filter(|&&f| f).count();
        assert!((250..350).contains(&fired), "{fired} of 1000 at rate 0.3");
    }

    #[test]
    fn a_time_window_closes() {
        let faults = Faults::default();
        faults.add(FaultRule::new("opensearch", Fault::Hang).when(When::For { millis: 30 }));
        assert!(faults.decide("opensearch", "opensearch", "_bulk").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(faults.decide("opensearch", "opensearch", "_bulk").is_none());
    }

    #[test]
    fn rules_parse_from_the_admin_json() {
        let rule: FaultRule = serde_json::from_value(json!({
            "service": "ec2", "operation": "DescribeInstances",
            "fault": {"kind": "error", "error": "throttling"},
            "when": {"kind": "next", "count": 3}
        }))
        .unwrap();
        assert_eq!(
            rule,
            FaultRule::new(
                "ec2",
                Fault::Error {
                    error: ErrorKind::Throttling,
                    status: None
                }
            )
            .operation("DescribeInstances")
            .when(When::Next { count: 3 })
        );
    }

    #[test]
    fn bulk_bodies_split_and_merge_in_order() {
        let body = b"{\"index\":{\"_index\":\"f\",\"_id\":\"a\"}}\n{\"n\":1}\n{\"delete\":{\"_index\":\"f\",\"_id\":\"b\"}}\n{\"create\":{\"_index\":\"l\",\"_id\":\"c\"}}\n{\"n\":3}\n";
        let items = bulk_items(body).unwrap();
        assert_eq!(
            items.iter().map(|i| i.action.as_str()).collect::<Vec<_>>(),
            ["index", "delete", "create"]
        );
        assert_eq!(
            items
                .iter()
                .flat_map(|i| i.lines.clone())
                .collect::<Vec<u8>>(),
            body.to_vec()
        );
        let answer = json!({"took": 3, "errors": false, "items": [
            {"index": {"_id": "a", "status": 201}},
            {"create": {"_id": "c", "status": 201}},
        ]});
        let merged = merge_bulk_answer(&items, &[true, false, true], Some(&answer));
        assert_eq!(merged["errors"], true);
        assert_eq!(merged["items"][0]["index"]["status"], 201);
        assert_eq!(merged["items"][1]["delete"]["status"], 429);
        assert_eq!(
            merged["items"][1]["delete"]["error"]["type"],
            "es_rejected_execution_exception"
        );
        assert_eq!(merged["items"][2]["create"]["_id"], "c");
        assert!(bulk_items(b"not json\n").is_none());
    }
}
