//! The project's own Amazon Inspector Classic endpoint (moto has none).
//!
//! An in-memory service speaking the AWS JSON 1.1 protocol (`POST /`,
//! `X-Amz-Target: InspectorService.<Operation>`), with state per account and
//! region: the region comes from the SigV4 credential scope, the account from
//! moto (`sts:GetCallerIdentity` with the caller's access key id, cached), or
//! from an `x-moto-account-id` header as moto itself honours it.
//!
//! Operations: CreateAssessmentTarget, ListAssessmentTargets,
//! DescribeAssessmentTargets, CreateAssessmentTemplate,
//! ListAssessmentTemplates, DescribeAssessmentTemplates, SetTagsForResource,
//! ListTagsForResource, SubscribeToEvent, UnsubscribeFromEvent,
//! ListEventSubscriptions, StartAssessmentRun, ListAssessmentRuns,
//! DescribeAssessmentRuns, ListFindings, DescribeFindings, ListRulesPackages,
//! DescribeRulesPackages.
//!
//! Runs are completed by the admin call [`Classic::complete_run`] (the gateway
//! serves it as `POST /_devstack/inspector/complete-run`), which makes
//! findings from the account's real EC2 instances in moto and publishes the
//! SNS notifications Inspector would.

mod catalog;
mod complete;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::gateway::awsreq::{self, CredentialScope};
pub use catalog::{
    RulesPackageKind, inspector_service_account, rules_package_arn, rules_package_arns,
};
pub use complete::{CompleteRunError, CompleteRunOutcome, INSPECTOR_ROLE_NAME};

use catalog::{epoch, key_value};

/// The Inspector Classic events a template can be subscribed to.
pub const INSPECTOR_EVENTS: [&str; 5] = [
    "ASSESSMENT_RUN_STARTED",
    "ASSESSMENT_RUN_COMPLETED",
    "ASSESSMENT_RUN_STATE_CHANGED",
    "FINDING_REPORTED",
    "OTHER",
];

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const DEFAULT_MAX_RESULTS: usize = 10;
const MAX_MAX_RESULTS: usize = 500;

/// The in-memory Inspector Classic service. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Classic {
    inner: Arc<Inner>,
}

struct Inner {
    moto_url: String,
    http: reqwest::Client,
    accounts: Mutex<HashMap<String, String>>,
    state: Mutex<State>,
}

/// The account and region a request acts in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Caller {
    account: String,
    region: String,
}

#[derive(Default)]
struct State {
    seq: u64,
    targets: HashMap<String, Target>,
    templates: HashMap<String, Template>,
    runs: HashMap<String, Run>,
    findings: HashMap<String, StoredFinding>,
    subscriptions: Vec<Subscription>,
    tags: HashMap<String, Vec<Value>>,
    fail_next_describe: HashMap<String, bool>,
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

struct Target {
    seq: u64,
    arn: String,
    name: String,
    resource_group_arn: Option<String>,
    created_at: DateTime<Utc>,
}

struct Template {
    seq: u64,
    arn: String,
    name: String,
    target_arn: String,
    duration: i64,
    rules_packages: Vec<String>,
    user_attributes: Value,
    created_at: DateTime<Utc>,
    last_run_arn: Option<String>,
    run_count: i64,
}

struct Run {
    seq: u64,
    arn: String,
    name: String,
    template_arn: String,
    target_arn: String,
    state: String,
    duration: i64,
    rules_packages: Vec<String>,
    user_attributes: Value,
    created_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    state_changed_at: DateTime<Utc>,
    state_changes: Vec<(String, DateTime<Utc>)>,
    notifications: Vec<Value>,
    finding_counts: HashMap<String, i64>,
}

impl Run {
    fn set_state(&mut self, state: &str, at: DateTime<Utc>) {
        self.state = state.to_string();
        self.state_changed_at = at;
        self.state_changes.push((state.to_string(), at));
    }
}

struct StoredFinding {
    seq: u64,
    run_arn: String,
    finding: Value,
}

struct Subscription {
    seq: u64,
    resource_arn: String,
    topic_arn: String,
    events: Vec<(String, DateTime<Utc>)>,
}

/// An AWS JSON protocol error.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    error_code: Option<&'static str>,
    can_retry: bool,
}

impl ApiError {
    fn new(kind: &'static str, code: Option<&'static str>, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
            error_code: code,
            can_retry: false,
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", None, message)
    }

    fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new("InvalidInputException", Some(code), message)
    }

    fn no_such(code: &'static str, message: impl Into<String>) -> Self {
        Self::new("NoSuchEntityException", Some(code), message)
    }

    fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalException",
            message: message.into(),
            error_code: None,
            can_retry: true,
        }
    }

    fn into_response(self) -> Response {
        let mut body = json!({
            "__type": self.kind,
            "message": self.message,
            "canRetry": self.can_retry,
        });
        if let Some(code) = self.error_code {
            body["errorCode"] = json!(code);
        }
        json_response(self.status, &body, Some(self.kind))
    }
}

fn json_response(status: StatusCode, body: &Value, error_type: Option<&str>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(kind) = error_type.and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("x-amzn-errortype", kind);
    }
    response
}

/// The parts of an Inspector ARN.
struct InspectorArn<'a> {
    region: &'a str,
    account: &'a str,
}

fn parse_arn(arn: &str) -> Option<InspectorArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, service, region, account, _resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (prefix == "arn" && service == "inspector" && !region.is_empty() && !account.is_empty())
        .then_some(InspectorArn { region, account })
}

fn owned_by(arn: &str, caller: &Caller) -> bool {
    parse_arn(arn).is_some_and(|a| a.account == caller.account && a.region == caller.region)
}

/// `0-` and eight random alphanumeric characters, as Inspector's ids.
fn new_id() -> String {
    let n = u64::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .expect("eight bytes"),
    );
    format!("0-{}", catalog::alnum8(n))
}

fn req_str(input: &Value, name: &str) -> Result<String, ApiError> {
    match input.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Err(ApiError::validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))),
        Some(_) => Err(ApiError::new(
            "SerializationException",
            None,
            format!("'{name}' must be a string"),
        )),
    }
}

fn opt_str(input: &Value, name: &str) -> Option<String> {
    input.get(name).and_then(Value::as_str).map(str::to_string)
}

fn str_list(input: &Value, name: &str) -> Vec<String> {
    input
        .get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn check_len(name: &str, len: usize, min: usize, max: usize) -> Result<(), ApiError> {
    if len < min || len > max {
        let constraint = if len < min {
            format!("Member must have length greater than or equal to {min}")
        } else {
            format!("Member must have length less than or equal to {max}")
        };
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{name}' failed to satisfy constraint: {constraint}"
        )));
    }
    Ok(())
}

/// `[{key, value?}]` attributes or tags, validated like the service does.
fn key_values(input: &Value, name: &str, max: usize) -> Result<Value, ApiError> {
    let items = input
        .get(name)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    check_len(name, items.len(), 0, max)?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
        if key.is_empty() || key.len() > 128 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{name}.member.key' failed to satisfy constraint: Member must have length between 1 and 128"
            )));
        }
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.push(key_value(key, value));
    }
    Ok(Value::Array(out))
}

/// One page of `items` after the request's `nextToken`, at most `maxResults`.
fn page(input: &Value, items: Vec<String>) -> Result<(Vec<String>, Option<String>), ApiError> {
    let max = match input.get("maxResults") {
        None | Some(Value::Null) => DEFAULT_MAX_RESULTS,
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => (n as usize).min(MAX_MAX_RESULTS),
            _ => {
                return Err(ApiError::invalid(
                    "INVALID_MAX_RESULTS",
                    "maxResults must be a positive number",
                ));
            }
        },
    };
    let start = match input.get("nextToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                ApiError::invalid(
                    "INVALID_PAGINATION_TOKEN",
                    "The pagination token is not valid",
                )
            })?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("page-{end}"));
    Ok((items[start..end].to_vec(), next))
}

fn with_token(mut body: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        body["nextToken"] = json!(token);
    }
    body
}

fn failed(code: &str, retryable: bool) -> Value {
    json!({"failureCode": code, "retryable": retryable})
}

/// The ARNs of a BatchDescribeArnList (1 to 10), without duplicates.
fn batch_arns(input: &Value, name: &str) -> Result<Vec<String>, ApiError> {
    let arns = str_list(input, name);
    check_len(name, arns.len(), 1, 10)?;
    let mut unique: Vec<String> = Vec::with_capacity(arns.len());
    for arn in arns {
        if !unique.contains(&arn) {
            unique.push(arn);
        }
    }
    Ok(unique)
}

