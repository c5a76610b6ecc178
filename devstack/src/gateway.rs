//! The one local AWS endpoint: serves Inspector Classic itself
//! ([`crate::classic`]), forwards every other AWS request verbatim to moto,
//! enforces what moto does not on `sts:AssumeRole` (the role must exist and
//! its trust policy's `sts:ExternalId` condition must match), counts every
//! call by caller, service and operation, and fronts OpenSearch with a switch
//! that takes it "down" for fault tests.
//!
//! Admin endpoints on the AWS listener (JSON in and out):
//! - `GET /_devstack/calls`: `{"calls": [{"caller", "service", "operation", "count"}]}`
//! - `POST /_devstack/calls/reset`
//! - `POST /_devstack/inspector/complete-run` with
//!   `{"assessmentRunArn": "...", "findingsPerInstance": 2}`: answers
//!   `{"findingArns": [...], "published": n}` (see [`Classic::complete_run`])
//! - `POST /_devstack/inspector/fail-next-describe` with
//!   `{"arn": "...", "retryable": true}`
//! - `POST /_devstack/opensearch/down`, `POST /_devstack/opensearch/up`,
//!   `GET /_devstack/opensearch` (`{"down": bool}`)
//! - `GET /_devstack/cloudtrail`: `{"events": [...]}`, every CloudTrail event
//!   played with its deliveries ([`crate::cloudtrail::PlayedEvent`]);
//!   `POST /_devstack/cloudtrail/reset`
//! - `POST /_devstack/lambda-targets` with `{"functionArn", "invokeUrl"}`:
//!   deliveries to that Lambda ARN go to that local function
//! - `POST /_devstack/config/evaluate` with `{"account", "region", "groupId"}`
//!   plays the guard's Config rule for that group (a periodic run without
//!   `groupId`): answers `{"answer": <the function's answer>}`
//! - `POST /_devstack/faults` with a [`FaultRule`] (`{"service", "operation",
//!   "caller", "fault": {"kind", ...}, "when": {"kind", ...}}`): answers
//!   `{"id": n}`; `GET /_devstack/faults` lists the rules with their counts;
//!   `POST /_devstack/faults/remove` `{"id": n}`; `POST /_devstack/faults/clear`
//!
//! It also plays CloudTrail for EC2 security-group calls
//! ([`crate::cloudtrail`]), answers CloudTrail's `LookupEvents` from them,
//! and serves what moto lacks of AWS Config
//! ([`crate::config_service`]).
//!
//! Fault rules ([`faults`]) apply to every request but the admin and
//! `/moto-api` ones, after it is counted and before it is served.

pub mod awsreq;
mod enforce;
pub mod faults;
mod operation;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::classic::Classic;
use crate::cloudtrail::{ApiCall, CloudTrail, LambdaTargets};
use crate::config_service::ConfigService;
use awsreq::{CredentialScope, caller_app, param, query_params};
pub use faults::{ErrorKind, Fault, FaultRule, FaultStatus, When};

/// Where the gateway forwards to.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// moto's base URL, e.g. `http://127.0.0.1:40123`.
    pub moto_url: String,
    /// osmem-server's (or any OpenSearch's) base URL; `None` serves no
    /// OpenSearch listener.
    pub opensearch_upstream: Option<String>,
}

/// One row of the call counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct CallCount {
    /// The `app/<name>` of the caller's user agent ("opensearch" for the
    /// OpenSearch listener, "unknown" without one).
    pub caller: String,
    /// The SigV4 service (sts, s3, ec2, sqs, sns, inspector...), "opensearch".
    pub service: String,
    /// The operation (AssumeRole, PutObject, DescribeFindings, _bulk...).
    pub operation: String,
    pub count: u64,
}

