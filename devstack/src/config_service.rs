//! What the local stack serves of AWS Config beyond moto, and the player of
//! the `fanin-security-groups` custom rule.
//!
//! moto's `PutEvaluations` only accepts `TestMode`, it has no compliance
//! reads, and its CloudFormation skips `AWS::Config::ConfigRule`. The gateway
//! serves these three operations here (AWS JSON 1.1,
//! `X-Amz-Target: StarlingDoveService.<Op>`), with state per account and
//! region; every other Config operation goes to moto:
//! - `PutEvaluations`: the `ResultToken` must be one the player issued for
//!   the caller's account and region; each evaluation is kept per rule,
//!   resource type and id, the latest `OrderingTimestamp` wins; annotations
//!   longer than 256 characters are refused as AWS refuses them.
//! - `GetComplianceDetailsByConfigRule`, `DescribeComplianceByConfigRule`.
//!
//! The player ([`ConfigService::evaluate_change`],
//! [`ConfigService::evaluate_periodic`]) builds the documented invoking
//! events (a configuration item of the group as Config records it, read from
//! moto's EC2) and invokes the account and region's registered rule
//! function synchronously, as Config does, answering its answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::cloudtrail::CloudTrail;

/// The custom rule the guard stack deploys.
pub const GUARD_RULE: &str = "fanin-security-groups";
/// The function the rule invokes in each account and region.
pub const GUARD_FUNCTION: &str = "fanin-guard";
const MAX_ANNOTATION: usize = 256;
const MAX_EVALUATIONS: usize = 100;
const COMPLIANCE_TYPES: [&str; 3] = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"];

/// Which operations this module serves.
pub fn serves(target: &str) -> bool {
    matches!(
        target,
        "StarlingDoveService.PutEvaluations"
            | "StarlingDoveService.GetComplianceDetailsByConfigRule"
            | "StarlingDoveService.DescribeComplianceByConfigRule"
    )
}

/// The account and region a result token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Issued {
    account: String,
    region: String,
    rule: String,
    invoked_at: DateTime<Utc>,
}

/// (account, region, rule, resource type, resource id).
type EvaluationKey = (String, String, String, String, String);

#[derive(Debug, Clone)]
struct Evaluation {
    compliance_type: String,
    annotation: Option<String>,
    ordering: f64,
    recorded_at: DateTime<Utc>,
    invoked_at: DateTime<Utc>,
    result_token: String,
}

#[derive(Default)]
struct State {
    tokens: HashMap<String, Issued>,
    evaluations: BTreeMap<EvaluationKey, Evaluation>,
}

/// The AWS Config stand-in. Cheap to clone (shared state).
#[derive(Clone)]
pub struct ConfigService {
    state: Arc<Mutex<State>>,
    cloudtrail: CloudTrail,
}

/// An AWS JSON protocol error.
struct ApiError {
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }
}

fn answer(status: StatusCode, body: &Value, error_type: Option<&str>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(kind) = error_type.and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert("x-amzn-errortype", kind);
    }
    response
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

