//! What moto does not enforce on `sts:AssumeRole`: the role must exist, and
//! its trust policy's `sts:ExternalId` condition must match the request.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Shared;
use super::awsreq::{self, CredentialScope, xml_escape, xml_text};

/// The outcome of checking an AssumeRole moto granted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    Deny,
}

/// Checks the AssumeRole that moto answered with `granted_xml`; `None` when
/// it stands, else the STS AccessDenied answer to send instead.
pub(crate) async fn check_assume_role(
    shared: &Shared,
    scope: Option<&CredentialScope>,
    role_arn: &str,
    external_id: Option<&str>,
    granted_xml: &str,
) -> Option<Response> {
    let verdict = match xml_text(granted_xml, "AccessKeyId") {
        Some(key) => match verdict(shared, &key, role_arn, external_id).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("devstack gateway: cannot check AssumeRole of {role_arn}: {e:#}");
                return Some(sts_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Receiver",
                    "InternalFailure",
                    &format!("devstack gateway could not check the role: {e:#}"),
                ));
            }
        },
        None => return None,
    };
    if verdict == Verdict::Allow {
        return None;
    }
    let caller_arn = match scope {
        Some(scope) => {
            awsreq::moto_caller_identity(&shared.http, &shared.moto_url, &scope.access_key_id)
                .await
                .map(|(_, arn)| arn)
                .unwrap_or_else(|_| {
                    format!("arn:aws:iam::123456789012:user/{}", scope.access_key_id)
                })
        }
        None => "anonymous".to_string(),
    };
    Some(sts_error(
        StatusCode::FORBIDDEN,
        "Sender",
        "AccessDenied",
        &format!(
            "User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        ),
    ))
}

/// Looks the role up in its account (as the assumed session, which acts
/// there) and evaluates its trust policy.
async fn verdict(
    shared: &Shared,
    assumed_key: &str,
    role_arn: &str,
    external_id: Option<&str>,
) -> anyhow::Result<Verdict> {
    let Some(role_name) = role_arn
        .split_once(":role/")
        .and_then(|(_, path)| path.rsplit('/').next())
        .filter(|n| !n.is_empty())
    else {
        return Ok(Verdict::Deny);
    };
    let (status, text) = awsreq::moto_query(
        &shared.http,
        &shared.moto_url,
        assumed_key,
        "iam",
        "us-east-1",
        &[
            ("Action", "GetRole"),
            ("RoleName", role_name),
            ("Version", "2010-05-08"),
        ],
    )
    .await?;
    if status == StatusCode::NOT_FOUND || text.contains("<Code>NoSuchEntity</Code>") {
        return Ok(Verdict::Deny);
    }
    if !status.is_success() {
        anyhow::bail!("IAM GetRole answered {status}: {text}");
    }
    if let Some(arn) = xml_text(&text, "Arn")
        && arn != role_arn
    {
        // Same name, other path: not the role that was asked for.
        return Ok(Verdict::Deny);
    }
    let document = xml_text(&text, "AssumeRolePolicyDocument").unwrap_or_default();
    let document = if document.trim_start().starts_with('{') {
        document
    } else {
        awsreq::percent_decode(&document)
    };
    let policy: Value = serde_json::from_str(&document)
        .map_err(|e| anyhow::anyhow!("trust policy of {role_arn} is not JSON ({e}): {document}"))?;
    Ok(trust_verdict(&policy, external_id))
}

fn as_strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn action_matches(statement: &Value) -> bool {
    match statement.get("Action") {
        Some(actions) => as_strings(actions).iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "sts:assumerole" || a == "sts:*" || a == "*"
        }),
        None => statement.get("NotAction").is_some_and(|n| {
            !as_strings(n)
                .iter()
                .any(|a| a.eq_ignore_ascii_case("sts:AssumeRole"))
        }),
    }
}

/// Whether the statement's conditions on `sts:ExternalId` hold (conditions on
/// other keys are not evaluated).
fn external_id_holds(statement: &Value, external_id: Option<&str>) -> bool {
    let Some(conditions) = statement.get("Condition").and_then(Value::as_object) else {
        return true;
    };
    for (operator, keys) in conditions {
        let Some(keys) = keys.as_object() else {
            continue;
        };
        for (key, expected) in keys {
            if !key.eq_ignore_ascii_case("sts:ExternalId") {
                continue;
            }
            let expected = as_strings(expected);
            let holds = match operator.as_str() {
                "StringEquals" => external_id.is_some_and(|id| expected.contains(&id)),
                "StringEqualsIgnoreCase" => external_id
                    .is_some_and(|id| expected.iter().any(|e| e.eq_ignore_ascii_case(id))),
                "StringLike" => {
                    external_id.is_some_and(|id| expected.iter().any(|e| awsreq::glob_match(e, id)))
                }
                "StringNotEquals" => external_id.is_none_or(|id| !expected.contains(&id)),
                "Null" => {
                    let must_be_null = expected.iter().any(|e| e.eq_ignore_ascii_case("true"));
                    external_id.is_none() == must_be_null
                }
                _ => true,
            };
            if !holds {
                return false;
            }
        }
    }
    true
}

/// Allow if some Allow statement for sts:AssumeRole holds and no Deny
/// statement does.
pub(crate) fn trust_verdict(policy: &Value, external_id: Option<&str>) -> Verdict {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    let mut allowed = false;
    for st in statements {
        if !action_matches(st) || !external_id_holds(st, external_id) {
            continue;
        }
        match st.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Verdict::Deny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Verdict::Allow
    } else {
        Verdict::Deny
    }
}

/// An STS (query protocol) error answer.
pub(crate) fn sts_error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        xml_escape(message)
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trust_policies() {
        let with_ext = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "fanin-ext"}}
        }]});
        assert_eq!(trust_verdict(&with_ext, Some("fanin-ext")), Verdict::Allow);
        assert_eq!(trust_verdict(&with_ext, Some("wrong")), Verdict::Deny);
        assert_eq!(trust_verdict(&with_ext, None), Verdict::Deny);
        let without = json!({"Statement": {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Principal": {"AWS": "*"}}});
        assert_eq!(trust_verdict(&without, None), Verdict::Allow);
        assert_eq!(trust_verdict(&without, Some("any")), Verdict::Allow);
        let list = json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:externalid": ["a", "b"]}}}]});
        assert_eq!(trust_verdict(&list, Some("b")), Verdict::Allow);
        let other_service =
            json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity"}]});
        assert_eq!(trust_verdict(&other_service, None), Verdict::Deny);
        let deny = json!({"Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "bad"}}}
        ]});
        assert_eq!(trust_verdict(&deny, Some("bad")), Verdict::Deny);
        assert_eq!(trust_verdict(&deny, Some("good")), Verdict::Allow);
    }
}