/// A running gateway. Its servers stop when it is dropped (or on
/// [`GatewayHandle::shutdown`]).
pub struct GatewayHandle {
    /// The AWS endpoint URL (`http://127.0.0.1:<port>`) for every SDK client.
    pub aws_url: String,
    /// The OpenSearch endpoint URL, when an upstream was given.
    pub opensearch_url: Option<String>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

pub(crate) struct Shared {
    pub(crate) moto_url: String,
    opensearch_upstream: Option<String>,
    pub(crate) http: reqwest::Client,
    classic: Classic,
    cloudtrail: CloudTrail,
    config: ConfigService,
    calls: Mutex<BTreeMap<(String, String, String), u64>>,
    opensearch_down: AtomicBool,
    faults: faults::Faults,
}

impl Shared {
    fn count(&self, caller: String, service: String, operation: String) {
        *self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((caller, service, operation))
            .or_insert(0) += 1;
    }

    fn calls(&self) -> Vec<CallCount> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|((caller, service, operation), count)| CallCount {
                caller: caller.clone(),
                service: service.clone(),
                operation: operation.clone(),
                count: *count,
            })
            .collect()
    }

    fn reset_calls(&self) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Starts the gateway on free loopback ports (the AWS listener, and the
/// OpenSearch listener when `opensearch_upstream` is set), served by tasks on
/// the current tokio runtime.
pub async fn start(opts: GatewayOptions) -> anyhow::Result<GatewayHandle> {
    let moto_url = opts.moto_url.trim_end_matches('/').to_string();
    let http = awsreq::local_http_client();
    let cloudtrail = CloudTrail::new(&moto_url, http.clone());
    let shared = Arc::new(Shared {
        classic: Classic::new(moto_url.clone()),
        config: ConfigService::new(cloudtrail.clone()),
        cloudtrail,
        moto_url,
        opensearch_upstream: opts
            .opensearch_upstream
            .map(|u| u.trim_end_matches('/').to_string()),
        http,
        calls: Mutex::new(BTreeMap::new()),
        opensearch_down: AtomicBool::new(false),
        faults: faults::Faults::default(),
    });
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();

    let aws_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let aws_url = format!("http://{}", aws_listener.local_addr()?);
    let aws_app = Router::new().fallback(aws_entry).with_state(shared.clone());
    tasks.push(tokio::spawn(serve(aws_listener, aws_app, stopped.clone())));

    let opensearch_url = match shared.opensearch_upstream {
        Some(_) => {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
            let url = format!("http://{}", listener.local_addr()?);
            let app = Router::new()
                .fallback(opensearch_entry)
                .with_state(shared.clone());
            tasks.push(tokio::spawn(serve(listener, app, stopped.clone())));
            Some(url)
        }
        None => None,
    };
    Ok(GatewayHandle {
        aws_url,
        opensearch_url,
        shared,
        stop,
        tasks,
    })
}

/// The connection a request came on: a handler that notifies it has the
/// connection reset (the [`Fault::Reset`] fault).
#[derive(Clone)]
struct ConnectionReset(Arc<Notify>);

/// Serves `app` on each accepted connection (HTTP/1.1, keep-alive) until
/// `stopped`, then drops every open connection.
async fn serve(listener: tokio::net::TcpListener, app: Router, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("devstack gateway cannot accept: {e}");
                    continue;
                }
            },
            _ = stopped.wait_for(|s| *s) => break,
        };
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
        // A second handle on the socket, to reset it when a fault asks.
        let Some((stream, spare)) = with_spare_handle(stream) else {
            continue;
        };
        let reset = ConnectionReset(Arc::new(Notify::new()));
        let app = app.clone();
        let handle = reset.clone();
        let service =
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(handle.clone());
                tower_service::Service::call(&mut app.clone(), request)
            });
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = reset.0.notified() => {
                    // SO_LINGER 0: closing sends RST instead of FIN.
                    if let Err(e) = spare.set_zero_linger() {
                        tracing::warn!("devstack gateway cannot reset a connection: {e}");
                    }
                }
            }
        });
    }
    connections.shutdown().await;
}

