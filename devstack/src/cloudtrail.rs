//! CloudTrail for EC2 security-group calls, delivered the way EventBridge
//! delivers CloudTrail events to rules on the default bus.
//!
//! After moto answers one of [`RECORDED_OPERATIONS`], the gateway hands the
//! call to [`CloudTrail::play`], which runs after the EC2 answer has gone:
//! 1. the record as CloudTrail writes it for EC2 ([`record()`]): the caller's
//!    `userIdentity` (moto's STS knows every access key it issued; the issuing
//!    role comes from IAM), `requestParameters` rebuilt from the form
//!    parameters in CloudTrail's `items` shape, `responseElements` with the
//!    created rules (`securityGroupRuleSet`) read back from
//!    `DescribeSecurityGroupRules`, since moto's own answer lists only the last
//!    permission's rules, or `errorCode`/`errorMessage` for a failed call;
//! 2. the EventBridge envelope (`detail-type: AWS API Call via CloudTrail`);
//! 3. delivery: the enabled rules of the account and region's default bus
//!    whose pattern matches ([`pattern_matches`]; moto's `TestEventPattern` is
//!    not implemented), and for each Lambda target, an asynchronous invoke of
//!    the local function registered for that ARN in [`LambdaTargets`],
//!    retried like EventBridge (fewer times, sooner).
//!
//! Every played event is kept with its deliveries for tests
//! ([`CloudTrail::played`]; `GET /_devstack/cloudtrail`), and every record in
//! the event history `LookupEvents` reads ([`lookup`], [`CloudTrail::lookup`]).
//! A clock offset ([`CloudTrail::set_clock_offset`]) dates the calls made from
//! then on in the past or the future, so a test can say "this rule was added
//! three days ago".

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use aws_credential_types::Credentials;
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::gateway::awsreq::{self, xml_text};

pub mod lookup;
mod pattern;
mod record;

pub use pattern::pattern_matches;
pub use record::{envelope, param_tree, record, request_parameters, response_elements};
use record::{requested_sources, rule_item, source_key};

/// The EC2 operations CloudTrail events are played for.
pub const RECORDED_OPERATIONS: [&str; 6] = [
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "CreateSecurityGroup",
];

/// Attempts per Lambda target (EventBridge retries for up to 24 hours; the
/// local stack gives up sooner so a test sees the failure).
const DELIVERY_ATTEMPTS: u32 = 3;
const DELIVERY_BACKOFF: Duration = Duration::from_millis(300);
/// How long one invocation may take (a function that died at cold start
/// never answers: the local runtime holds the request).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The session the devstack acts as in an account (moto's AssumeRole into
/// any account id works without the role existing).
const ACCOUNT_ROLE: &str = "OrganizationAccountAccessRole";

/// Local functions standing in for Lambda ARNs: function ARN → invoke URL.
/// Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct LambdaTargets {
    urls: Arc<Mutex<BTreeMap<String, String>>>,
    http: Option<reqwest::Client>,
}

impl LambdaTargets {
    fn new(http: reqwest::Client) -> Self {
        LambdaTargets {
            urls: Arc::default(),
            http: Some(http),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.urls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Invocations of `function_arn` go to `invoke_url` from now on.
    pub fn register(&self, function_arn: &str, invoke_url: &str) {
        self.lock()
            .insert(function_arn.to_owned(), invoke_url.to_owned());
    }

    pub fn unregister(&self, function_arn: &str) {
        self.lock().remove(function_arn);
    }

    pub fn url(&self, function_arn: &str) -> Option<String> {
        self.lock().get(function_arn).cloned()
    }

    /// Invokes the function registered for `function_arn` once and answers
    /// its JSON answer; an unregistered ARN, a non-2xx answer, a function
    /// error (`X-Amz-Function-Error`) or a non-JSON answer is an error.
    pub async fn invoke(&self, function_arn: &str, payload: &Value) -> anyhow::Result<Value> {
        let url = self
            .url(function_arn)
            .with_context(|| format!("no local function registered for {function_arn}"))?;
        let http = self.http.clone().unwrap_or_else(awsreq::local_http_client);
        let response = http
            .post(&url)
            .timeout(INVOKE_TIMEOUT)
            .json(payload)
            .send()
            .await?;
        let status = response.status();
        // The Invoke API answers a function error 200 with this header.
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await?;
        anyhow::ensure!(
            status.is_success() && function_error.is_none(),
            "{function_arn} answered {status} {}: {text}",
            function_error.unwrap_or_default()
        );
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{function_arn} answered non-JSON: {text}"))
    }
}

/// One EC2 call the gateway forwarded, as CloudTrail needs it.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub access_key_id: String,
    pub region: String,
    pub operation: String,
    /// The query string's and form body's parameters.
    pub params: Vec<(String, String)>,
    /// moto's answer.
    pub status: u16,
    pub body: Bytes,
    /// The request's `User-Agent` header.
    pub user_agent: String,
    /// When the request arrived.
    pub event_time: DateTime<Utc>,
}

/// One played event and what became of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayedEvent {
    /// The EventBridge event (the CloudTrail record in `detail`); `null` when
    /// the record could not be built (see `error`).
    pub event: Value,
    /// When the record was complete, RFC 3339 with milliseconds.
    pub recorded_at: String,
    pub deliveries: Vec<Delivery>,
    /// Whether every matching target has been tried.
    pub done: bool,
    pub error: Option<String>,
}

