//! CloudTrail's event history (`LookupEvents`) over the records the local
//! stack played: one account and region at a time, newest first, one lookup
//! attribute, a time window and pages of at most 50 events, answered in the
//! JSON 1.1 shape of `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`.
//!
//! Pure: [`lookup_events`] takes the kept records and the request's JSON and
//! answers the response's JSON or the error CloudTrail would answer.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// Whether an `X-Amz-Target` names `LookupEvents`: the SDKs send
/// `CloudTrail_20131101.LookupEvents`, the API reference documents it
/// with the `com.amazonaws.cloudtrail.v20131101.` namespace.
pub fn is_lookup_events(target: &str) -> bool {
    target
        .strip_prefix("com.amazonaws.cloudtrail.v20131101.")
        .unwrap_or(target)
        == "CloudTrail_20131101.LookupEvents"
}

/// CloudTrail's largest (and default) page.
const MAX_RESULTS: usize = 50;

/// One kept CloudTrail record.
#[derive(Debug, Clone)]
pub struct KeptRecord {
    /// Order of recording; breaks ties between records of the same second
    /// and names a page's start in `NextToken`.
    pub sequence: u64,
    pub account: String,
    pub region: String,
    /// The record's `eventTime` (clock offset applied).
    pub event_time: DateTime<Utc>,
    /// The CloudTrail record (the EventBridge event's `detail`).
    pub record: Value,
}

/// An error CloudTrail answers (`__type`, message; all are client errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    pub kind: &'static str,
    pub message: String,
}

impl LookupError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        LookupError {
            kind,
            message: message.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupRequest {
    #[serde(default)]
    lookup_attributes: Vec<LookupAttribute>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    max_results: Option<i64>,
    next_token: Option<String>,
    /// `EventCategory: insight` is the only other value; management events
    /// are all this history holds.
    event_category: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupAttribute {
    attribute_key: String,
    attribute_value: String,
}

/// The attribute keys CloudTrail accepts.
const ATTRIBUTE_KEYS: [&str; 8] = [
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];

/// Answers a `LookupEvents` request body over `records` of `account` and
/// `region`, newest first.
pub fn lookup_events(
    records: &[KeptRecord],
    account: &str,
    region: &str,
    body: &[u8],
) -> Result<Value, LookupError> {
    let request: LookupRequest = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_value(json!({}))
    } else {
        serde_json::from_slice(body)
    }
    .map_err(|e| LookupError::new("SerializationException", e.to_string()))?;
    if request.event_category.is_some() {
        return Err(LookupError::new(
            "InvalidEventCategoryException",
            "only management events are kept by the local stack",
        ));
    }
    if request.lookup_attributes.len() > 1 {
        return Err(LookupError::new(
            "InvalidLookupAttributesException",
            "LookupAttributes holds at most one attribute",
        ));
    }
    let attribute = match request.lookup_attributes.first() {
        Some(a) if ATTRIBUTE_KEYS.contains(&a.attribute_key.as_str()) => Some(a),
        Some(a) => {
            return Err(LookupError::new(
                "InvalidLookupAttributesException",
                format!("unknown AttributeKey {}", a.attribute_key),
            ));
        }
        None => None,
    };
    let max_results = match request.max_results {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(LookupError::new(
                "InvalidMaxResultsException",
                format!("MaxResults must be between 1 and 50, not {n}"),
            ));
        }
    };
    let start = request.start_time.map(epoch_time).transpose()?;
    let end = request.end_time.map(epoch_time).transpose()?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(LookupError::new(
            "InvalidTimeRangeException",
            "StartTime is after EndTime",
        ));
    }

    let mut matching: Vec<&KeptRecord> = records
        .iter()
        .filter(|r| r.account == account && r.region == region)
        .filter(|r| start.is_none_or(|s| r.event_time >= s))
        .filter(|r| end.is_none_or(|e| r.event_time <= e))
        .filter(|r| attribute.is_none_or(|a| matches(r, &a.attribute_key, &a.attribute_value)))
        .collect();
    matching.sort_by_key(|r| std::cmp::Reverse((r.event_time, r.sequence)));
    let first = match &request.next_token {
        None => 0,
        Some(token) => {
            let sequence: u64 = token.parse().map_err(|_| invalid_token(token))?;
            matching
                .iter()
                .position(|r| r.sequence == sequence)
                .ok_or_else(|| invalid_token(token))?
        }
    };
    let page = &matching[first..(first + max_results).min(matching.len())];
    let mut answer = json!({"Events": page.iter().map(|r| event(r)).collect::<Vec<_>>()});
    if let Some(next) = matching.get(first + max_results) {
        answer["NextToken"] = json!(next.sequence.to_string());
    }
    Ok(answer)
}