impl Classic {
    /// A service that asks moto at `moto_url` for the accounts of access keys
    /// and the EC2 instances and SNS topics it needs.
    pub fn new(moto_url: impl Into<String>) -> Self {
        Classic {
            inner: Arc::new(Inner {
                moto_url: moto_url.into().trim_end_matches('/').to_string(),
                http: awsreq::local_http_client(),
                accounts: Mutex::new(HashMap::new()),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// moto's base URL.
    pub fn moto_url(&self) -> &str {
        &self.inner.moto_url
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The account an access key acts in, as moto sees it (cached).
    pub async fn account_of(&self, access_key_id: &str) -> anyhow::Result<String> {
        if let Some(account) = self
            .inner
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key_id)
        {
            return Ok(account.clone());
        }
        let (account, _) =
            awsreq::moto_caller_identity(&self.inner.http, &self.inner.moto_url, access_key_id)
                .await?;
        self.inner
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(access_key_id.to_string(), account.clone());
        Ok(account)
    }

    async fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let scope = CredentialScope::from_request(headers, None);
        let region = scope
            .as_ref()
            .map(|s| s.region.clone())
            .unwrap_or_else(|| "us-east-1".to_string());
        if let Some(account) = headers
            .get("x-moto-account-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        {
            return Ok(Caller {
                account: account.to_string(),
                region,
            });
        }
        let key = scope
            .map(|s| s.access_key_id)
            .unwrap_or_else(|| "AKIAEXAMPLE".to_string());
        let account = self.account_of(&key).await.map_err(|e| {
            ApiError::internal(format!("cannot resolve the caller's account: {e:#}"))
        })?;
        Ok(Caller { account, region })
    }

    /// Makes the next DescribeFindings that asks for `arn` report it in
    /// `failedItems` with `INTERNAL_ERROR` and this `retryable` flag (once).
    pub fn fail_next_describe(&self, arn: &str, retryable: bool) {
        self.state()
            .fail_next_describe
            .insert(arn.to_string(), retryable);
    }

    /// Serves one AWS JSON 1.1 request (`X-Amz-Target:
    /// InspectorService.<Operation>`).
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(operation) = target.strip_prefix("InspectorService.") else {
            return ApiError::new(
                "UnknownOperationException",
                None,
                format!("Unknown operation target '{target}'"),
            )
            .into_response();
        };
        match self.dispatch(operation, headers, body).await {
            Ok(value) => json_response(StatusCode::OK, &value, None),
            Err(err) => err.into_response(),
        }
    }

    async fn dispatch(
        &self,
        op: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::new("SerializationException", None, format!("invalid JSON: {e}"))
            })?
        };
        if !input.is_object() {
            return Err(ApiError::new(
                "SerializationException",
                None,
                "the request body must be a JSON object",
            ));
        }
        let caller = self.caller(headers).await?;
        let now = Utc::now();
        match op {
            "CreateAssessmentTarget" => self.create_target(&caller, &input, now),
            "ListAssessmentTargets" => self.list_targets(&caller, &input),
            "DescribeAssessmentTargets" => self.describe_targets(&caller, &input),
            "CreateAssessmentTemplate" => self.create_template(&caller, &input, now),
            "ListAssessmentTemplates" => self.list_templates(&caller, &input),
            "DescribeAssessmentTemplates" => self.describe_templates(&caller, &input),
            "SetTagsForResource" => self.set_tags(&caller, &input),
            "ListTagsForResource" => self.list_tags(&caller, &input),
            "SubscribeToEvent" => self.subscribe(&caller, &input, now).await,
            "UnsubscribeFromEvent" => self.unsubscribe(&caller, &input),
            "ListEventSubscriptions" => self.list_subscriptions(&caller, &input),
            "StartAssessmentRun" => self.start_run(&caller, &input, now),
            "ListAssessmentRuns" => self.list_runs(&caller, &input),
            "DescribeAssessmentRuns" => self.describe_runs(&caller, &input),
            "ListFindings" => self.list_findings(&caller, &input),
            "DescribeFindings" => self.describe_findings(&caller, &input),
            "ListRulesPackages" => self.list_rules_packages(&caller, &input),
            "DescribeRulesPackages" => self.describe_rules_packages(&caller, &input),
            other => Err(ApiError::new(
                "UnknownOperationException",
                None,
                format!(
                    "Operation {other} is not implemented by the devstack Inspector Classic endpoint"
                ),
            )),
        }
    }

    fn create_target(
        &self,
        caller: &Caller,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, ApiError> {
        let name = req_str(input, "assessmentTargetName")?;
        check_len("assessmentTargetName", name.len(), 1, 140)?;
        let resource_group_arn = opt_str(input, "resourceGroupArn");
        let mut st = self.state();
        if st
            .targets
            .values()
            .any(|t| t.name == name && owned_by(&t.arn, caller))
        {
            return Err(ApiError::invalid(
                "ASSESSMENT_TARGET_NAME_ALREADY_TAKEN",
                format!("An assessment target named '{name}' already exists"),
            ));
        }
        let arn = format!(
            "arn:aws:inspector:{}:{}:target/{}",
            caller.region,
            caller.account,
            new_id()
        );
        let seq = st.next_seq();
        st.targets.insert(
            arn.clone(),
            Target {
                seq,
                arn: arn.clone(),
                name,
                resource_group_arn,
                created_at: now,
            },
        );
        Ok(json!({"assessmentTargetArn": arn}))
    }

    fn list_targets(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let pattern = input
            .pointer("/filter/assessmentTargetNamePattern")
            .and_then(Value::as_str);
        let st = self.state();
        let mut targets: Vec<&Target> = st
            .targets
            .values()
            .filter(|t| owned_by(&t.arn, caller))
            .filter(|t| pattern.is_none_or(|p| awsreq::glob_match(p, &t.name)))
            .collect();
        targets.sort_by_key(|t| t.seq);
        let arns = targets.iter().map(|t| t.arn.clone()).collect();
        let (arns, next) = page(input, arns)?;
        Ok(with_token(json!({"assessmentTargetArns": arns}), next))
    }

    fn describe_targets(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let arns = batch_arns(input, "assessmentTargetArns")?;
        let st = self.state();
        let mut found = Vec::new();
        let mut failed_items = Map::new();
        for arn in arns {
            match st.targets.get(&arn).filter(|t| owned_by(&t.arn, caller)) {
                Some(t) => {
                    let mut v = json!({
                        "arn": t.arn,
                        "name": t.name,
                        "createdAt": epoch(t.created_at),
                        "updatedAt": epoch(t.created_at),
                    });
                    if let Some(rg) = &t.resource_group_arn {
                        v["resourceGroupArn"] = json!(rg);
                    }
                    found.push(v);
                }
                None => {
                    failed_items.insert(arn.clone(), missing(&arn));
                }
            }
        }
        Ok(json!({"assessmentTargets": found, "failedItems": failed_items}))
    }

    fn create_template(
        &self,
        caller: &Caller,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, ApiError> {
        let target_arn = req_str(input, "assessmentTargetArn")?;
        let name = req_str(input, "assessmentTemplateName")?;
        check_len("assessmentTemplateName", name.len(), 1, 140)?;
        let duration = input
            .get("durationInSeconds")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                ApiError::validation(
                    "1 validation error detected: Value null at 'durationInSeconds' failed to satisfy constraint: Member must not be null",
                )
            })?;
        if !(180..=86400).contains(&duration) {
            return Err(ApiError::invalid(
                "INVALID_ASSESSMENT_TEMPLATE_DURATION",
                "durationInSeconds must be between 180 and 86400",
            ));
        }
        if input.get("rulesPackageArns").is_none() {
            return Err(ApiError::validation(
                "1 validation error detected: Value null at 'rulesPackageArns' failed to satisfy constraint: Member must not be null",
            ));
        }
        let rules_packages = str_list(input, "rulesPackageArns");
        check_len("rulesPackageArns", rules_packages.len(), 0, 50)?;
        let user_attributes = key_values(input, "userAttributesForFindings", 10)?;
        if parse_arn(&target_arn).is_none() {
            return Err(ApiError::invalid(
                "INVALID_ASSESSMENT_TARGET_ARN",
                format!("'{target_arn}' is not an assessment target ARN"),
            ));
        }
        let mut st = self.state();
        if !st.targets.contains_key(&target_arn) || !owned_by(&target_arn, caller) {
            return Err(ApiError::no_such(
                "ASSESSMENT_TARGET_DOES_NOT_EXIST",
                format!("Assessment target {target_arn} does not exist"),
            ));
        }
        if st
            .templates
            .values()
            .any(|t| t.target_arn == target_arn && t.name == name)
        {
            return Err(ApiError::invalid(
                "ASSESSMENT_TEMPLATE_NAME_ALREADY_TAKEN",
                format!("An assessment template named '{name}' already exists for this target"),
            ));
        }
        let arn = format!("{target_arn}/template/{}", new_id());
        let seq = st.next_seq();
        st.templates.insert(
            arn.clone(),
            Template {
                seq,
                arn: arn.clone(),
                name,
                target_arn,
                duration,
                rules_packages,
                user_attributes,
                created_at: now,
                last_run_arn: None,
                run_count: 0,
            },
        );
        Ok(json!({"assessmentTemplateArn": arn}))
    }

    fn list_templates(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let targets = str_list(input, "assessmentTargetArns");
        let filter = input.get("filter").cloned().unwrap_or(Value::Null);
        let pattern = filter.get("namePattern").and_then(Value::as_str);
        let min = filter
            .pointer("/durationRange/minSeconds")
            .and_then(Value::as_i64);
        let max = filter
            .pointer("/durationRange/maxSeconds")
            .and_then(Value::as_i64);
        let packages = str_list(&filter, "rulesPackageArns");
        let st = self.state();
        let mut templates: Vec<&Template> = st
            .templates
            .values()
            .filter(|t| owned_by(&t.arn, caller))
            .filter(|t| targets.is_empty() || targets.contains(&t.target_arn))
            .filter(|t| pattern.is_none_or(|p| awsreq::glob_match(p, &t.name)))
            .filter(|t| min.is_none_or(|m| t.duration >= m) && max.is_none_or(|m| t.duration <= m))
            .filter(|t| packages.iter().all(|p| t.rules_packages.contains(p)))
            .collect();
        templates.sort_by_key(|t| t.seq);
        let arns = templates.iter().map(|t| t.arn.clone()).collect();
        let (arns, next) = page(input, arns)?;
        Ok(with_token(json!({"assessmentTemplateArns": arns}), next))
    }

    fn describe_templates(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let arns = batch_arns(input, "assessmentTemplateArns")?;
        let st = self.state();
        let mut found = Vec::new();
        let mut failed_items = Map::new();
        for arn in arns {
            match st.templates.get(&arn).filter(|t| owned_by(&t.arn, caller)) {
                Some(t) => {
                    let mut v = json!({
                        "arn": t.arn,
                        "name": t.name,
                        "assessmentTargetArn": t.target_arn,
                        "durationInSeconds": t.duration,
                        "rulesPackageArns": t.rules_packages,
                        "userAttributesForFindings": t.user_attributes,
                        "assessmentRunCount": t.run_count,
                        "createdAt": epoch(t.created_at),
                    });
                    if let Some(run) = &t.last_run_arn {
                        v["lastAssessmentRunArn"] = json!(run);
                    }
                    found.push(v);
                }
                None => {
                    failed_items.insert(arn.clone(), missing(&arn));
                }
            }
        }
        Ok(json!({"assessmentTemplates": found, "failedItems": failed_items}))
    }

    /// The template `arn` if the caller owns it, else the service's error.
    fn owned_template<'s>(
        st: &'s State,
        caller: &Caller,
        arn: &str,
    ) -> Result<&'s Template, ApiError> {
        if parse_arn(arn).is_none() {
            return Err(ApiError::invalid(
                "INVALID_ASSESSMENT_TEMPLATE_ARN",
                format!("'{arn}' is not an assessment template ARN"),
            ));
        }
        st.templates
            .get(arn)
            .filter(|t| owned_by(&t.arn, caller))
            .ok_or_else(|| {
                ApiError::no_such(
                    "ASSESSMENT_TEMPLATE_DOES_NOT_EXIST",
                    format!("Assessment template {arn} does not exist"),
                )
            })
    }

    fn set_tags(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let arn = req_str(input, "resourceArn")?;
        let tags = key_values(input, "tags", 10)?;
        let mut st = self.state();
        Self::owned_template(&st, caller, &arn)?;
        let tags = tags.as_array().cloned().unwrap_or_default();
        st.tags.insert(arn, tags);
        Ok(json!({}))
    }

    fn list_tags(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let arn = req_str(input, "resourceArn")?;
        let st = self.state();
        Self::owned_template(&st, caller, &arn)?;
        Ok(json!({"tags": st.tags.get(&arn).cloned().unwrap_or_default()}))
    }

    fn event_of(input: &Value) -> Result<String, ApiError> {
        let event = req_str(input, "event")?;
        if INSPECTOR_EVENTS.contains(&event.as_str()) {
            Ok(event)
        } else {
            Err(ApiError::invalid(
                "INVALID_EVENT",
                format!("'{event}' is not an Inspector event"),
            ))
        }
    }

    async fn subscribe(
        &self,
        caller: &Caller,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, ApiError> {
        let resource_arn = req_str(input, "resourceArn")?;
        let event = Self::event_of(input)?;
        let topic_arn = req_str(input, "topicArn")?;
        Self::owned_template(&self.state(), caller, &resource_arn)?;
        let topic_region = topic_region(&topic_arn).ok_or_else(|| {
            ApiError::invalid(
                "INVALID_SNS_TOPIC_ARN",
                format!("'{topic_arn}' is not an SNS topic ARN"),
            )
        })?;
        if topic_region != caller.region {
            return Err(ApiError::invalid(
                "INVALID_SNS_TOPIC_ARN",
                format!(
                    "The SNS topic {topic_arn} must be in the assessment template's region ({})",
                    caller.region
                ),
            ));
        }
        self.check_topic(&topic_arn, topic_region).await?;
        let mut st = self.state();
        Self::owned_template(&st, caller, &resource_arn)?;
        match st
            .subscriptions
            .iter_mut()
            .find(|s| s.resource_arn == resource_arn && s.topic_arn == topic_arn)
        {
            Some(sub) => {
                if !sub.events.iter().any(|(e, _)| *e == event) {
                    sub.events.push((event, now));
                }
            }
            None => {
                let seq = st.next_seq();
                st.subscriptions.push(Subscription {
                    seq,
                    resource_arn,
                    topic_arn,
                    events: vec![(event, now)],
                });
            }
        }
        Ok(json!({}))
    }

    /// NoSuchEntity unless the topic exists in moto.
    async fn check_topic(&self, topic_arn: &str, region: &str) -> Result<(), ApiError> {
        let (status, text) = awsreq::moto_query(
            &self.inner.http,
            &self.inner.moto_url,
            "AKIAIOSFODNN7EXAMPLE",
            "sns",
            region,
            &[("Action", "GetTopicAttributes"), ("TopicArn", topic_arn)],
        )
        .await
        .map_err(|e| ApiError::internal(format!("cannot reach SNS: {e:#}")))?;
        if status.is_success() {
            Ok(())
        } else if text.contains("NotFound") {
            Err(ApiError::no_such(
                "SNS_TOPIC_DOES_NOT_EXIST",
                format!("SNS topic {topic_arn} does not exist"),
            ))
        } else {
            Err(ApiError::internal(format!(
                "SNS GetTopicAttributes answered {status}: {text}"
            )))
        }
    }

    fn unsubscribe(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let resource_arn = req_str(input, "resourceArn")?;
        let event = Self::event_of(input)?;
        let topic_arn = req_str(input, "topicArn")?;
        let mut st = self.state();
        Self::owned_template(&st, caller, &resource_arn)?;
        for sub in st
            .subscriptions
            .iter_mut()
            .filter(|s| s.resource_arn == resource_arn && s.topic_arn == topic_arn)
        {
            sub.events.retain(|(e, _)| *e != event);
        }
        st.subscriptions.retain(|s| !s.events.is_empty());
        Ok(json!({}))
    }

    fn list_subscriptions(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let resource = opt_str(input, "resourceArn");
        let st = self.state();
        if let Some(arn) = &resource {
            Self::owned_template(&st, caller, arn)?;
        }
        let mut subs: Vec<&Subscription> = st
            .subscriptions
            .iter()
            .filter(|s| owned_by(&s.resource_arn, caller))
            .filter(|s| resource.as_ref().is_none_or(|r| *r == s.resource_arn))
            .collect();
        subs.sort_by_key(|s| s.seq);
        let keys: Vec<String> = subs.iter().map(|s| s.seq.to_string()).collect();
        let (keys, next) = page(input, keys)?;
        let out: Vec<Value> = subs
            .iter()
            .filter(|s| keys.contains(&s.seq.to_string()))
            .map(|s| {
                json!({
                    "resourceArn": s.resource_arn,
                    "topicArn": s.topic_arn,
                    "eventSubscriptions": s.events.iter().map(|(e, at)| json!({
                        "event": e,
                        "subscribedAt": epoch(*at),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(with_token(json!({"subscriptions": out}), next))
    }

    fn start_run(
        &self,
        caller: &Caller,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, ApiError> {
        let template_arn = req_str(input, "assessmentTemplateArn")?;
        let mut st = self.state();
        let template = Self::owned_template(&st, caller, &template_arn)?;
        let name = opt_str(input, "assessmentRunName").unwrap_or_else(|| {
            format!(
                "Run - {} - {}",
                template.name,
                now.format("%Y-%m-%dT%H:%M:%S%.3fZ")
            )
        });
        let arn = format!("{template_arn}/run/{}", new_id());
        let mut run = Run {
            seq: 0,
            arn: arn.clone(),
            name,
            template_arn: template_arn.clone(),
            target_arn: template.target_arn.clone(),
            state: String::new(),
            duration: template.duration,
            rules_packages: template.rules_packages.clone(),
            user_attributes: template.user_attributes.clone(),
            created_at: now,
            started_at: now,
            completed_at: None,
            state_changed_at: now,
            state_changes: Vec::new(),
            notifications: Vec::new(),
            finding_counts: HashMap::new(),
        };
        for state in [
            "CREATED",
            "START_DATA_COLLECTION_PENDING",
            "START_DATA_COLLECTION_IN_PROGRESS",
            "COLLECTING_DATA",
        ] {
            run.set_state(state, now);
        }
        run.seq = st.next_seq();
        st.runs.insert(arn.clone(), run);
        if let Some(t) = st.templates.get_mut(&template_arn) {
            t.run_count += 1;
            t.last_run_arn = Some(arn.clone());
        }
        Ok(json!({"assessmentRunArn": arn}))
    }

    fn list_runs(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let templates = str_list(input, "assessmentTemplateArns");
        let states = input
            .pointer("/filter/states")
            .map(|s| str_list(&json!({"s": s}), "s"))
            .unwrap_or_default();
        let pattern = input.pointer("/filter/namePattern").and_then(Value::as_str);
        let st = self.state();
        let mut runs: Vec<&Run> = st
            .runs
            .values()
            .filter(|r| owned_by(&r.arn, caller))
            .filter(|r| templates.is_empty() || templates.contains(&r.template_arn))
            .filter(|r| states.is_empty() || states.contains(&r.state))
            .filter(|r| pattern.is_none_or(|p| awsreq::glob_match(p, &r.name)))
            .collect();
        runs.sort_by_key(|r| r.seq);
        let arns = runs.iter().map(|r| r.arn.clone()).collect();
        let (arns, next) = page(input, arns)?;
        Ok(with_token(json!({"assessmentRunArns": arns}), next))
    }

    fn describe_runs(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let arns = batch_arns(input, "assessmentRunArns")?;
        let st = self.state();
        let mut found = Vec::new();
        let mut failed_items = Map::new();
        for arn in arns {
            match st.runs.get(&arn).filter(|r| owned_by(&r.arn, caller)) {
                Some(r) => found.push(run_json(r)),
                None => {
                    failed_items.insert(arn.clone(), missing(&arn));
                }
            }
        }
        Ok(json!({"assessmentRuns": found, "failedItems": failed_items}))
    }

    fn list_findings(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let runs = str_list(input, "assessmentRunArns");
        let filter = input.get("filter").cloned().unwrap_or(Value::Null);
        let agents = str_list(&filter, "agentIds");
        let severities = str_list(&filter, "severities");
        let packages = str_list(&filter, "rulesPackageArns");
        let st = self.state();
        let mut findings: Vec<(&String, &StoredFinding)> = st
            .findings
            .iter()
            .filter(|(arn, _)| owned_by(arn, caller))
            .filter(|(_, f)| runs.is_empty() || runs.contains(&f.run_arn))
            .filter(|(_, f)| {
                agents.is_empty()
                    || f.finding
                        .pointer("/assetAttributes/agentId")
                        .and_then(Value::as_str)
                        .is_some_and(|a| agents.iter().any(|x| x == a))
            })
            .filter(|(_, f)| {
                severities.is_empty()
                    || f.finding["severity"]
                        .as_str()
                        .is_some_and(|s| severities.iter().any(|x| x == s))
            })
            .filter(|(_, f)| {
                packages.is_empty()
                    || f.finding
                        .pointer("/serviceAttributes/rulesPackageArn")
                        .and_then(Value::as_str)
                        .is_some_and(|p| packages.iter().any(|x| x == p))
            })
            .collect();
        findings.sort_by_key(|(_, f)| f.seq);
        let arns = findings.iter().map(|(arn, _)| (*arn).clone()).collect();
        let (arns, next) = page(input, arns)?;
        Ok(with_token(json!({"findingArns": arns}), next))
    }

    fn describe_findings(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let arns = batch_arns(input, "findingArns")?;
        if let Some(locale) = opt_str(input, "locale")
            && locale != "EN_US"
        {
            return Err(ApiError::invalid(
                "INVALID_LOCALE",
                format!("Locale {locale} is not supported"),
            ));
        }
        let mut st = self.state();
        let mut found = Vec::new();
        let mut failed_items = Map::new();
        for arn in arns {
            if let Some(retryable) = st.fail_next_describe.remove(&arn) {
                failed_items.insert(arn, failed("INTERNAL_ERROR", retryable));
                continue;
            }
            match st.findings.get(&arn).filter(|_| owned_by(&arn, caller)) {
                Some(f) => found.push(f.finding.clone()),
                None => {
                    failed_items.insert(arn.clone(), missing(&arn));
                }
            }
        }
        Ok(json!({"findings": found, "failedItems": failed_items}))
    }

    fn list_rules_packages(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let (arns, next) = page(input, rules_package_arns(&caller.region))?;
        Ok(with_token(json!({"rulesPackageArns": arns}), next))
    }

    fn describe_rules_packages(&self, caller: &Caller, input: &Value) -> Result<Value, ApiError> {
        let arns = batch_arns(input, "rulesPackageArns")?;
        let mut found = Vec::new();
        let mut failed_items = Map::new();
        for arn in arns {
            match catalog::describe_rules_package(&caller.region, &arn) {
                Some(v) => found.push(v),
                None => {
                    failed_items.insert(arn.clone(), missing(&arn));
                }
            }
        }
        Ok(json!({"rulesPackages": found, "failedItems": failed_items}))
    }
}

/// The failedItems entry of an ARN that is not (or not the caller's).
fn missing(arn: &str) -> Value {
    if arn.starts_with("arn:") {
        failed("ITEM_DOES_NOT_EXIST", false)
    } else {
        failed("INVALID_ARN", false)
    }
}

/// The region of an SNS topic ARN (`arn:aws:sns:<region>:<account>:<name>`).
fn topic_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && !parts[5].is_empty())
    .then_some(parts[3])
}

fn run_json(r: &Run) -> Value {
    let mut v = json!({
        "arn": r.arn,
        "name": r.name,
        "assessmentTemplateArn": r.template_arn,
        "state": r.state,
        "durationInSeconds": r.duration,
        "rulesPackageArns": r.rules_packages,
        "userAttributesForFindings": r.user_attributes,
        "createdAt": epoch(r.created_at),
        "startedAt": epoch(r.started_at),
        "stateChangedAt": epoch(r.state_changed_at),
        "dataCollected": r.completed_at.is_some(),
        "stateChanges": r.state_changes.iter().map(|(s, at)| json!({
            "state": s,
            "stateChangedAt": epoch(*at),
        })).collect::<Vec<_>>(),
        "notifications": r.notifications,
        "findingCounts": r.finding_counts,
    });
    if let Some(done) = r.completed_at {
        v["completedAt"] = epoch(done);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing_is_shared() {
        assert!(awsreq::glob_match("fanin-*", "fanin-daily"));
        assert!(awsreq::glob_match("*daily", "fanin-daily"));
        assert!(awsreq::glob_match("f?nin", "fanin"));
        assert!(!awsreq::glob_match("fanin", "fanin-daily"));
        assert!(awsreq::glob_match("*", ""));
    }

    #[test]
    fn paging() {
        let items: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        let (p1, next) = page(&json!({}), items.clone()).unwrap();
        assert_eq!(p1.len(), 10);
        assert_eq!(next.as_deref(), Some("page-10"));
        let (p3, next) = page(
            &json!({"nextToken": "page-20", "maxResults": 10}),
            items.clone(),
        )
        .unwrap();
        assert_eq!(p3, vec!["20", "21", "22", "23", "24"]);
        assert!(next.is_none());
        assert!(page(&json!({"nextToken": "bogus"}), items).is_err());
    }

    #[test]
    fn arns() {
        let caller = Caller {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
        };
        assert!(owned_by(
            "arn:aws:inspector:eu-west-1:111122223333:target/0-a",
            &caller
        ));
        assert!(!owned_by(
            "arn:aws:inspector:us-east-1:111122223333:target/0-a",
            &caller
        ));
        assert_eq!(
            parse_arn("arn:aws:inspector:eu-west-1:1:target/0-a/template/0-b").map(|a| a.account),
            Some("1")
        );
        assert!(parse_arn("arn:aws:sns:eu-west-1:1:t").is_none());
        assert_eq!(topic_region("arn:aws:sns:eu-west-1:1:t"), Some("eu-west-1"));
        assert_eq!(topic_region("arn:aws:sqs:eu-west-1:1:t"), None);
        assert_eq!(new_id().len(), 10);
    }
}