/// One rule target an event went to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub rule: String,
    pub target_arn: String,
    /// `delivered`, `failed` (after every attempt) or `unregistered` (no
    /// local function for the ARN).
    pub outcome: String,
    pub attempts: u32,
    /// The function's answer when delivered.
    pub answer: Option<Value>,
    pub error: Option<String>,
    /// When the last attempt ended, RFC 3339 with milliseconds.
    pub finished_at: String,
}

/// The caller of an API call, as CloudTrail's `userIdentity` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    /// GetCallerIdentity's `UserId` (`AROA…:session` for a role session).
    pub principal_id: String,
    /// For a role session: the role's ARN and id.
    pub issuer: Option<(String, String)>,
}

impl Identity {
    /// CloudTrail's `userIdentity` for a call made with `access_key_id`.
    pub fn user_identity(&self, access_key_id: &str, session_created: Option<&str>) -> Value {
        let mut identity = json!({
            "type": identity_type(&self.arn),
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": access_key_id,
        });
        if let Some(user) = self.arn.split_once(":user/").map(|(_, u)| u) {
            identity["userName"] = json!(user.rsplit('/').next().unwrap_or(user));
        }
        if let Some((role_arn, role_id)) = &self.issuer {
            let role_name = role_arn.rsplit('/').next().unwrap_or_default();
            let mut attributes = json!({"mfaAuthenticated": "false"});
            if let Some(created) = session_created {
                attributes["creationDate"] = json!(created);
            }
            identity["sessionContext"] = json!({
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": role_arn,
                    "accountId": self.account,
                    "userName": role_name,
                },
                "webIdFederationData": {},
                "attributes": attributes,
            });
        }
        identity
    }
}

fn identity_type(arn: &str) -> &'static str {
    if arn.contains(":assumed-role/") {
        "AssumedRole"
    } else if arn.ends_with(":root") {
        "Root"
    } else {
        "IAMUser"
    }
}

/// The CloudTrail player. Cheap to clone (shared state).
#[derive(Clone)]
pub struct CloudTrail {
    inner: Arc<Inner>,
}

struct Inner {
    moto_url: String,
    http: reqwest::Client,
    targets: LambdaTargets,
    identities: Mutex<HashMap<String, Identity>>,
    /// Access key id → when its session was issued (AssumeRole answers the
    /// gateway forwarded).
    sessions: Mutex<HashMap<String, DateTime<Utc>>>,
    account_keys: Mutex<HashMap<String, String>>,
    played: Mutex<Vec<PlayedEvent>>,
    /// Every record played, for `LookupEvents` (not cleared by [`CloudTrail::reset`]).
    history: Mutex<Vec<lookup::KeptRecord>>,
    clock_offset: Mutex<chrono::Duration>,
    /// Calls handed to [`CloudTrail::spawn_play`] not yet played.
    in_flight: std::sync::atomic::AtomicUsize,
}

impl CloudTrail {
    pub fn new(moto_url: &str, http: reqwest::Client) -> Self {
        CloudTrail {
            inner: Arc::new(Inner {
                moto_url: moto_url.to_owned(),
                targets: LambdaTargets::new(http.clone()),
                http,
                identities: Mutex::default(),
                sessions: Mutex::default(),
                account_keys: Mutex::default(),
                played: Mutex::default(),
                history: Mutex::default(),
                clock_offset: Mutex::new(chrono::Duration::zero()),
                in_flight: std::sync::atomic::AtomicUsize::new(0),
            }),
        }
    }