fn invalid_token(token: &str) -> LookupError {
    LookupError::new(
        "InvalidNextTokenException",
        format!("{token} is not a token this lookup issued"),
    )
}

fn epoch_time(seconds: f64) -> Result<DateTime<Utc>, LookupError> {
    DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64).ok_or_else(|| {
        LookupError::new(
            "InvalidTimeRangeException",
            format!("{seconds} is not a time"),
        )
    })
}

fn matches(record: &KeptRecord, key: &str, value: &str) -> bool {
    let r = &record.record;
    match key {
        "EventId" => r["eventID"] == value,
        "EventName" => r["eventName"] == value,
        "ReadOnly" => r["readOnly"].as_bool().map(|b| b.to_string()).as_deref() == Some(value),
        "Username" => username(r) == value,
        "EventSource" => r["eventSource"] == value,
        "AccessKeyId" => r["userIdentity"]["accessKeyId"] == value,
        "ResourceType" => resources(r).iter().any(|x| x["ResourceType"] == value),
        "ResourceName" => resources(r).iter().any(|x| x["ResourceName"] == value),
        _ => false,
    }
}

/// The user name CloudTrail shows: the user's name, or a role session's name.
fn username(record: &Value) -> String {
    let identity = &record["userIdentity"];
    if let Some(user) = identity["userName"].as_str() {
        return user.to_owned();
    }
    identity["arn"]
        .as_str()
        .and_then(|arn| arn.rsplit('/').next())
        .unwrap_or_default()
        .to_owned()
}

/// The security groups a record names, as the history lists them.
fn resources(record: &Value) -> Vec<Value> {
    let mut groups: Vec<&str> = Vec::new();
    let request = &record["requestParameters"];
    let response = &record["responseElements"];
    for id in [&request["groupId"], &response["groupId"]] {
        if let Some(id) = id.as_str() {
            groups.push(id);
        }
    }
    for item in response["securityGroupRuleSet"]["items"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(id) = item["groupId"].as_str() {
            groups.push(id);
        }
    }
    groups.sort_unstable();
    groups.dedup();
    groups
        .into_iter()
        .map(|id| json!({"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": id}))
        .collect()
}

