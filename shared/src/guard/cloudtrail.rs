//! A security-group change as CloudTrail records it and EventBridge delivers
//! it (`detail-type: AWS API Call via CloudTrail`, `source: aws.ec2`).
//!
//! Read leniently (CloudTrail adds fields over time) but checked where a
//! value reaches a call, a record or a log line: the account, the region,
//! group and rule ids.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::evaluate::Actor;
use super::permission::{
    Direction, GroupRule, Items, Permission, RuleItem, TrailIpPermission, is_aws_id,
};
use crate::ids::{AccountId, Region};

/// The EventBridge `detail-type` of CloudTrail's API call events.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// The calls the guard reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChangeKind {
    AuthorizeSecurityGroupIngress,
    AuthorizeSecurityGroupEgress,
    ModifySecurityGroupRules,
    RevokeSecurityGroupIngress,
    RevokeSecurityGroupEgress,
    CreateSecurityGroup,
}

impl ChangeKind {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "AuthorizeSecurityGroupIngress" => Self::AuthorizeSecurityGroupIngress,
            "AuthorizeSecurityGroupEgress" => Self::AuthorizeSecurityGroupEgress,
            "ModifySecurityGroupRules" => Self::ModifySecurityGroupRules,
            "RevokeSecurityGroupIngress" => Self::RevokeSecurityGroupIngress,
            "RevokeSecurityGroupEgress" => Self::RevokeSecurityGroupEgress,
            "CreateSecurityGroup" => Self::CreateSecurityGroup,
            _ => return None,
        })
    }

    /// The direction the call's `ipPermissions` are about.
    pub fn direction(&self) -> Direction {
        match self {
            Self::AuthorizeSecurityGroupEgress | Self::RevokeSecurityGroupEgress => {
                Direction::Egress
            }
            _ => Direction::Ingress,
        }
    }
}

/// Why an event is not a change the guard can judge. All permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("not a CloudTrail API call event: {0}")]
    NotCloudTrail(String),
    #[error("not a security-group call: {0}")]
    UnknownCall(String),
    #[error("invalid {field}: {why}")]
    Invalid { field: &'static str, why: String },
}

/// One security-group call.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub event_id: String,
    pub kind: ChangeKind,
    pub event_time: DateTime<Utc>,
    pub account: AccountId,
    pub region: Region,
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Set when the call failed (CloudTrail records failed calls too).
    pub error_code: Option<String>,
    /// The group, when the call names it by id (or created it).
    pub group_id: Option<String>,
    /// The group by name (default VPC calls may name it so).
    pub group_name: Option<String>,
    /// Rules the call added, with their ids (`securityGroupRuleSet`).
    pub added: Vec<GroupRule>,
    /// The permissions the request named.
    pub requested: Vec<(Direction, Permission)>,
    /// Rule ids the request named (modify, revoke by id).
    pub rule_ids: Vec<String>,
}

fn invalid(field: &'static str, why: impl Into<String>) -> ChangeError {
    ChangeError::Invalid {
        field,
        why: why.into(),
    }
}

