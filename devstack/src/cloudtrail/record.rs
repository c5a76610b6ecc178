//! The CloudTrail record of an EC2 security-group call, built from the
//! request's form parameters and moto's answer: pure functions, so the
//! shapes are tested on their own.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::ApiCall;
use crate::gateway::awsreq::xml_text;

/// A `securityGroupRuleSet` item from a described rule.
pub(super) fn rule_item(rule: &aws_sdk_ec2::types::SecurityGroupRule, account: &str) -> Value {
    let mut item = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            item.insert(k.to_owned(), v);
        }
    };
    put(
        "groupOwnerId",
        Some(json!(rule.group_owner_id().unwrap_or(account))),
    );
    put("groupId", rule.group_id().map(|v| json!(v)));
    put(
        "securityGroupRuleId",
        rule.security_group_rule_id().map(|v| json!(v)),
    );
    put("isEgress", rule.is_egress().map(|v| json!(v)));
    put("ipProtocol", rule.ip_protocol().map(|v| json!(v)));
    put("fromPort", rule.from_port().map(|v| json!(v)));
    put("toPort", rule.to_port().map(|v| json!(v)));
    put("cidrIpv4", rule.cidr_ipv4().map(|v| json!(v)));
    put("cidrIpv6", rule.cidr_ipv6().map(|v| json!(v)));
    put("prefixListId", rule.prefix_list_id().map(|v| json!(v)));
    put(
        "referencedGroupInfo",
        rule.referenced_group_info().map(|r| {
            json!({"groupId": r.group_id().unwrap_or_default(), "userId": r.user_id().unwrap_or(account)})
        }),
    );
    put("description", rule.description().map(|v| json!(v)));
    Value::Object(item)
}

/// What identifies a rule within its group and direction: protocol, ports
/// (none for `-1`) and its one source.
pub(super) type SourceKey = (String, Option<i64>, Option<i64>, String);

fn protocol_name(protocol: &str) -> String {
    match protocol.to_ascii_lowercase().as_str() {
        "6" | "tcp" => "tcp".to_owned(),
        "17" | "udp" => "udp".to_owned(),
        "1" | "icmp" => "icmp".to_owned(),
        "-1" | "all" => "-1".to_owned(),
        other => other.to_owned(),
    }
}