impl ConfigService {
    /// A service whose player reads moto and invokes functions through
    /// `cloudtrail` (its account sessions and Lambda target registry).
    pub fn new(cloudtrail: CloudTrail) -> Self {
        ConfigService {
            state: Arc::default(),
            cloudtrail,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves one of the operations [`serves`] names for a caller acting in
    /// `account` and `region`.
    pub fn handle(&self, account: &str, region: &str, target: &str, body: &[u8]) -> Response {
        let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return answer(
                        StatusCode::BAD_REQUEST,
                        &json!({"__type": "SerializationException", "message": e.to_string()}),
                        Some("SerializationException"),
                    );
                }
            }
        };
        let operation = target.trim_start_matches("StarlingDoveService.");
        let result = match operation {
            "PutEvaluations" => self.put_evaluations(account, region, &input),
            "GetComplianceDetailsByConfigRule" => self.compliance_details(account, region, &input),
            "DescribeComplianceByConfigRule" => self.compliance_by_rule(account, region, &input),
            other => Err(ApiError::new(
                "UnknownOperationException",
                format!("{other} is not served by the devstack"),
            )),
        };
        match result {
            Ok(body) => answer(StatusCode::OK, &body, None),
            Err(e) => answer(
                StatusCode::BAD_REQUEST,
                &json!({"__type": e.kind, "message": e.message}),
                Some(e.kind),
            ),
        }
    }

    fn put_evaluations(
        &self,
        account: &str,
        region: &str,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let token = input["ResultToken"].as_str().ok_or_else(|| {
            ApiError::validation(
                "1 validation error detected: Value null at 'resultToken' failed to satisfy constraint: Member must not be null",
            )
        })?;
        let evaluations = input["Evaluations"].as_array().cloned().unwrap_or_default();
        if evaluations.len() > MAX_EVALUATIONS {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at 'evaluations' failed to satisfy constraint: Member must have length less than or equal to {MAX_EVALUATIONS}"
            )));
        }
        let test_mode = input["TestMode"].as_bool().unwrap_or(false);
        let mut parsed = Vec::with_capacity(evaluations.len());
        for (i, e) in evaluations.iter().enumerate() {
            let field = |name: &str, max: usize| -> Result<String, ApiError> {
                match e[name].as_str() {
                    Some(v) if !v.is_empty() && v.chars().count() <= max => Ok(v.to_owned()),
                    _ => Err(ApiError::validation(format!(
                        "1 validation error detected: Value at 'evaluations.{}.member.{}' failed to satisfy constraint: Member must have length between 1 and {max}",
                        i + 1,
                        lower_first(name)
                    ))),
                }
            };
            let resource_type = field("ComplianceResourceType", 256)?;
            let resource_id = field("ComplianceResourceId", 768)?;
            let compliance_type = e["ComplianceType"].as_str().unwrap_or_default().to_owned();
            if !COMPLIANCE_TYPES.contains(&compliance_type.as_str()) {
                return Err(ApiError::new(
                    "InvalidParameterValueException",
                    format!(
                        "The compliance type {compliance_type} is not valid for an evaluation a rule reports; use COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE."
                    ),
                ));
            }
            let annotation = match e.get("Annotation").and_then(Value::as_str) {
                None => None,
                Some(_) => Some(field("Annotation", MAX_ANNOTATION)?),
            };
            let ordering = e["OrderingTimestamp"].as_f64().ok_or_else(|| {
                ApiError::validation(format!(
                    "1 validation error detected: Value null at 'evaluations.{}.member.orderingTimestamp' failed to satisfy constraint: Member must not be null",
                    i + 1
                ))
            })?;
            parsed.push((
                resource_type,
                resource_id,
                compliance_type,
                annotation,
                ordering,
            ));
        }
        let mut state = self.state();
        let issued = state
            .tokens
            .get(token)
            .filter(|t| t.account == account && t.region == region)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidResultTokenException",
                    "The result token is invalid.",
                )
            })?;
        if test_mode {
            return Ok(json!({"FailedEvaluations": []}));
        }
        let now = Utc::now();
        for (resource_type, resource_id, compliance_type, annotation, ordering) in parsed {
            let key = (
                account.to_owned(),
                region.to_owned(),
                issued.rule.clone(),
                resource_type,
                resource_id,
            );
            if state
                .evaluations
                .get(&key)
                .is_some_and(|kept| kept.ordering > ordering)
            {
                continue;
            }
            state.evaluations.insert(
                key,
                Evaluation {
                    compliance_type,
                    annotation,
                    ordering,
                    recorded_at: now,
                    invoked_at: issued.invoked_at,
                    result_token: token.to_owned(),
                },
            );
        }
        Ok(json!({"FailedEvaluations": []}))
    }

    fn known_rule(state: &State, account: &str, region: &str, rule: &str) -> bool {
        state
            .tokens
            .values()
            .any(|t| t.account == account && t.region == region && t.rule == rule)
    }

    fn compliance_details(
        &self,
        account: &str,
        region: &str,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let rule = input["ConfigRuleName"]
            .as_str()
            .ok_or_else(|| ApiError::validation("ConfigRuleName is required"))?;
        let wanted: Vec<&str> = input["ComplianceTypes"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let state = self.state();
        if !Self::known_rule(&state, account, region, rule) {
            return Err(ApiError::new(
                "NoSuchConfigRuleException",
                format!(
                    "The ConfigRule '{rule}' provided in the request is invalid. Please check the configRule name"
                ),
            ));
        }
        let results: Vec<Value> = state
            .evaluations
            .iter()
            .filter(|((a, r, name, _, _), e)| {
                a == account
                    && r == region
                    && name == rule
                    && (wanted.is_empty() || wanted.contains(&e.compliance_type.as_str()))
            })
            .map(|((_, _, name, resource_type, resource_id), e)| {
                let mut result = json!({
                    "EvaluationResultIdentifier": {
                        "EvaluationResultQualifier": {
                            "ConfigRuleName": name,
                            "ResourceType": resource_type,
                            "ResourceId": resource_id,
                            "EvaluationMode": "DETECTIVE",
                        },
                        "OrderingTimestamp": e.ordering,
                    },
                    "ComplianceType": e.compliance_type,
                    "ResultRecordedTime": epoch(e.recorded_at),
                    "ConfigRuleInvokedTime": epoch(e.invoked_at),
                    "ResultToken": e.result_token,
                });
                if let Some(a) = &e.annotation {
                    result["Annotation"] = json!(a);
                }
                result
            })
            .collect();
        Ok(json!({"EvaluationResults": results}))
    }

    fn compliance_by_rule(
        &self,
        account: &str,
        region: &str,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let state = self.state();
        let mut rules: Vec<String> = input["ConfigRuleNames"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if rules.is_empty() {
            rules = state
                .tokens
                .values()
                .filter(|t| t.account == account && t.region == region)
                .map(|t| t.rule.clone())
                .collect();
            rules.sort();
            rules.dedup();
        }
        let wanted: Vec<&str> = input["ComplianceTypes"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for rule in rules {
            if !Self::known_rule(&state, account, region, &rule) {
                return Err(ApiError::new(
                    "NoSuchConfigRuleException",
                    format!(
                        "The ConfigRule '{rule}' provided in the request is invalid. Please check the configRule name"
                    ),
                ));
            }
            let types: Vec<&str> = state
                .evaluations
                .iter()
                .filter(|((a, r, name, _, _), _)| a == account && r == region && *name == rule)
                .map(|(_, e)| e.compliance_type.as_str())
                .collect();
            let non_compliant = types.iter().filter(|t| **t == "NON_COMPLIANT").count();
            let compliance = if non_compliant > 0 {
                json!({"ComplianceType": "NON_COMPLIANT",
                       "ComplianceContributorCount": {"CappedCount": non_compliant.min(100), "CapExceeded": non_compliant > 100}})
            } else if types.contains(&"COMPLIANT") {
                json!({"ComplianceType": "COMPLIANT"})
            } else {
                json!({"ComplianceType": "INSUFFICIENT_DATA"})
            };
            if wanted.is_empty()
                || wanted.contains(&compliance["ComplianceType"].as_str().unwrap_or_default())
            {
                out.push(json!({"ConfigRuleName": rule, "Compliance": compliance}));
            }
        }
        Ok(json!({"ComplianceByConfigRules": out}))
    }

    /// Issues a result token for one invocation of `rule` in `account` and `region`.
    pub fn issue_token(&self, account: &str, region: &str, rule: &str) -> String {
        let token = format!("devstack-{}", uuid::Uuid::new_v4());
        self.state().tokens.insert(
            token.clone(),
            Issued {
                account: account.to_owned(),
                region: region.to_owned(),
                rule: rule.to_owned(),
                invoked_at: Utc::now(),
            },
        );
        token
    }

    /// Plays a configuration change of security group `group_id` (a
    /// ConfigurationItemChangeNotification; a deleted group leaves scope) to
    /// the rule's function in `account` and `region`, and answers the
    /// function's answer.
    pub async fn evaluate_change(
        &self,
        account: &str,
        region: &str,
        group_id: &str,
    ) -> anyhow::Result<Value> {
        let config = self.cloudtrail.account_config(account, region).await?;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let described = ec2
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await;
        let group = match described {
            Ok(answer) => answer.security_groups().first().cloned(),
            Err(e) if format!("{:?}", e).contains("InvalidGroup.NotFound") => None,
            Err(e) => return Err(e).with_context(|| format!("describing {group_id}")),
        };
        let now = Utc::now();
        let item = configuration_item(account, region, group_id, group.as_ref(), now);
        let left_scope = group.is_none();
        let invoking = json!({
            "configurationItemDiff": null,
            "configurationItem": item,
            "notificationCreationTime": now.to_rfc3339_opts(SecondsFormat::Millis, true),
            "messageType": "ConfigurationItemChangeNotification",
            "recordVersion": "1.3",
        });
        self.invoke_rule(account, region, invoking, left_scope)
            .await
    }

    /// Plays the rule's periodic trigger (a ScheduledNotification) in
    /// `account` and `region`, and answers the function's answer.
    pub async fn evaluate_periodic(&self, account: &str, region: &str) -> anyhow::Result<Value> {
        let invoking = json!({
            "awsAccountId": account,
            "notificationCreationTime": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "messageType": "ScheduledNotification",
            "recordVersion": "1.0",
        });
        self.invoke_rule(account, region, invoking, false).await
    }

    async fn invoke_rule(
        &self,
        account: &str,
        region: &str,
        invoking: Value,
        left_scope: bool,
    ) -> anyhow::Result<Value> {
        let token = self.issue_token(account, region, GUARD_RULE);
        let rule_id = format!(
            "config-rule-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let event = json!({
            "version": "1.0",
            "invokingEvent": invoking.to_string(),
            "ruleParameters": "{}",
            "resultToken": token,
            "eventLeftScope": left_scope,
            "executionRoleArn": format!("arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"),
            "configRuleArn": format!("arn:aws:config:{region}:{account}:config-rule/{rule_id}"),
            "configRuleName": GUARD_RULE,
            "configRuleId": rule_id,
            "accountId": account,
            "evaluationMode": "DETECTIVE",
        });
        let function_arn = format!("arn:aws:lambda:{region}:{account}:function:{GUARD_FUNCTION}");
        self.cloudtrail
            .targets()
            .invoke(&function_arn, &event)
            .await
    }
}

fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// One permission as Config records it: camelCase, `ipv4Ranges` objects
/// beside the legacy `ipRanges` strings.
fn config_permission(p: &aws_sdk_ec2::types::IpPermission) -> Value {
    let mut permission = json!({
        "ipProtocol": p.ip_protocol().unwrap_or("-1"),
        "ipv6Ranges": p.ipv6_ranges().iter().map(|r| {
            let mut v = json!({"cidrIpv6": r.cidr_ipv6()});
            if let Some(d) = r.description() { v["description"] = json!(d); }
            v
        }).collect::<Vec<_>>(),
        "prefixListIds": p.prefix_list_ids().iter().map(|r| {
            let mut v = json!({"prefixListId": r.prefix_list_id()});
            if let Some(d) = r.description() { v["description"] = json!(d); }
            v
        }).collect::<Vec<_>>(),
        "userIdGroupPairs": p.user_id_group_pairs().iter().map(|g| {
            let mut v = json!({"groupId": g.group_id(), "userId": g.user_id()});
            if let Some(d) = g.description() { v["description"] = json!(d); }
            v
        }).collect::<Vec<_>>(),
        "ipv4Ranges": p.ip_ranges().iter().map(|r| {
            let mut v = json!({"cidrIp": r.cidr_ip()});
            if let Some(d) = r.description() { v["description"] = json!(d); }
            v
        }).collect::<Vec<_>>(),
        "ipRanges": p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect::<Vec<_>>(),
    });
    // Config leaves the ports out of an all-protocols permission.
    if p.ip_protocol() != Some("-1") {
        permission["fromPort"] = json!(p.from_port());
        permission["toPort"] = json!(p.to_port());
    }
    permission
}

/// The configuration item Config records for a security group (`None`: deleted).
pub fn configuration_item(
    account: &str,
    region: &str,
    group_id: &str,
    group: Option<&aws_sdk_ec2::types::SecurityGroup>,
    captured: DateTime<Utc>,
) -> Value {
    let arn = format!("arn:aws:ec2:{region}:{account}:security-group/{group_id}");
    let mut item = json!({
        "relatedEvents": [],
        "relationships": [],
        "configuration": null,
        "supplementaryConfiguration": {},
        "tags": {},
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": captured.to_rfc3339_opts(SecondsFormat::Millis, true),
        "configurationStateId": captured.timestamp_millis(),
        "awsAccountId": account,
        "configurationItemStatus": "ResourceDeleted",
        "resourceType": "AWS::EC2::SecurityGroup",
        "resourceId": group_id,
        "resourceName": null,
        "ARN": arn,
        "awsRegion": region,
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
    });
    let Some(g) = group else {
        return item;
    };
    let tags: serde_json::Map<String, Value> = g
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                json!(t.value().unwrap_or_default()),
            )
        })
        .collect();
    item["configurationItemStatus"] = json!("OK");
    item["resourceName"] = json!(g.group_name());
    item["tags"] = Value::Object(tags);
    if let Some(vpc) = g.vpc_id() {
        item["relationships"] = json!([{
            "resourceId": vpc, "resourceName": null, "resourceType": "AWS::EC2::VPC",
            "name": "Is contained in Vpc",
        }]);
    }
    item["configuration"] = json!({
        "description": g.description(),
        "groupName": g.group_name(),
        "ipPermissions": g.ip_permissions().iter().map(config_permission).collect::<Vec<_>>(),
        "ownerId": g.owner_id(),
        "groupId": g.group_id(),
        "ipPermissionsEgress": g.ip_permissions_egress().iter().map(config_permission).collect::<Vec<_>>(),
        "tags": g.tags().iter().map(|t| json!({"key": t.key(), "value": t.value()})).collect::<Vec<_>>(),
        "vpcId": g.vpc_id(),
    });
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ConfigService {
        ConfigService::new(CloudTrail::new(
            "http://127.0.0.1:9",
            crate::gateway::awsreq::local_http_client(),
        ))
    }

    fn body(response: Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let bytes =
            futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
                .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn put(
        config: &ConfigService,
        account: &str,
        token: &str,
        compliance: &str,
        annotation: &str,
        ordering: f64,
    ) -> (u16, Value) {
        let input = json!({"ResultToken": token, "Evaluations": [{
            "ComplianceResourceType": "AWS::EC2::SecurityGroup", "ComplianceResourceId": "sg-1",
            "ComplianceType": compliance, "Annotation": annotation, "OrderingTimestamp": ordering}]});
        body(config.handle(
            account,
            "eu-west-1",
            "StarlingDoveService.PutEvaluations",
            input.to_string().as_bytes(),
        ))
    }

    #[test]
    fn evaluations_need_an_issued_token_and_the_latest_wins() {
        let config = service();
        let token = config.issue_token("111122223333", "eu-west-1", GUARD_RULE);
        let (status, error) = put(&config, "111122223333", "forged", "COMPLIANT", "ok", 1.0);
        assert_eq!(
            (status, error["__type"].as_str()),
            (400, Some("InvalidResultTokenException"))
        );
        let (status, error) = put(&config, "444455556666", &token, "COMPLIANT", "ok", 1.0);
        assert_eq!(
            (status, error["__type"].as_str()),
            (400, Some("InvalidResultTokenException"))
        );
        let (status, error) = put(
            &config,
            "111122223333",
            &token,
            "COMPLIANT",
            &"x".repeat(257),
            1.0,
        );
        assert_eq!(
            (status, error["__type"].as_str()),
            (400, Some("ValidationException"))
        );
        let (status, error) = put(
            &config,
            "111122223333",
            &token,
            "INSUFFICIENT_DATA",
            "n",
            1.0,
        );
        assert_eq!(
            (status, error["__type"].as_str()),
            (400, Some("InvalidParameterValueException"))
        );

        assert_eq!(
            put(
                &config,
                "111122223333",
                &token,
                "NON_COMPLIANT",
                "extra tcp/22",
                20.0
            )
            .0,
            200
        );
        assert_eq!(
            put(&config, "111122223333", &token, "COMPLIANT", "older", 10.0).0,
            200
        );
        let details = json!({"ConfigRuleName": GUARD_RULE});
        let (status, answer) = body(config.handle(
            "111122223333",
            "eu-west-1",
            "StarlingDoveService.GetComplianceDetailsByConfigRule",
            details.to_string().as_bytes(),
        ));
        assert_eq!(status, 200);
        let results = answer["EvaluationResults"].as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["ComplianceType"], "NON_COMPLIANT");
        assert_eq!(results[0]["Annotation"], "extra tcp/22");
        assert_eq!(
            results[0]["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"],
            "sg-1"
        );

        let (_, by_rule) = body(config.handle(
            "111122223333",
            "eu-west-1",
            "StarlingDoveService.DescribeComplianceByConfigRule",
            b"{}",
        ));
        assert_eq!(
            by_rule["ComplianceByConfigRules"][0]["Compliance"]["ComplianceType"],
            "NON_COMPLIANT"
        );
        assert_eq!(
            by_rule["ComplianceByConfigRules"][0]["Compliance"]["ComplianceContributorCount"]["CappedCount"],
            1
        );
        // Another region knows nothing of the rule.
        let (status, other) = body(config.handle(
            "111122223333",
            "us-east-1",
            "StarlingDoveService.GetComplianceDetailsByConfigRule",
            details.to_string().as_bytes(),
        ));
        assert_eq!(
            (status, other["__type"].as_str()),
            (400, Some("NoSuchConfigRuleException"))
        );
    }

    #[test]
    fn configuration_items_follow_the_published_one() {
        use aws_sdk_ec2::types::{IpPermission, IpRange, SecurityGroup, Tag, UserIdGroupPair};
        let fixture: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/guard/config-item-security-group.json"
        ))
        .unwrap();
        let published = &fixture[0];
        let builder = SecurityGroup::builder()
            .group_id("sg-0bf9c8e5ea6375194")
            .group_name("default")
            .description("default VPC security group")
            .owner_id("777719877733")
            .vpc_id("vpc-009882a2845337a77")
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(80)
                    .to_port(80)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("-1")
                    .user_id_group_pairs(
                        UserIdGroupPair::builder()
                            .group_id("sg-0bf9c8e5ea6375194")
                            .user_id("777719877733")
                            .build(),
                    )
                    .build(),
            )
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(3389)
                    .to_port(3389)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(443)
                    .to_port(443)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .ip_permissions_egress(
                IpPermission::builder()
                    .ip_protocol("-1")
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            );
        let group = builder.clone().build();
        let item = configuration_item(
            "777719877733",
            "us-west-2",
            "sg-0bf9c8e5ea6375194",
            Some(&group),
            Utc::now(),
        );
        assert_eq!(item["configuration"], published["configuration"]);
        assert_eq!(
            item["relationships"][0]["resourceId"],
            published["relationships"][0]["resourceId"]
        );
        assert_eq!(item["ARN"], published["arn"]);
        let tagged = builder
            .tags(Tag::builder().key("tier").value("web").build())
            .build();
        let item = configuration_item(
            "777719877733",
            "us-west-2",
            "sg-0bf9c8e5ea6375194",
            Some(&tagged),
            Utc::now(),
        );
        assert_eq!(item["tags"], json!({"tier": "web"}));
        assert_eq!(
            item["configuration"]["tags"],
            json!([{"key": "tier", "value": "web"}])
        );
    }
}