/// Reads an EventBridge CloudTrail event of a security-group call.
pub fn parse_change(event: &Value) -> Result<ChangeEvent, ChangeError> {
    let detail_type = event
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if detail_type != DETAIL_TYPE {
        return Err(ChangeError::NotCloudTrail(format!(
            "detail-type {detail_type:?}"
        )));
    }
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| ChangeError::NotCloudTrail("no detail".into()))?;
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    if text(detail, "eventSource").as_deref() != Some("ec2.amazonaws.com") {
        return Err(ChangeError::UnknownCall(format!(
            "event source {:?}",
            text(detail, "eventSource").unwrap_or_default()
        )));
    }
    let name = text(detail, "eventName").unwrap_or_default();
    let kind = ChangeKind::parse(&name).ok_or_else(|| {
        ChangeError::UnknownCall(format!(
            "event name {:?}",
            name.chars().take(64).collect::<String>()
        ))
    })?;
    let account_raw = text(event, "account")
        .or_else(|| text(detail, "recipientAccountId"))
        .unwrap_or_default();
    let account = AccountId::parse(&account_raw).map_err(|e| invalid("account", e.to_string()))?;
    if let Some(recipient) = text(detail, "recipientAccountId")
        && recipient != account_raw
    {
        return Err(invalid(
            "recipientAccountId",
            "differs from the event's account",
        ));
    }
    let region_raw = text(detail, "awsRegion")
        .or_else(|| text(event, "region"))
        .unwrap_or_default();
    let region = Region::parse(&region_raw).map_err(|e| invalid("awsRegion", e.to_string()))?;
    let event_time = text(detail, "eventTime")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| invalid("eventTime", "not an RFC 3339 time"))?;
    let event_id = text(detail, "eventID")
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .ok_or_else(|| invalid("eventID", "missing or not an id"))?;

    let identity = detail.get("userIdentity").cloned().unwrap_or(Value::Null);
    let actor = Actor {
        identity_type: text(&identity, "type").unwrap_or_else(|| "Unknown".into()),
        arn: text(&identity, "arn").map(bounded),
        principal_id: text(&identity, "principalId").map(bounded),
        account_id: text(&identity, "accountId").map(bounded),
        session_issuer_arn: identity
            .pointer("/sessionContext/sessionIssuer/arn")
            .and_then(Value::as_str)
            .map(|s| bounded(s.to_owned())),
        invoked_by: text(&identity, "invokedBy").map(bounded),
    };

    let request = detail
        .get("requestParameters")
        .cloned()
        .unwrap_or(Value::Null);
    let response = detail
        .get("responseElements")
        .cloned()
        .unwrap_or(Value::Null);
    let group_id = text(&request, "groupId")
        .or_else(|| {
            request
                .pointer("/ModifySecurityGroupRulesRequest/GroupId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| text(&response, "groupId"));
    if let Some(id) = &group_id
        && !is_aws_id(id, "sg-")
    {
        return Err(invalid("groupId", "not a security group id"));
    }
    let group_name = text(&request, "groupName").map(bounded);

    let mut added = Vec::new();
    if let Some(items) = response
        .pointer("/securityGroupRuleSet/items")
        .and_then(Value::as_array)
    {
        for item in items {
            let item: RuleItem = serde_json::from_value(item.clone())
                .map_err(|e| invalid("securityGroupRuleSet", e.to_string()))?;
            added.push(
                item.to_rule()
                    .map_err(|e| invalid("securityGroupRuleSet", e.to_string()))?,
            );
        }
    }
    let mut requested = Vec::new();
    if let Some(permissions) = request.get("ipPermissions") {
        let permissions: Items<TrailIpPermission> = serde_json::from_value(permissions.clone())
            .map_err(|e| invalid("ipPermissions", e.to_string()))?;
        for entry in &permissions.items {
            for permission in entry
                .flatten()
                .map_err(|e| invalid("ipPermissions", e.to_string()))?
            {
                requested.push((kind.direction(), permission));
            }
        }
    }
    let mut rule_ids = Vec::new();
    collect_rule_ids(&request, &mut rule_ids);
    if let Some(bad) = rule_ids.iter().find(|id| !is_aws_id(id, "sgr-")) {
        return Err(invalid(
            "securityGroupRuleId",
            format!("{:?} is not a rule id", bounded(bad.clone())),
        ));
    }

    Ok(ChangeEvent {
        event_id,
        kind,
        event_time,
        account,
        region,
        actor,
        source_ip: text(detail, "sourceIPAddress").map(bounded),
        user_agent: text(detail, "userAgent").map(bounded),
        request_id: text(detail, "requestID").map(bounded),
        error_code: text(detail, "errorCode").map(bounded),
        group_id,
        group_name,
        added,
        requested,
        rule_ids,
    })
}

/// Every `securityGroupRuleId` / `SecurityGroupRuleId` string in a request,
/// in order, once each (ModifySecurityGroupRules nests them; revokes by id
/// list them).
fn collect_rule_ids(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key.eq_ignore_ascii_case("securityGroupRuleId")
                    && let Some(id) = inner.as_str()
                {
                    if !out.iter().any(|seen| seen == id) {
                        out.push(id.to_owned());
                    }
                } else {
                    collect_rule_ids(inner, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_rule_ids(item, out)),
        _ => {}
    }
}

/// Caller-supplied text cut to a length a record and a log line can carry.
fn bounded(mut text: String) -> String {
    const MAX: usize = 512;
    if text.len() > MAX {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text.retain(|c| !c.is_control());
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, request: Value, response: Value) -> Value {
        json!({
            "version": "0", "id": "6f8b2e4a-0000-0000-0000-000000000000",
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
            "account": "111122223333", "time": "2026-11-30T12:00:01Z", "region": "us-east-1",
            "resources": [],
            "detail": {
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": "AssumedRole", "principalId": "AROAEXAMPLE:alice",
                    "arn": "arn:aws:sts::111122223333:assumed-role/dev/alice",
                    "accountId": "111122223333",
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                        "arn": "arn:aws:iam::111122223333:role/dev", "accountId": "111122223333", "userName": "dev"}}
                },
                "eventTime": "2026-11-30T12:00:00Z", "eventSource": "ec2.amazonaws.com",
                "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.1",
                "userAgent": "aws-cli/2.15.0", "requestParameters": request, "responseElements": response,
                "requestID": "f5f4b1c2-0000-0000-0000-000000000000", "eventID": "0a1b2c3d-0000-0000-0000-000000000000",
                "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
                "recipientAccountId": "111122223333", "eventCategory": "Management"
            }
        })
    }

    #[test]
    fn an_ingress_call_with_several_permissions() {
        let change = parse_change(&event(
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": "sg-0123456789abcdef0", "ipPermissions": {"items": [
                {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                 "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                 "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}},
                {"ipProtocol": "-1", "groups": {"items": [{"groupId": "sg-0fedcba9876543210", "userId": "111122223333"}]}}
            ]}}),
            json!({"requestId": "f5f4b1c2", "_return": true, "securityGroupRuleSet": {"items": [
                {"groupOwnerId": "111122223333", "groupId": "sg-0123456789abcdef0", "securityGroupRuleId": "sgr-0a1",
                 "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"},
                {"groupOwnerId": "111122223333", "groupId": "sg-0123456789abcdef0", "securityGroupRuleId": "sgr-0a2",
                 "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv6": "::/0"},
                {"groupOwnerId": "111122223333", "groupId": "sg-0123456789abcdef0", "securityGroupRuleId": "sgr-0a3",
                 "isEgress": false, "ipProtocol": "-1", "fromPort": -1, "toPort": -1,
                 "referencedGroupInfo": {"groupId": "sg-0fedcba9876543210", "userId": "111122223333"}}
            ]}}),
        ))
        .unwrap();
        assert_eq!(change.kind, ChangeKind::AuthorizeSecurityGroupIngress);
        assert_eq!(change.group_id.as_deref(), Some("sg-0123456789abcdef0"));
        assert_eq!(change.requested.len(), 3);
        let ids: Vec<&str> = change.added.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(ids, ["sgr-0a1", "sgr-0a2", "sgr-0a3"]);
        assert_eq!(
            change.added[2].permission.to_string(),
            "all 111122223333/sg-0fedcba9876543210"
        );
        assert_eq!(
            change.actor.session_issuer_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/dev")
        );
        assert_eq!(change.event_time.to_rfc3339(), "2026-11-30T12:00:00+00:00");
    }

    #[test]
    fn a_modify_call_names_its_rules() {
        let change = parse_change(&event(
            "ModifySecurityGroupRules",
            json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0123456789abcdef0",
                "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-0abc", "tag": 1,
                    "SecurityGroupRule": {"Description": "new", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8"}}}}),
            json!({"ModifySecurityGroupRulesResponse": {"return": true}}),
        ))
        .unwrap();
        assert_eq!(change.rule_ids, ["sgr-0abc"]);
        assert_eq!(change.group_id.as_deref(), Some("sg-0123456789abcdef0"));
    }

    #[test]
    fn bad_ids_and_other_calls_are_refused() {
        let bad_group = event(
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": "sg-../../x"}),
            Value::Null,
        );
        assert!(matches!(
            parse_change(&bad_group),
            Err(ChangeError::Invalid {
                field: "groupId",
                ..
            })
        ));
        let other = event("RunInstances", json!({}), Value::Null);
        assert!(matches!(
            parse_change(&other),
            Err(ChangeError::UnknownCall(_))
        ));
        let mut wrong_account = event(
            "CreateSecurityGroup",
            json!({}),
            json!({"groupId": "sg-0abc"}),
        );
        wrong_account["detail"]["recipientAccountId"] = json!("444455556666");
        assert!(parse_change(&wrong_account).is_err());
    }
}