fn with_spare_handle(
    stream: tokio::net::TcpStream,
) -> Option<(tokio::net::TcpStream, tokio::net::TcpStream)> {
    let std_stream = stream.into_std().ok()?;
    let spare = std_stream.try_clone().ok()?;
    Some((
        tokio::net::TcpStream::from_std(std_stream).ok()?,
        tokio::net::TcpStream::from_std(spare).ok()?,
    ))
}

impl GatewayHandle {
    /// The Inspector Classic service the gateway serves.
    pub fn classic(&self) -> &Classic {
        &self.shared.classic
    }

    /// The CloudTrail player (played events, account sessions).
    pub fn cloudtrail(&self) -> &CloudTrail {
        &self.shared.cloudtrail
    }

    /// Local functions standing in for Lambda ARNs (EventBridge and Config
    /// deliver to them).
    pub fn lambda_targets(&self) -> &LambdaTargets {
        self.shared.cloudtrail.targets()
    }

    /// The AWS Config stand-in and its rule player.
    pub fn config(&self) -> &ConfigService {
        &self.shared.config
    }

    /// moto's base URL.
    pub fn moto_url(&self) -> &str {
        &self.shared.moto_url
    }

    /// The call counts so far, sorted by caller, service, operation.
    pub fn calls(&self) -> Vec<CallCount> {
        self.shared.calls()
    }

    /// The count of one (caller, service, operation), 0 if none.
    pub fn call_count(&self, caller: &str, service: &str, operation: &str) -> u64 {
        self.shared
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(
                caller.to_string(),
                service.to_string(),
                operation.to_string(),
            ))
            .copied()
            .unwrap_or(0)
    }

    /// Forgets the call counts.
    pub fn reset_calls(&self) {
        self.shared.reset_calls();
    }

    /// Takes OpenSearch "down" (every request answers 503) or back up.
    pub fn set_opensearch_down(&self, down: bool) {
        self.shared.opensearch_down.store(down, Ordering::SeqCst);
    }

    /// Adds a fault rule after the existing ones; answers its id.
    pub fn inject(&self, rule: FaultRule) -> u64 {
        self.shared.faults.add(rule)
    }

    /// Removes a fault rule; answers whether it existed.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.shared.faults.remove(id)
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The fault rules with what each matched and injected so far.
    pub fn faults(&self) -> Vec<FaultStatus> {
        self.shared.faults.list()
    }

    /// How many requests rule `id` injected its fault into (0 if it is gone).
    pub fn injected(&self, id: u64) -> u64 {
        self.faults()
            .iter()
            .find(|f| f.id == id)
            .map_or(0, |f| f.injected)
    }

    /// Stops the listeners and waits (up to 5 s) for them to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for GatewayHandle {
    fn drop(&mut self) {
        // The accept loops end on this signal, and idle keep-alive
        // connections are closed by the graceful shutdown.
        let _ = self.stop.send(true);
    }
}

fn json_answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn read_body(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("cannot read request body: {e}")}),
        )
    })
}