pub(super) fn source_key(item: &Value) -> SourceKey {
    let protocol = protocol_name(item["ipProtocol"].as_str().unwrap_or_default());
    let ports = |k: &str| (protocol != "-1").then(|| item[k].as_i64()).flatten();
    let source = ["cidrIpv4", "cidrIpv6", "prefixListId"]
        .iter()
        .find_map(|k| item[*k].as_str().map(str::to_owned))
        .or_else(|| {
            item["referencedGroupInfo"]["groupId"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (protocol.clone(), ports("fromPort"), ports("toPort"), source)
}

/// The sources an Authorize call's parameters ask for, one key each.
pub(super) fn requested_sources(params: &[(String, String)]) -> Vec<SourceKey> {
    let tree = param_tree(params);
    let mut permissions: Vec<Value> = tree["IpPermissions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(cidr) = tree.get("CidrIp") {
        // The legacy single-rule form.
        permissions.push(json!({
            "IpProtocol": tree["IpProtocol"], "FromPort": tree["FromPort"], "ToPort": tree["ToPort"],
            "IpRanges": [{"CidrIp": cidr}],
        }));
    }
    let mut keys = Vec::new();
    for p in &permissions {
        let base = json!({
            "ipProtocol": p["IpProtocol"],
            "fromPort": number(&p["FromPort"]),
            "toPort": number(&p["ToPort"]),
        });
        let sources = [
            ("IpRanges", "CidrIp", "cidrIpv4"),
            ("Ipv6Ranges", "CidrIpv6", "cidrIpv6"),
            ("PrefixListIds", "PrefixListId", "prefixListId"),
        ];
        for (list, field, key) in sources {
            for source in p[list].as_array().into_iter().flatten() {
                let mut item = base.clone();
                item[key] = source[field].clone();
                keys.push(source_key(&item));
            }
        }
        for pair in p["Groups"].as_array().into_iter().flatten() {
            let mut item = base.clone();
            item["referencedGroupInfo"] = json!({"groupId": pair["GroupId"]});
            keys.push(source_key(&item));
        }
    }
    keys
}

/// The parameters as a tree: `A.1.B=v` → `{"A": [{"B": "v"}]}` (numbered
/// segments are 1-based list positions).
pub fn param_tree(params: &[(String, String)]) -> Value {
    let mut root = Value::Object(Map::new());
    for (name, value) in params {
        let mut node = &mut root;
        let segments: Vec<&str> = name.split('.').collect();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let child = match segment.parse::<usize>() {
                Ok(position) if position >= 1 => {
                    if !node.is_array() {
                        *node = Value::Array(Vec::new());
                    }
                    let list = node.as_array_mut().expect("made an array");
                    while list.len() < position {
                        list.push(Value::Null);
                    }
                    &mut list[position - 1]
                }
                _ => {
                    if !node.is_object() {
                        *node = Value::Object(Map::new());
                    }
                    node.as_object_mut()
                        .expect("made an object")
                        .entry(segment.to_string())
                        .or_insert(Value::Null)
                }
            };
            if last {
                *child = Value::String(value.clone());
            }
            node = child;
        }
    }
    root
}

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A port or other integer parameter as a JSON number (as CloudTrail writes it).
fn number(value: &Value) -> Value {
    match value.as_str().and_then(|s| s.parse::<i64>().ok()) {
        Some(n) => json!(n),
        None => value.clone(),
    }
}

/// `{"items": [...]}` of a list, `{}` when empty, as EC2's CloudTrail
/// records write lists.
fn items(list: &Value, item: impl Fn(&Value) -> Value) -> Value {
    match list.as_array() {
        Some(entries) if !entries.is_empty() => {
            json!({"items": entries.iter().map(item).collect::<Vec<_>>()})
        }
        _ => json!({}),
    }
}

/// A leaf object with lowerCamel keys, integer fields as numbers.
fn camel_object(value: &Value) -> Value {
    let mut out = Map::new();
    for (k, v) in value.as_object().into_iter().flatten() {
        out.insert(lower_camel(k), number_field(k, v));
    }
    Value::Object(out)
}

fn number_field(name: &str, value: &Value) -> Value {
    if matches!(name, "FromPort" | "ToPort") {
        number(value)
    } else {
        value.clone()
    }
}

fn ip_permission(p: &Value) -> Value {
    let mut out = Map::new();
    for key in ["IpProtocol", "FromPort", "ToPort"] {
        if !p[key].is_null() {
            out.insert(lower_camel(key), number_field(key, &p[key]));
        }
    }
    out.insert("groups".into(), items(&p["Groups"], camel_object));
    out.insert("ipRanges".into(), items(&p["IpRanges"], camel_object));
    out.insert("ipv6Ranges".into(), items(&p["Ipv6Ranges"], camel_object));
    out.insert(
        "prefixListIds".into(),
        items(&p["PrefixListIds"], camel_object),
    );
    Value::Object(out)
}

fn tag_specifications(tree: &Value) -> Option<Value> {
    let specs = tree["TagSpecification"].as_array()?;
    Some(json!({"items": specs.iter().map(|s| json!({
        "resourceType": s["ResourceType"],
        "tags": s["Tag"].as_array().into_iter().flatten().map(|t| json!({"key": t["Key"], "value": t["Value"]})).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()}))
}

/// CloudTrail's `requestParameters` of an EC2 security-group call.
pub fn request_parameters(operation: &str, params: &[(String, String)]) -> Value {
    let tree = param_tree(params);
    let mut out = Map::new();
    if operation == "ModifySecurityGroupRules" {
        let rules: Vec<Value> = tree["SecurityGroupRule"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                let mut rule = Map::new();
                for (k, v) in r["SecurityGroupRule"].as_object().into_iter().flatten() {
                    rule.insert(k.clone(), number_field(k, v));
                }
                json!({
                    "SecurityGroupRuleId": r["SecurityGroupRuleId"],
                    "SecurityGroupRule": rule,
                    "tag": i + 1,
                })
            })
            .collect();
        let rules = match rules.len() {
            1 => rules.into_iter().next().expect("one rule"),
            _ => Value::Array(rules),
        };
        return json!({"ModifySecurityGroupRulesRequest": {
            "GroupId": tree["GroupId"],
            "SecurityGroupRule": rules,
        }});
    }
    for (name, value) in tree.as_object().into_iter().flatten() {
        match name.as_str() {
            "Action" | "Version" | "TagSpecification" => {}
            "IpPermissions" => {
                out.insert("ipPermissions".into(), items(value, ip_permission));
            }
            "SecurityGroupRuleId" => {
                out.insert(
                    "securityGroupRuleIds".into(),
                    items(value, |id| json!({"securityGroupRuleId": id})),
                );
            }
            "FromPort" | "ToPort" => {
                out.insert(lower_camel(name), number(value));
            }
            _ if value.is_string() => {
                out.insert(lower_camel(name), value.clone());
            }
            _ => {}
        }
    }
    if operation.starts_with("Authorize") || operation.starts_with("Revoke") {
        out.entry("ipPermissions").or_insert_with(|| json!({}));
    }
    if let Some(tags) = tag_specifications(&tree) {
        out.insert("tagSpecificationSet".into(), tags);
    }
    Value::Object(out)
}

/// CloudTrail's `responseElements` of a successful call.
pub fn response_elements(
    operation: &str,
    request_id: &str,
    answer: &str,
    created_rules: Vec<Value>,
) -> Value {
    match operation {
        "ModifySecurityGroupRules" => json!({"ModifySecurityGroupRulesResponse": {
            "requestId": request_id,
            "_return": true,
        }}),
        "CreateSecurityGroup" => {
            let mut out = json!({"requestId": request_id, "_return": true});
            if let Some(id) = xml_text(answer, "groupId") {
                out["groupId"] = json!(id);
            }
            if let Some(arn) = xml_text(answer, "securityGroupArn") {
                out["securityGroupArn"] = json!(arn);
            }
            out
        }
        op if op.starts_with("Authorize") => json!({
            "requestId": request_id,
            "_return": true,
            "securityGroupRuleSet": items(&Value::Array(created_rules), Value::clone),
        }),
        _ => json!({"requestId": request_id, "_return": true}),
    }
}

/// The CloudTrail record (the EventBridge event's `detail`) of `call`.
pub fn record(
    call: &ApiCall,
    user_identity: Value,
    account: &str,
    answer: &str,
    created_rules: Vec<Value>,
) -> Value {
    let succeeded = (200..300).contains(&call.status);
    // moto answers every call with the same placeholder id; AWS's are UUIDs.
    let request_id = xml_text(answer, "requestId")
        .or_else(|| xml_text(answer, "RequestID"))
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut detail = json!({
        "eventVersion": "1.09",
        "userIdentity": user_identity,
        "eventTime": call.event_time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "eventSource": "ec2.amazonaws.com",
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": call.user_agent,
        "requestParameters": request_parameters(&call.operation, &call.params),
        "responseElements": Value::Null,
        "requestID": &request_id,
        "eventID": uuid::Uuid::new_v4().to_string(),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management",
    });
    if succeeded {
        detail["responseElements"] =
            response_elements(&call.operation, &request_id, answer, created_rules);
    } else {
        let code = xml_text(answer, "Code").unwrap_or_else(|| "InternalError".to_owned());
        let side = if call.status >= 500 {
            "Server"
        } else {
            "Client"
        };
        detail["errorCode"] = json!(format!("{side}.{code}"));
        detail["errorMessage"] = json!(xml_text(answer, "Message").unwrap_or_default());
    }
    detail
}

/// The EventBridge event CloudTrail's record arrives in.
pub fn envelope(detail: Value, account: &str, region: &str, time: DateTime<Utc>) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": account,
        "time": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": region,
        "resources": [],
        "detail": detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn authorize_parameters_take_cloudtrails_items_shape() {
        let p = params(&[
            ("Action", "AuthorizeSecurityGroupIngress"),
            ("GroupId", "sg-1"),
            ("IpPermissions.1.IpProtocol", "tcp"),
            ("IpPermissions.1.FromPort", "443"),
            ("IpPermissions.1.ToPort", "443"),
            ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
            ("IpPermissions.1.IpRanges.1.Description", "web"),
            ("IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "::/0"),
            ("IpPermissions.2.IpProtocol", "-1"),
            ("IpPermissions.2.Groups.1.GroupId", "sg-2"),
            ("IpPermissions.2.Groups.1.UserId", "111122223333"),
            ("IpPermissions.3.IpProtocol", "tcp"),
            ("IpPermissions.3.FromPort", "1000"),
            ("IpPermissions.3.ToPort", "2000"),
            ("IpPermissions.3.PrefixListIds.1.PrefixListId", "pl-1"),
        ]);
        let rp = request_parameters("AuthorizeSecurityGroupIngress", &p);
        assert_eq!(
            rp,
            json!({"groupId": "sg-1", "ipPermissions": {"items": [
                {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {},
                 "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "web"}]},
                 "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}, "prefixListIds": {}},
                {"ipProtocol": "-1", "groups": {"items": [{"groupId": "sg-2", "userId": "111122223333"}]},
                 "ipRanges": {}, "ipv6Ranges": {}, "prefixListIds": {}},
                {"ipProtocol": "tcp", "fromPort": 1000, "toPort": 2000, "groups": {}, "ipRanges": {},
                 "ipv6Ranges": {}, "prefixListIds": {"items": [{"prefixListId": "pl-1"}]}},
            ]}})
        );
        let wanted = requested_sources(&p);
        assert_eq!(wanted.len(), 4);
        assert!(wanted.contains(&("-1".into(), None, None, "sg-2".into())));
        assert!(wanted.contains(&("tcp".into(), Some(1000), Some(2000), "pl-1".into())));
    }

    #[test]
    fn a_published_record_is_played_field_for_field() {
        let published: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/guard/cloudtrail-authorize-ingress-stratus.json"
        ))
        .unwrap();
        let call = ApiCall {
            access_key_id: "AKIAXW7UJ577KFYIAHIM".into(),
            region: "us-northeast-1r".into(),
            operation: "AuthorizeSecurityGroupIngress".into(),
            params: params(&[
                ("Action", "AuthorizeSecurityGroupIngress"),
                ("Version", "2016-11-15"),
                ("GroupId", "sg-003dc7f1f1c686164"),
                ("IpProtocol", "tcp"),
                ("FromPort", "22"),
                ("ToPort", "22"),
                ("CidrIp", "208.236.235.254/0"),
            ]),
            status: 200,
            body: Bytes::new(),
            user_agent: published["userAgent"].as_str().unwrap().into(),
            event_time: DateTime::parse_from_rfc3339("2024-08-01T12:23:55Z")
                .unwrap()
                .into(),
        };
        let answer = "<AuthorizeSecurityGroupIngressResponse><requestId>dc1dabbf-d7cb-4966-a3de-ac69d5cfc633</requestId><return>true</return></AuthorizeSecurityGroupIngressResponse>";
        let rules = published["responseElements"]["securityGroupRuleSet"]["items"]
            .as_array()
            .unwrap()
            .clone();
        let played = record(
            &call,
            published["userIdentity"].clone(),
            "032092706103",
            answer,
            rules,
        );
        // What the local stack cannot know: the event id, the caller's
        // address and TLS session.
        let mut expected = published.clone();
        for unknown in ["eventID", "sourceIPAddress", "tlsDetails"] {
            expected.as_object_mut().unwrap().remove(unknown);
        }
        let mut played = played;
        for unknown in ["eventID", "sourceIPAddress"] {
            played.as_object_mut().unwrap().remove(unknown);
        }
        assert_eq!(played, expected);
    }

    #[test]
    fn revokes_by_rule_id_and_the_legacy_single_rule_form() {
        let by_id = params(&[
            ("GroupId", "sg-1"),
            ("SecurityGroupRuleId.1", "sgr-1"),
            ("SecurityGroupRuleId.2", "sgr-2"),
        ]);
        assert_eq!(
            request_parameters("RevokeSecurityGroupIngress", &by_id),
            json!({"groupId": "sg-1", "ipPermissions": {},
                   "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-1"}, {"securityGroupRuleId": "sgr-2"}]}})
        );
        let legacy = params(&[
            ("GroupId", "sg-1"),
            ("IpProtocol", "tcp"),
            ("FromPort", "22"),
            ("ToPort", "22"),
            ("CidrIp", "10.0.0.0/8"),
        ]);
        assert_eq!(
            request_parameters("AuthorizeSecurityGroupIngress", &legacy),
            json!({"groupId": "sg-1", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                   "cidrIp": "10.0.0.0/8", "ipPermissions": {}})
        );
        assert_eq!(
            requested_sources(&legacy),
            vec![(
                "tcp".to_owned(),
                Some(22),
                Some(22),
                "10.0.0.0/8".to_owned()
            )]
        );
    }

    #[test]
    fn modify_parameters_keep_the_wrapped_request() {
        let p = params(&[
            ("GroupId", "sg-1"),
            ("SecurityGroupRule.1.SecurityGroupRuleId", "sgr-1"),
            ("SecurityGroupRule.1.SecurityGroupRule.IpProtocol", "tcp"),
            ("SecurityGroupRule.1.SecurityGroupRule.FromPort", "22"),
            ("SecurityGroupRule.1.SecurityGroupRule.ToPort", "22"),
            (
                "SecurityGroupRule.1.SecurityGroupRule.CidrIpv4",
                "10.0.0.0/8",
            ),
            ("SecurityGroupRule.1.SecurityGroupRule.Description", "ssh"),
        ]);
        assert_eq!(
            request_parameters("ModifySecurityGroupRules", &p),
            json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": {
                "SecurityGroupRuleId": "sgr-1", "tag": 1,
                "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                    "CidrIpv4": "10.0.0.0/8", "Description": "ssh"}}}})
        );
    }

    #[test]
    fn failed_calls_carry_the_error_code() {
        let call = ApiCall {
            access_key_id: "AKIA".into(),
            region: "eu-west-1".into(),
            operation: "AuthorizeSecurityGroupIngress".into(),
            params: params(&[("GroupId", "sg-404")]),
            status: 400,
            body: Bytes::new(),
            user_agent: "aws-sdk-rust".into(),
            event_time: DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap(),
        };
        let answer = "<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>The security group 'sg-404' does not exist</Message></Error></Errors><RequestID>r-1</RequestID></Response>";
        let detail = record(&call, json!({}), "111122223333", answer, Vec::new());
        assert_eq!(detail["errorCode"], "Client.InvalidGroup.NotFound");
        assert_eq!(
            detail["errorMessage"],
            "The security group 'sg-404' does not exist"
        );
        assert_eq!(
            detail["requestID"].as_str().unwrap().len(),
            36,
            "moto's placeholder replaced by a UUID"
        );
        assert_eq!(detail["responseElements"], Value::Null);
        assert_eq!(detail["eventTime"], "2023-11-14T22:13:20Z");
    }
}