    /// The registry of local functions events are delivered to.
    pub fn targets(&self) -> &LambdaTargets {
        &self.inner.targets
    }

    /// Every event played so far, in the order the calls were recorded.
    pub fn played(&self) -> Vec<PlayedEvent> {
        self.inner
            .played
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn reset(&self) {
        self.inner
            .played
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Dates the calls recorded from now on `offset` from the real clock
    /// (negative: in the past), in their records and events alike.
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        *self
            .inner
            .clock_offset
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = offset;
    }

    /// CloudTrail's clock: now, shifted by the clock offset.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
            + *self
                .inner
                .clock_offset
                .lock()
                .unwrap_or_else(|p| p.into_inner())
    }

    /// Answers a `LookupEvents` request body over the history of `account`
    /// and `region`.
    pub fn lookup(
        &self,
        account: &str,
        region: &str,
        body: &[u8],
    ) -> Result<Value, lookup::LookupError> {
        let history = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
        lookup::lookup_events(&history, account, region, body)
    }

    fn keep(&self, event: &Value, event_time: DateTime<Utc>) {
        let mut history = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
        let sequence = history.len() as u64 + 1;
        history.push(lookup::KeptRecord {
            sequence,
            account: event["account"].as_str().unwrap_or_default().to_owned(),
            region: event["region"].as_str().unwrap_or_default().to_owned(),
            event_time,
            record: event["detail"].clone(),
        });
    }

    /// Notes that moto issued `access_key_id` now (an AssumeRole answer).
    pub fn note_session(&self, access_key_id: &str) {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(access_key_id.to_owned(), Utc::now());
    }