async fn aws_entry(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let path = parts.uri.path();
    if path == "/_devstack" || path.starts_with("/_devstack/") {
        return admin(&shared, &parts.method, path, &body).await;
    }
    let query = parts.uri.query();
    let scope = CredentialScope::from_request(&parts.headers, query);
    let service = scope
        .as_ref()
        .map(|s| s.service.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let params = if service == "s3" {
        query_params(query, &HeaderMap::new(), &[])
    } else {
        query_params(query, &parts.headers, &body)
    };
    let operation = operation::aws_operation(
        &service,
        target.as_deref(),
        &params,
        &parts.method,
        path,
        query,
        &parts.headers,
    );
    let mut truncate = false;
    if !path.starts_with("/moto-api") {
        let caller = caller_app(&parts.headers);
        shared.count(caller.clone(), service.clone(), operation.clone());
        match apply_fault(&shared, &parts, &caller, &service, &operation).await {
            Proceed::Answer(answer) => return answer,
            Proceed::Forward(plan) => truncate = plan.truncate,
        }
    }
    let answer = serve_aws(
        &shared,
        &parts,
        body,
        scope.as_ref(),
        &service,
        &operation,
        &params,
        target.as_deref(),
    )
    .await;
    if truncate {
        return truncated(answer).await;
    }
    answer
}

/// Serves an AWS request: Inspector Classic here, everything else at moto,
/// with AssumeRole enforced.
#[allow(clippy::too_many_arguments)]
async fn serve_aws(
    shared: &Arc<Shared>,
    parts: &Parts,
    body: Bytes,
    scope: Option<&CredentialScope>,
    service: &str,
    operation: &str,
    params: &[(String, String)],
    target: Option<&str>,
) -> Response {
    if target.is_some_and(|t| t.starts_with("InspectorService.")) {
        return shared.classic.handle(&parts.headers, &body).await;
    }
    if let Some(target) = target.filter(|t| crate::config_service::serves(t)) {
        return serve_config(shared, scope, target, &body).await;
    }
    if target.is_some_and(crate::cloudtrail::lookup::is_lookup_events) {
        return serve_lookup_events(shared, scope, &body).await;
    }
    let event_time = shared.cloudtrail.now();
    let recorded = service == "ec2" && crate::cloudtrail::RECORDED_OPERATIONS.contains(&operation);
    let request_body = recorded.then(|| body.clone());
    let upstream = match forward(&shared.http, &shared.moto_url, parts, body).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if service == "sts" && operation == "AssumeRole" && upstream.status.is_success() {
        let role_arn = param(params, "RoleArn").unwrap_or_default();
        let external_id = param(params, "ExternalId");
        let granted = String::from_utf8_lossy(&upstream.body).into_owned();
        if let Some(denied) =
            enforce::check_assume_role(shared, scope, role_arn, external_id, &granted).await
        {
            return denied;
        }
        if let Some(key) = xml_text_of(&upstream.body, "AccessKeyId") {
            shared.cloudtrail.note_session(&key);
        }
    }
    if let (Some(scope), Some(_)) = (scope, request_body) {
        // Played on a task of its own: the caller has its answer first, as
        // CloudTrail records and delivers after the call.
        shared.cloudtrail.spawn_play(ApiCall {
            access_key_id: scope.access_key_id.clone(),
            region: scope.region.clone(),
            operation: operation.to_owned(),
            params: params.to_vec(),
            status: upstream.status.as_u16(),
            body: upstream.body.clone(),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            event_time,
        });
    }
    upstream.into_response()
}

fn xml_text_of(body: &[u8], tag: &str) -> Option<String> {
    awsreq::xml_text(&String::from_utf8_lossy(body), tag)
}

/// Serves an AWS Config operation moto lacks, in the caller's account and region.
async fn serve_config(
    shared: &Shared,
    scope: Option<&CredentialScope>,
    target: &str,
    body: &[u8],
) -> Response {
    let Some(scope) = scope else {
        return json_answer(
            StatusCode::FORBIDDEN,
            json!({"__type": "MissingAuthenticationTokenException", "message": "the request is not signed"}),
        );
    };
    match shared.cloudtrail.identity(&scope.access_key_id).await {
        Ok(identity) => shared
            .config
            .handle(&identity.account, &scope.region, target, body),
        Err(e) => json_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"__type": "InternalFailure", "message": format!("devstack cannot tell the caller's account: {e:#}")}),
        ),
    }
}

