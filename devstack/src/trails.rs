//! CloudTrail objects for the local stack: a list of calls ([`TrailCall`])
//! written as the organization trail writes them (gzip JSON
//! `{"Records": [...]}` under
//! `AWSLogs/<o-orgid>/<account>/CloudTrail/<region>/YYYY/MM/DD/`), one
//! object per (account, day), records in the shape of the CloudTrail User
//! Guide's examples (`tests/fixtures/cloudtrail/`).

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Who makes a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailPrincipal {
    /// An IAM user.
    User { account: String, name: String },
    /// A session of a role; `role` is `<path>/<name>` or `<name>` (a path
    /// `aws-service-role/<service>/` makes it service-linked).
    Session {
        account: String,
        role: String,
        session: String,
    },
    /// The account's root user.
    Root { account: String },
}

impl TrailPrincipal {
    pub fn account(&self) -> &str {
        match self {
            Self::User { account, .. } | Self::Session { account, .. } | Self::Root { account } => {
                account
            }
        }
    }

    fn user_identity(&self, invoked_by: Option<&str>) -> Value {
        let mut identity = match self {
            Self::User { account, name } => json!({
                "type": "IAMUser", "principalId": "AIDAEXAMPLEUSER",
                "arn": format!("arn:aws:iam::{account}:user/{name}"),
                "accountId": account, "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": name,
            }),
            Self::Session {
                account,
                role,
                session,
            } => {
                let name = role.rsplit('/').next().unwrap_or(role);
                json!({
                    "type": "AssumedRole", "principalId": format!("AROAEXAMPLEROLE:{session}"),
                    "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"),
                    "accountId": account, "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
                    "sessionContext": {
                        "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLE",
                            "arn": format!("arn:aws:iam::{account}:role/{role}"),
                            "accountId": account, "userName": name},
                        "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-30T00:00:00Z"},
                    },
                })
            }
            Self::Root { account } => json!({
                "type": "Root", "principalId": account,
                "arn": format!("arn:aws:iam::{account}:root"), "accountId": account,
            }),
        };
        if let Some(service) = invoked_by {
            identity["invokedBy"] = json!(service);
        }
        identity
    }
}

/// One call recorded by the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailCall {
    pub principal: TrailPrincipal,
    /// `s3.amazonaws.com`, ...
    pub event_source: String,
    pub event_name: String,
    /// `AccessDenied`, ... for a refused call.
    pub error_code: Option<String>,
    pub time: DateTime<Utc>,
    /// An AWS service that made the call for the principal
    /// (`cloudformation.amazonaws.com`).
    pub invoked_by: Option<String>,
}

/// One record.
pub fn record(call: &TrailCall, region: &str, sequence: usize) -> Value {
    let mut record = json!({
        "eventVersion": "1.09",
        "userIdentity": call.principal.user_identity(call.invoked_by.as_deref()),
        "eventTime": call.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": call.event_source,
        "eventName": call.event_name,
        "awsRegion": region,
        "sourceIPAddress": call.invoked_by.clone().unwrap_or_else(|| "192.0.2.10".into()),
        "userAgent": "aws-sdk-rust/1.0 fanin-devstack",
        "requestParameters": null,
        "responseElements": null,
        "requestID": format!("{sequence:08x}-0000-4000-8000-000000000000"),
        "eventID": format!("{sequence:08x}-1111-4000-8000-000000000000"),
        "readOnly": call.event_name.starts_with("Get") || call.event_name.starts_with("List") || call.event_name.starts_with("Describe"),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": call.principal.account(),
        "eventCategory": "Management",
    });
    if let Some(code) = &call.error_code {
        record["errorCode"] = json!(code);
        record["errorMessage"] = json!("not authorized (fanin devstack)");
    }
    record
}

/// The objects for `calls`: (key, gzip JSON), one per (account, day), keys
/// in the organization trail's layout.
pub fn trail_objects(
    organization: &str,
    region: &str,
    calls: &[TrailCall],
) -> Vec<(String, Vec<u8>)> {
    let mut groups: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for (sequence, call) in calls.iter().enumerate() {
        groups
            .entry((
                call.principal.account().to_owned(),
                call.time.format("%Y/%m/%d").to_string(),
            ))
            .or_default()
            .push(record(call, region, sequence));
    }
    groups
        .into_iter()
        .map(|((account, day), records)| {
            let stamp = day.replace('/', "");
            let key = format!(
                "AWSLogs/{organization}/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{stamp}T2355Z_fanindevstack000.json.gz"
            );
            let json = serde_json::to_vec(&json!({ "Records": records })).expect("serializes");
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&json).expect("in memory");
            (key, encoder.finish().expect("in memory"))
        })
        .collect()
}

/// Writes the objects for `calls` to `bucket`; answers their keys.
pub async fn write_trail(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    organization: &str,
    region: &str,
    calls: &[TrailCall],
) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    for (key, body) in trail_objects(organization, region, calls) {
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.into())
            .send()
            .await?;
        keys.push(key);
    }
    Ok(keys)
}