fn event(record: &KeptRecord) -> Value {
    let r = &record.record;
    json!({
        "EventId": r["eventID"],
        "EventName": r["eventName"],
        "ReadOnly": r["readOnly"].as_bool().unwrap_or(false).to_string(),
        "AccessKeyId": r["userIdentity"]["accessKeyId"],
        "EventTime": record.event_time.timestamp(),
        "EventSource": r["eventSource"],
        "Username": username(r),
        "Resources": resources(r),
        "CloudTrailEvent": r.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(sequence: u64, name: &str, group: &str, seconds: i64) -> KeptRecord {
        KeptRecord {
            sequence,
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            event_time: DateTime::from_timestamp(seconds, 0).unwrap(),
            record: json!({
                "eventID": format!("id-{sequence}"),
                "eventName": name,
                "eventSource": "ec2.amazonaws.com",
                "readOnly": false,
                "userIdentity": {"arn": "arn:aws:sts::111122223333:assumed-role/admin/alice", "accessKeyId": "ASIA1"},
                "requestParameters": {"groupId": group},
                "responseElements": {"securityGroupRuleSet": {"items": [{"groupId": group, "securityGroupRuleId": "sgr-1"}]}},
            }),
        }
    }

    fn ids(answer: &Value) -> Vec<&str> {
        answer["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["EventId"].as_str().unwrap())
            .collect()
    }

    fn records() -> Vec<KeptRecord> {
        let mut records = vec![
            kept(1, "AuthorizeSecurityGroupIngress", "sg-a", 1_000),
            kept(2, "RevokeSecurityGroupIngress", "sg-a", 2_000),
            kept(3, "AuthorizeSecurityGroupIngress", "sg-b", 3_000),
            kept(4, "AuthorizeSecurityGroupIngress", "sg-c", 3_000),
        ];
        let mut elsewhere = kept(5, "AuthorizeSecurityGroupIngress", "sg-d", 3_500);
        elsewhere.region = "us-east-1".into();
        records.push(elsewhere);
        records
    }

    #[test]
    fn newest_first_filtered_by_name_window_account_and_region() {
        let body = br#"{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"AuthorizeSecurityGroupIngress"}],"StartTime":1500,"EndTime":3000}"#;
        let answer = lookup_events(&records(), "111122223333", "eu-west-1", body).unwrap();
        assert_eq!(ids(&answer), ["id-4", "id-3"]);
        let first = &answer["Events"][0];
        assert_eq!(first["EventTime"], 3000);
        assert_eq!(first["Username"], "alice");
        assert_eq!(first["Resources"][0]["ResourceName"], "sg-c");
        let trail: Value =
            serde_json::from_str(first["CloudTrailEvent"].as_str().unwrap()).unwrap();
        assert_eq!(trail["eventID"], "id-4");
        assert!(answer.get("NextToken").is_none());
        let other = lookup_events(&records(), "444455556666", "eu-west-1", b"{}").unwrap();
        assert_eq!(ids(&other), Vec::<&str>::new());
    }

    #[test]
    fn pages_follow_next_token() {
        let page = |token: Option<&str>| {
            let mut body = json!({"MaxResults": 1, "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": "sg-a"}]});
            if let Some(t) = token {
                body["NextToken"] = json!(t);
            }
            lookup_events(
                &records(),
                "111122223333",
                "eu-west-1",
                body.to_string().as_bytes(),
            )
            .unwrap()
        };
        let first = page(None);
        assert_eq!(ids(&first), ["id-2"]);
        let second = page(first["NextToken"].as_str());
        assert_eq!(ids(&second), ["id-1"]);
        assert!(second.get("NextToken").is_none());
    }

    #[test]
    fn both_spellings_of_the_target_name_the_operation() {
        assert!(is_lookup_events("CloudTrail_20131101.LookupEvents"));
        assert!(is_lookup_events(
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
        ));
        assert!(!is_lookup_events("CloudTrail_20131101.CreateTrail"));
    }

    #[test]
    fn bad_requests_answer_cloudtrails_errors() {
        let kind = |body: &str| {
            lookup_events(&records(), "111122223333", "eu-west-1", body.as_bytes())
                .unwrap_err()
                .kind
        };
        assert_eq!(kind(r#"{"MaxResults": 51}"#), "InvalidMaxResultsException");
        assert_eq!(
            kind(r#"{"StartTime": 5, "EndTime": 1}"#),
            "InvalidTimeRangeException"
        );
        assert_eq!(
            kind(r#"{"NextToken": "nope"}"#),
            "InvalidNextTokenException"
        );
        assert_eq!(
            kind(r#"{"LookupAttributes":[{"AttributeKey":"Color","AttributeValue":"x"}]}"#),
            "InvalidLookupAttributesException"
        );
    }
}