/// Serves CloudTrail's `LookupEvents` from the records played in the
/// caller's account and region (moto keeps no history of its own).
async fn serve_lookup_events(
    shared: &Shared,
    scope: Option<&CredentialScope>,
    body: &[u8],
) -> Response {
    let Some(scope) = scope else {
        return cloudtrail_answer(
            StatusCode::FORBIDDEN,
            json!({"__type": "MissingAuthenticationTokenException", "message": "the request is not signed"}),
        );
    };
    let account = match shared.cloudtrail.identity(&scope.access_key_id).await {
        Ok(identity) => identity.account,
        Err(e) => {
            return cloudtrail_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"__type": "InternalFailure", "message": format!("devstack cannot tell the caller's account: {e:#}")}),
            );
        }
    };
    match shared.cloudtrail.lookup(&account, &scope.region, body) {
        Ok(answer) => cloudtrail_answer(StatusCode::OK, answer),
        Err(e) => cloudtrail_answer(
            StatusCode::BAD_REQUEST,
            json!({"__type": e.kind, "message": e.message}),
        ),
    }
}

fn cloudtrail_answer(status: StatusCode, body: Value) -> Response {
    let mut response = json_answer(status, body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

async fn opensearch_entry(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let operation = operation::opensearch_operation(&parts.method, parts.uri.path());
    shared.count(
        "opensearch".to_string(),
        "opensearch".to_string(),
        operation.clone(),
    );
    if shared.opensearch_down.load(Ordering::SeqCst) {
        return json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "error": {
                    "root_cause": [{"type": "devstack_unavailable_exception", "reason": "OpenSearch is down (devstack fault injection)"}],
                    "type": "devstack_unavailable_exception",
                    "reason": "OpenSearch is down (devstack fault injection)",
                },
                "status": 503,
            }),
        );
    }
    let plan = match apply_fault(&shared, &parts, "opensearch", "opensearch", &operation).await {
        Proceed::Answer(answer) => return answer,
        Proceed::Forward(plan) => plan,
    };
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(upstream) = shared.opensearch_upstream.as_deref() else {
        return json_answer(
            StatusCode::BAD_GATEWAY,
            json!({"error": "no OpenSearch upstream"}),
        );
    };
    let answer = match plan.bulk_rejections {
        Some((rule_id, share)) if operation == "_bulk" => {
            bulk_with_rejections(&shared, upstream, &parts, body, rule_id, share).await
        }
        _ => match forward(&shared.http, upstream, &parts, body).await {
            Ok(u) => u.into_response(),
            Err(r) => r,
        },
    };
    if plan.truncate {
        return truncated(answer).await;
    }
    answer
}

/// What a request does once the fault rules have spoken.
enum Proceed {
    /// Answer this instead of serving the request.
    Answer(Response),
    /// Serve the request, with these changes.
    Forward(ForwardPlan),
}

#[derive(Default)]
struct ForwardPlan {
    truncate: bool,
    /// (rule id, share) of a [`Fault::BulkItemRejections`].
    bulk_rejections: Option<(u64, f64)>,
}

/// Applies the first fault rule that fires for the request, if any.
async fn apply_fault(
    shared: &Shared,
    parts: &Parts,
    caller: &str,
    service: &str,
    operation: &str,
) -> Proceed {
    let Some(injection) = shared.faults.decide(caller, service, operation) else {
        return Proceed::Forward(ForwardPlan::default());
    };
    tracing::info!(caller, service, operation, fault = ?injection.fault, "devstack fault injected");
    match injection.fault {
        Fault::Latency { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            Proceed::Forward(ForwardPlan::default())
        }
        Fault::Error { error, status } => {
            Proceed::Answer(faults::error_answer(service, error, status))
        }
        Fault::Reset => {
            if let Some(reset) = parts.extensions.get::<ConnectionReset>() {
                reset.0.notify_one();
            }
            std::future::pending().await
        }
        Fault::Hang => std::future::pending().await,
        Fault::Truncate => Proceed::Forward(ForwardPlan {
            truncate: true,
            ..Default::default()
        }),
        Fault::BulkItemRejections { share, .. } => Proceed::Forward(ForwardPlan {
            bulk_rejections: Some((injection.rule_id, share)),
            ..Default::default()
        }),
    }
}