    /// Records `call` and delivers it, on a task of its own.
    pub fn spawn_play(&self, call: ApiCall) {
        use std::sync::atomic::Ordering;
        let this = self.clone();
        this.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            this.play(call).await;
            this.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Waits until every call made so far is recorded and delivered (or
    /// `limit` passed): the history then holds them.
    pub async fn settled(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        while self
            .inner
            .in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
        {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "CloudTrail still recording calls after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Records `call` as CloudTrail does and delivers the event to the
    /// matching rules' Lambda targets.
    pub async fn play(&self, call: ApiCall) {
        let built = self.record(&call).await;
        let now = now_millis();
        let (event, error) = match built {
            Ok(event) => (event, None),
            Err(e) => {
                tracing::warn!(operation = %call.operation, "devstack cloudtrail cannot record a call: {e:#}");
                (Value::Null, Some(format!("{e:#}")))
            }
        };
        let index = {
            let mut played = self.inner.played.lock().unwrap_or_else(|p| p.into_inner());
            played.push(PlayedEvent {
                event: event.clone(),
                recorded_at: now,
                deliveries: Vec::new(),
                done: error.is_some(),
                error,
            });
            played.len() - 1
        };
        if event.is_null() {
            return;
        }
        self.keep(&event, call.event_time);
        let account = event["account"].as_str().unwrap_or_default().to_owned();
        let targets = match self.matching_targets(&account, &call.region, &event).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(account, region = %call.region, "devstack cloudtrail cannot read the rules: {e:#}");
                self.update(index, |p| {
                    p.error = Some(format!("reading the rules: {e:#}"));
                    p.done = true;
                });
                return;
            }
        };
        for (rule, target_arn) in targets {
            let delivery = self.deliver(&rule, &target_arn, &event).await;
            self.update(index, |p| p.deliveries.push(delivery));
        }
        self.update(index, |p| p.done = true);
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut PlayedEvent)) {
        let mut played = self.inner.played.lock().unwrap_or_else(|p| p.into_inner());
        // A reset in between leaves nothing to update.
        if let Some(p) = played.get_mut(index) {
            change(p);
        }
    }

    async fn deliver(&self, rule: &str, target_arn: &str, event: &Value) -> Delivery {
        let mut delivery = Delivery {
            rule: rule.to_owned(),
            target_arn: target_arn.to_owned(),
            outcome: "unregistered".to_owned(),
            attempts: 0,
            answer: None,
            error: None,
            finished_at: String::new(),
        };
        if self.inner.targets.url(target_arn).is_none() {
            delivery.finished_at = now_millis();
            return delivery;
        }
        for attempt in 1..=DELIVERY_ATTEMPTS {
            delivery.attempts = attempt;
            match self.inner.targets.invoke(target_arn, event).await {
                Ok(answer) => {
                    delivery.outcome = "delivered".to_owned();
                    delivery.answer = Some(answer);
                    delivery.error = None;
                    break;
                }
                Err(e) => {
                    delivery.outcome = "failed".to_owned();
                    delivery.error = Some(format!("{e:#}"));
                    if attempt < DELIVERY_ATTEMPTS {
                        tokio::time::sleep(DELIVERY_BACKOFF * attempt).await;
                    }
                }
            }
        }
        delivery.finished_at = now_millis();
        delivery
    }

    /// (rule name, Lambda target ARN) of the account and region's enabled
    /// default-bus rules whose pattern matches `event`.
    async fn matching_targets(
        &self,
        account: &str,
        region: &str,
        event: &Value,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let events = aws_sdk_eventbridge::Client::new(&self.account_config(account, region).await?);
        let mut rules = Vec::new();
        let mut next = None;
        loop {
            let page = events
                .list_rules()
                .event_bus_name("default")
                .set_next_token(next)
                .send()
                .await?;
            rules.extend(page.rules().iter().cloned());
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        let mut targets = Vec::new();
        for rule in rules {
            let (Some(name), Some(pattern)) = (rule.name(), rule.event_pattern()) else {
                continue;
            };
            if rule.state() != Some(&aws_sdk_eventbridge::types::RuleState::Enabled) {
                continue;
            }
            let pattern: Value = serde_json::from_str(pattern)
                .with_context(|| format!("rule {name} has a pattern that is not JSON"))?;
            if !pattern_matches(&pattern, event) {
                continue;
            }
            let listed = events
                .list_targets_by_rule()
                .rule(name)
                .event_bus_name("default")
                .send()
                .await?;
            for target in listed.targets() {
                if target.arn().contains(":lambda:") {
                    targets.push((name.to_owned(), target.arn().to_owned()));
                }
            }
        }
        Ok(targets)
    }

    /// An SDK config acting in `account` at moto.
    pub(crate) async fn account_config(
        &self,
        account: &str,
        region: &str,
    ) -> anyhow::Result<aws_config::SdkConfig> {
        let key = self.account_key(account).await?;
        Ok(crate::scenario::sdk_config(
            &self.inner.moto_url,
            region,
            Some(Credentials::new(key, "devstack", None, None, "devstack")),
        ))
    }

    /// An access key of moto's acting in `account` (moto reads only the key
    /// id, never the signature).
    async fn account_key(&self, account: &str) -> anyhow::Result<String> {
        if let Some(key) = self
            .inner
            .account_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(account)
        {
            return Ok(key.clone());
        }
        let role_arn = format!("arn:aws:iam::{account}:role/{ACCOUNT_ROLE}");
        let (status, text) = awsreq::moto_query(
            &self.inner.http,
            &self.inner.moto_url,
            "testing",
            "sts",
            "us-east-1",
            &[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", "devstack-cloudtrail"),
            ],
        )
        .await?;
        anyhow::ensure!(
            status.is_success(),
            "moto AssumeRole into {account} answered {status}: {text}"
        );
        let key = xml_text(&text, "AccessKeyId").context("AssumeRole without AccessKeyId")?;
        self.inner
            .account_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account.to_owned(), key.clone());
        Ok(key)
    }

    /// Who `access_key_id` belongs to, from moto's STS and IAM (cached).
    pub async fn identity(&self, access_key_id: &str) -> anyhow::Result<Identity> {
        if let Some(identity) = self
            .inner
            .identities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key_id)
        {
            return Ok(identity.clone());
        }
        let (http, moto) = (&self.inner.http, self.inner.moto_url.as_str());
        let (status, text) = awsreq::moto_query(
            http,
            moto,
            access_key_id,
            "sts",
            "us-east-1",
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        )
        .await?;
        anyhow::ensure!(
            status.is_success(),
            "moto GetCallerIdentity answered {status}: {text}"
        );
        let account = xml_text(&text, "Account").context("GetCallerIdentity without Account")?;
        let arn = xml_text(&text, "Arn").context("GetCallerIdentity without Arn")?;
        let principal_id = xml_text(&text, "UserId").unwrap_or_default();
        let issuer = match arn.split_once(":assumed-role/") {
            Some((_, rest)) => {
                let role_name = rest.split('/').next().unwrap_or_default();
                let (status, text) = awsreq::moto_query(
                    http,
                    moto,
                    access_key_id,
                    "iam",
                    "us-east-1",
                    &[
                        ("Action", "GetRole"),
                        ("Version", "2010-05-08"),
                        ("RoleName", role_name),
                    ],
                )
                .await?;
                let role_id = principal_id.split(':').next().unwrap_or_default();
                Some(if status.is_success() {
                    (
                        xml_text(&text, "Arn").unwrap_or_default(),
                        xml_text(&text, "RoleId").unwrap_or_else(|| role_id.to_owned()),
                    )
                } else {
                    // The role is gone (or never existed in moto): its ARN as
                    // the session names it.
                    (
                        format!("arn:aws:iam::{account}:role/{role_name}"),
                        role_id.to_owned(),
                    )
                })
            }
            None => None,
        };
        let identity = Identity {
            account,
            arn,
            principal_id,
            issuer,
        };
        self.inner
            .identities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(access_key_id.to_owned(), identity.clone());
        Ok(identity)
    }

