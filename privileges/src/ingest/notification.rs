//! S3 event notifications of the trail bucket, and CloudTrail's key
//! layouts.
//!
//! Accepted keys (with any bucket prefix before the last `AWSLogs/`, even
//! one that ends in `AWSLogs` itself):
//!
//! - organization trail:
//!   `AWSLogs/<o-orgid>/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`
//! - account trail: `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`
//!
//! `CloudTrail-Digest/` and `CloudTrail-Insight/` objects (same layouts)
//! are [`Located::Skipped`]. The organization id, account, region and day
//! are validated before they reach a key or a log line; anything else is
//! [`Unreadable`].

use aws_lambda_events::s3::S3EventRecord;
use chrono::NaiveDate;
use fanin::ids::{AccountId, Region};

/// One CloudTrail log object a notification names, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailObject {
    pub bucket: String,
    /// The object key, URL-decoded.
    pub key: String,
    pub version_id: Option<String>,
    pub e_tag: Option<String>,
    /// The organization of an organization trail's key.
    pub organization: Option<String>,
    /// The account whose calls the object records (the recipient account).
    pub account: AccountId,
    pub region: Region,
    pub day: NaiveDate,
}

impl TrailObject {
    /// See [`fanin::objects::object_id`].
    pub fn object_id(&self) -> String {
        fanin::objects::object_id(
            &self.bucket,
            &self.key,
            self.version_id.as_deref(),
            self.e_tag.as_deref(),
        )
    }
}

/// What a notification body holds.
pub use fanin::objects::S3Notification as Notification;

/// What one record of a notification names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    Log(TrailObject),
    /// A digest or Insights object: acknowledged, counted, not read.
    Skipped(SkippedKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkippedKind {
    Digest,
    Insight,
}

/// Why a notification or one of its records is set aside
/// (`cloudtrail_unreadable`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("the body is not an S3 event notification: {0}")]
    NotANotification(String),
    #[error("the event {0} is not an object creation")]
    NotACreation(String),
    #[error("the notification is from another bucket")]
    ForeignBucket,
    #[error("the key is not a CloudTrail key: {0}")]
    Layout(&'static str),
    #[error("the object cannot be read: {0}")]
    Object(String),
}

/// Decodes an SQS body.
pub fn decode(body: &str) -> Result<Notification, Unreadable> {
    fanin::objects::decode_s3_notification(body).map_err(Unreadable::NotANotification)
}

/// What one record names, if it is an object of `expected_bucket`.
pub fn locate(record: &S3EventRecord, expected_bucket: &str) -> Result<Located, Unreadable> {
    let event = record.event_name.as_deref().unwrap_or("");
    if !event.starts_with("ObjectCreated:") {
        return Err(Unreadable::NotACreation(fanin::ids::truncate_for_message(
            event,
        )));
    }
    if record.s3.bucket.name.as_deref() != Some(expected_bucket) {
        return Err(Unreadable::ForeignBucket);
    }
    let raw_key = record
        .s3
        .object
        .key
        .as_deref()
        .ok_or(Unreadable::Layout("no key"))?;
    let key = fanin::objects::url_decode(raw_key)
        .ok_or(Unreadable::Layout("the key does not URL-decode"))?;
    let parsed = parse_key(&key)?;
    if let Some(kind) = parsed.skipped {
        return Ok(Located::Skipped(kind));
    }
    Ok(Located::Log(TrailObject {
        bucket: expected_bucket.to_owned(),
        key,
        version_id: record
            .s3
            .object
            .version_id
            .clone()
            .filter(|v| !v.is_empty()),
        e_tag: record.s3.object.e_tag.clone().filter(|v| !v.is_empty()),
        organization: parsed.organization,
        account: parsed.account,
        region: parsed.region,
        day: parsed.day,
    }))
}

/// What a key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    pub organization: Option<String>,
    pub account: AccountId,
    pub region: Region,
    pub day: NaiveDate,
    pub skipped: Option<SkippedKind>,
}