/// Sends the `_bulk` items the draw keeps to the cluster and answers the
/// others 429, in one answer in request order.
async fn bulk_with_rejections(
    shared: &Shared,
    upstream: &str,
    parts: &Parts,
    body: Bytes,
    rule_id: u64,
    share: f64,
) -> Response {
    let Some(items) = faults::bulk_items(&body) else {
        return match forward(&shared.http, upstream, parts, body).await {
            Ok(u) => u.into_response(),
            Err(r) => r,
        };
    };
    let sent: Vec<bool> = items
        .iter()
        .map(|_| shared.faults.draw(rule_id).is_none_or(|draw| draw >= share))
        .collect();
    let kept: Vec<u8> = items
        .iter()
        .zip(&sent)
        .filter(|(_, sent)| **sent)
        .flat_map(|(item, _)| item.lines.iter().copied())
        .collect();
    let answer = if kept.is_empty() {
        None
    } else {
        let upstream = match forward(&shared.http, upstream, parts, Bytes::from(kept)).await {
            Ok(u) => u,
            Err(r) => return r,
        };
        if !upstream.status.is_success() {
            return upstream.into_response();
        }
        match serde_json::from_slice::<Value>(&upstream.body) {
            Ok(answer) => Some(answer),
            Err(_) => return upstream.into_response(),
        }
    };
    json_answer(
        StatusCode::OK,
        faults::merge_bulk_answer(&items, &sent, answer.as_ref()),
    )
}

/// The answer's status and headers, a `Content-Length` of its whole body
/// but only the first half of it (of an empty body: a declared byte that
/// never comes), then the connection breaks.
async fn truncated(answer: Response) -> Response {
    let (mut parts, body) = answer.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let declared = body.len().max(1);
    let half = body.slice(..body.len() / 2);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "devstack fault injection: truncated body",
        )),
    ];
    Response::from_parts(parts, Body::from_stream(futures::stream::iter(chunks)))
}