    /// The EventBridge event of `call`.
    async fn record(&self, call: &ApiCall) -> anyhow::Result<Value> {
        let identity = self.identity(&call.access_key_id).await?;
        let session_created = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&call.access_key_id)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        let answer = String::from_utf8_lossy(&call.body);
        let succeeded = (200..300).contains(&call.status);
        let created_rules = if succeeded && call.operation.starts_with("AuthorizeSecurityGroup") {
            self.created_rules(&identity.account, call).await?
        } else {
            Vec::new()
        };
        let detail = record(
            call,
            identity.user_identity(&call.access_key_id, session_created.as_deref()),
            &identity.account,
            &answer,
            created_rules,
        );
        Ok(envelope(
            detail,
            &identity.account,
            &call.region,
            call.event_time,
        ))
    }

    /// The rules an Authorize call created, as `securityGroupRuleSet` items:
    /// the group's rules that match the requested permissions.
    async fn created_rules(&self, account: &str, call: &ApiCall) -> anyhow::Result<Vec<Value>> {
        let ec2 = aws_sdk_ec2::Client::new(&self.account_config(account, &call.region).await?);
        let egress = call.operation.ends_with("Egress");
        let group_id = match awsreq::param(&call.params, "GroupId") {
            Some(id) => id.to_owned(),
            None => {
                let Some(name) = awsreq::param(&call.params, "GroupName") else {
                    return Ok(Vec::new());
                };
                let groups = ec2
                    .describe_security_groups()
                    .group_names(name)
                    .send()
                    .await?;
                match groups.security_groups().first().and_then(|g| g.group_id()) {
                    Some(id) => id.to_owned(),
                    None => return Ok(Vec::new()),
                }
            }
        };
        let wanted = requested_sources(&call.params);
        let mut rules = Vec::new();
        let mut next = None;
        loop {
            let page = ec2
                .describe_security_group_rules()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("group-id")
                        .values(&group_id)
                        .build(),
                )
                .set_next_token(next)
                .send()
                .await?;
            for rule in page.security_group_rules() {
                if rule.is_egress() != Some(egress) {
                    continue;
                }
                let item = rule_item(rule, account);
                if wanted.contains(&source_key(&item)) {
                    rules.push(item);
                }
            }
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        Ok(rules)
    }
}

fn now_millis() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_name_the_session_issuer() {
        let session = Identity {
            account: "111122223333".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/admin/alice".into(),
            principal_id: "AROAEXAMPLE:alice".into(),
            issuer: Some((
                "arn:aws:iam::111122223333:role/admin".into(),
                "AROAEXAMPLE".into(),
            )),
        };
        let ui = session.user_identity("ASIAEXAMPLE", None);
        assert_eq!(ui["type"], "AssumedRole");
        assert_eq!(ui["sessionContext"]["sessionIssuer"]["userName"], "admin");
        assert_eq!(
            ui["sessionContext"]["sessionIssuer"]["arn"],
            "arn:aws:iam::111122223333:role/admin"
        );
        let user = Identity {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/ops/bob".into(),
            principal_id: "AIDAEXAMPLE".into(),
            issuer: None,
        };
        let ui = user.user_identity("AKIAEXAMPLE", None);
        assert_eq!(ui["type"], "IAMUser");
        assert_eq!(ui["userName"], "bob");
        assert!(ui.get("sessionContext").is_none());
    }
}