/// `o-` and 10 to 32 lowercase letters or digits.
fn is_organization_id(part: &str) -> bool {
    part.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// The organization, account, region and day a key names.
pub fn parse_key(key: &str) -> Result<ParsedKey, Unreadable> {
    if key.len() > 1024 {
        return Err(Unreadable::Layout("the key is too long"));
    }
    let start = key
        .rfind("AWSLogs/")
        .ok_or(Unreadable::Layout("no AWSLogs/ in the key"))?;
    let mut parts: Vec<&str> = key[start..].split('/').skip(1).collect();
    let organization = match parts.first() {
        Some(first) if first.starts_with("o-") => {
            if !is_organization_id(first) {
                return Err(Unreadable::Layout("not an organization id"));
            }
            let organization = (*first).to_owned();
            parts.remove(0);
            Some(organization)
        }
        _ => None,
    };
    // account, CloudTrail*, region, year, month, day, file.
    if parts.len() != 7 {
        return Err(Unreadable::Layout("unexpected number of key parts"));
    }
    let account =
        AccountId::parse(parts[0]).map_err(|_| Unreadable::Layout("not an account id"))?;
    let skipped = match parts[1] {
        "CloudTrail" => None,
        "CloudTrail-Digest" => Some(SkippedKind::Digest),
        "CloudTrail-Insight" => Some(SkippedKind::Insight),
        _ => return Err(Unreadable::Layout("not a CloudTrail key")),
    };
    let region = Region::parse(parts[2]).map_err(|_| Unreadable::Layout("not a region"))?;
    let number = |part: &str| {
        part.parse::<u32>()
            .map_err(|_| Unreadable::Layout("not a date"))
    };
    let day = NaiveDate::from_ymd_opt(
        number(parts[3])? as i32,
        number(parts[4])?,
        number(parts[5])?,
    )
    .ok_or(Unreadable::Layout("not a date"))?;
    if skipped.is_none() && !parts[6].ends_with(".json.gz") {
        return Err(Unreadable::Layout("the file is not .json.gz"));
    }
    Ok(ParsedKey {
        organization,
        account,
        region,
        day,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_with_prefixes_and_the_skipped_kinds() {
        for (key, organization) in [
            (
                "AWSLogs/o-exampleorgid/111122223333/CloudTrail/eu-west-1/2026/11/30/111122223333_CloudTrail_eu-west-1_20261130T1005Z_abc.json.gz",
                Some("o-exampleorgid"),
            ),
            (
                "trails/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/f.json.gz",
                None,
            ),
            // A trail whose own prefix is `AWSLogs`.
            (
                "AWSLogs/AWSLogs/o-exampleorgid/111122223333/CloudTrail/eu-west-1/2026/11/30/f.json.gz",
                Some("o-exampleorgid"),
            ),
        ] {
            let parsed = parse_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(parsed.organization.as_deref(), organization);
            assert_eq!(parsed.account.as_str(), "111122223333");
            assert_eq!(parsed.region.as_str(), "eu-west-1");
            assert_eq!(parsed.day, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
            assert_eq!(parsed.skipped, None);
        }
        let digest = parse_key(
            "AWSLogs/o-exampleorgid/111122223333/CloudTrail-Digest/eu-west-1/2026/11/30/f.json.gz",
        )
        .unwrap();
        assert_eq!(digest.skipped, Some(SkippedKind::Digest));
        let insight =
            parse_key("AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2026/11/30/f.json.gz")
                .unwrap();
        assert_eq!(insight.skipped, Some(SkippedKind::Insight));
    }

    #[test]
    fn other_keys_are_refused() {
        for key in [
            "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/f.log.gz",
            "AWSLogs/o-EXAMPLE/111122223333/CloudTrail/eu-west-1/2026/11/30/f.json.gz",
            "AWSLogs/o-../111122223333/CloudTrail/eu-west-1/2026/11/30/f.json.gz",
            "AWSLogs/11112222333/CloudTrail/eu-west-1/2026/11/30/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/../../2026/11/30/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/30/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/f.json",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/10/f.json.gz",
            "elsewhere/f.json.gz",
        ] {
            assert!(parse_key(key).is_err(), "{key}");
        }
    }

    #[test]
    fn test_events_and_moto_notifications() {
        assert!(matches!(
            decode(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#),
            Ok(Notification::Test)
        ));
        assert!(decode("{not json").is_err());
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-30T10:00:00.000Z","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{"name":"trail","arn":"arn:aws:s3:::trail"},"object":{"key":"AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-1/2026/11/30/f.json.gz","size":10,"eTag":"e"}}}]}"#;
        let Ok(Notification::Records(records)) = decode(body) else {
            panic!("read");
        };
        let Located::Log(object) = locate(&records[0], "trail").unwrap() else {
            panic!("a log object");
        };
        assert_eq!(object.account.as_str(), "111122223333");
        assert_eq!(object.e_tag.as_deref(), Some("e"));
        assert_eq!(object.object_id().len(), 32);
        assert_eq!(locate(&records[0], "other"), Err(Unreadable::ForeignBucket));
    }
}