async fn admin(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Response {
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return json_answer(
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("the body must be JSON: {e}")}),
                );
            }
        }
    };
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "/_devstack/calls") => {
            json_answer(StatusCode::OK, json!({"calls": shared.calls()}))
        }
        ("POST", "/_devstack/calls/reset") => {
            shared.reset_calls();
            json_answer(StatusCode::OK, json!({"calls": []}))
        }
        ("POST", "/_devstack/inspector/complete-run") => {
            let Some(run_arn) = input.get("assessmentRunArn").and_then(Value::as_str) else {
                return json_answer(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "assessmentRunArn is required"}),
                );
            };
            let per_instance = input
                .get("findingsPerInstance")
                .and_then(Value::as_u64)
                .unwrap_or(2) as usize;
            match shared.classic.complete_run(run_arn, per_instance).await {
                Ok(outcome) => json_answer(StatusCode::OK, json!(outcome)),
                Err(e) => json_answer(
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    json!({"error": e.to_string()}),
                ),
            }
        }
        ("POST", "/_devstack/inspector/fail-next-describe") => {
            let Some(arn) = input.get("arn").and_then(Value::as_str) else {
                return json_answer(StatusCode::BAD_REQUEST, json!({"error": "arn is required"}));
            };
            let retryable = input
                .get("retryable")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            shared.classic.fail_next_describe(arn, retryable);
            json_answer(StatusCode::OK, json!({"arn": arn, "retryable": retryable}))
        }
        ("POST", "/_devstack/opensearch/down") => {
            shared.opensearch_down.store(true, Ordering::SeqCst);
            json_answer(StatusCode::OK, json!({"down": true}))
        }
        ("POST", "/_devstack/opensearch/up") => {
            shared.opensearch_down.store(false, Ordering::SeqCst);
            json_answer(StatusCode::OK, json!({"down": false}))
        }
        ("GET", "/_devstack/opensearch") => json_answer(
            StatusCode::OK,
            json!({"down": shared.opensearch_down.load(Ordering::SeqCst)}),
        ),
        ("GET", "/_devstack/faults") => {
            json_answer(StatusCode::OK, json!({"faults": shared.faults.list()}))
        }
        ("POST", "/_devstack/faults") => match serde_json::from_value::<FaultRule>(input) {
            Ok(rule) => json_answer(StatusCode::OK, json!({"id": shared.faults.add(rule)})),
            Err(e) => json_answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("not a fault rule: {e}")}),
            ),
        },
        ("POST", "/_devstack/faults/remove") => {
            let Some(id) = input.get("id").and_then(Value::as_u64) else {
                return json_answer(StatusCode::BAD_REQUEST, json!({"error": "id is required"}));
            };
            json_answer(StatusCode::OK, json!({"removed": shared.faults.remove(id)}))
        }
        ("GET", "/_devstack/cloudtrail") => json_answer(
            StatusCode::OK,
            json!({"events": shared.cloudtrail.played()}),
        ),
        ("POST", "/_devstack/cloudtrail/reset") => {
            shared.cloudtrail.reset();
            json_answer(StatusCode::OK, json!({"events": []}))
        }
        ("POST", "/_devstack/config/evaluate") => {
            let (Some(account), Some(region)) = (
                input.get("account").and_then(Value::as_str),
                input.get("region").and_then(Value::as_str),
            ) else {
                return json_answer(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "account and region are required"}),
                );
            };
            let answer = match input.get("groupId").and_then(Value::as_str) {
                Some(group) => shared.config.evaluate_change(account, region, group).await,
                None => shared.config.evaluate_periodic(account, region).await,
            };
            match answer {
                Ok(answer) => json_answer(StatusCode::OK, json!({"answer": answer})),
                Err(e) => json_answer(StatusCode::BAD_GATEWAY, json!({"error": format!("{e:#}")})),
            }
        }
        ("POST", "/_devstack/lambda-targets") => {
            let (Some(arn), Some(url)) = (
                input.get("functionArn").and_then(Value::as_str),
                input.get("invokeUrl").and_then(Value::as_str),
            ) else {
                return json_answer(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "functionArn and invokeUrl are required"}),
                );
            };
            shared.cloudtrail.targets().register(arn, url);
            json_answer(
                StatusCode::OK,
                json!({"functionArn": arn, "invokeUrl": url}),
            )
        }
        ("POST", "/_devstack/faults/clear") => {
            shared.faults.clear();
            json_answer(StatusCode::OK, json!({"faults": []}))
        }
        (m, p) => json_answer(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no devstack admin endpoint {m} {p}")}),
        ),
    }
}

/// An upstream answer, buffered.
struct Upstream {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl IntoResponse for Upstream {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Sends the request verbatim to `base` (method, path, query, headers but
/// Host and hop-by-hop ones, body) and buffers the answer.
async fn forward(
    http: &reqwest::Client,
    base: &str,
    parts: &Parts,
    body: Bytes,
) -> Result<Upstream, Response> {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut request = http.request(parts.method.clone(), format!("{base}{path_and_query}"));
    for (name, value) in &parts.headers {
        if hop_by_hop(name)
            || name == header::HOST
            || name == header::CONTENT_LENGTH
            || name == header::EXPECT
        {
            continue;
        }
        request = request.header(name, value);
    }
    let response = request.body(body).send().await.map_err(|e| {
        json_answer(
            StatusCode::BAD_GATEWAY,
            json!({"error": format!("devstack gateway cannot reach {base}: {e}")}),
        )
    })?;
    let status = response.status();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if !hop_by_hop(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    let body = response.bytes().await.map_err(|e| {
        json_answer(
            StatusCode::BAD_GATEWAY,
            json!({"error": format!("devstack gateway lost the answer of {base}: {e}")}),
        )
    })?;
    Ok(Upstream {
        status,
        headers,
        body,
    })
}
