//! S3 event notifications in SQS bodies, and the flow-log key layouts.
//!
//! Accepted keys (with any bucket prefix before the last `AWSLogs/`, even
//! one that ends in `AWSLogs` itself):
//!
//! - `AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/[HH/]<file>`
//! - `AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/aws-region=<region>/year=YYYY/month=MM/day=DD/[hour=HH/]<file>`
//!
//! with `<file>` ending in `.log.gz` (text) or `.parquet`. The account and
//! region are validated (`fanin::ids`) before they reach a key or a log
//! line; anything else is [`Unreadable`].

use aws_lambda_events::s3::S3EventRecord;
use chrono::NaiveDate;
use fanin::ids::{AccountId, Region};
use sha2::{Digest, Sha256};

/// How the object is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// gzip text with a header line (`.log.gz`).
    GzipText,
    /// Parquet (`.parquet`).
    Parquet,
}

/// One flow-log object a notification names, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogObject {
    pub bucket: String,
    /// The object key, URL-decoded.
    pub key: String,
    pub version_id: Option<String>,
    pub e_tag: Option<String>,
    pub account: AccountId,
    pub region: Region,
    /// The day in the key.
    pub day: NaiveDate,
    pub encoding: Encoding,
}

impl FlowLogObject {
    /// Hex of the first 16 bytes of SHA-256 over
    /// `bucket + "/" + key + "@" + (versionId or eTag)`: names the archive
    /// object and goes into every document id, so processing the same
    /// object again rewrites the same object and ids.
    pub fn object_id(&self) -> String {
        let version = self
            .version_id
            .as_deref()
            .or(self.e_tag.as_deref())
            .unwrap_or("");
        let digest = Sha256::digest(format!("{}/{}@{version}", self.bucket, self.key).as_bytes());
        hex::encode(&digest[..16])
    }
}

/// What a notification body holds.
pub use fanin::objects::S3Notification as Notification;

/// Why a notification or one of its records is set aside
/// (`flowlog_unreadable`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("the body is not an S3 event notification: {0}")]
    NotANotification(String),
    #[error("the event {0} is not an object creation")]
    NotACreation(String),
    #[error("the notification is from another bucket")]
    ForeignBucket,
    #[error("the key is not a VPC Flow Logs key: {0}")]
    Layout(&'static str),
    #[error("the object cannot be read: {0}")]
    Object(String),
}

/// Decodes an SQS body.
pub fn decode(body: &str) -> Result<Notification, Unreadable> {
    fanin::objects::decode_s3_notification(body).map_err(Unreadable::NotANotification)
}

/// The object of one record, if it is a flow-log object of `expected_bucket`.
pub fn locate(record: &S3EventRecord, expected_bucket: &str) -> Result<FlowLogObject, Unreadable> {
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
    let (account, region, day, encoding) = parse_key(&key)?;
    Ok(FlowLogObject {
        bucket: expected_bucket.to_owned(),
        key,
        version_id: record
            .s3
            .object
            .version_id
            .clone()
            .filter(|v| !v.is_empty()),
        e_tag: record.s3.object.e_tag.clone().filter(|v| !v.is_empty()),
        account,
        region,
        day,
        encoding,
    })
}

/// The account, region, day and encoding a key names.
pub fn parse_key(key: &str) -> Result<(AccountId, Region, NaiveDate, Encoding), Unreadable> {
    if key.len() > 1024 {
        return Err(Unreadable::Layout("the key is too long"));
    }
    let start = key
        .rfind("AWSLogs/")
        .ok_or(Unreadable::Layout("no AWSLogs/ in the key"))?;
    let parts: Vec<&str> = key[start..].split('/').collect();
    let file = parts.last().copied().unwrap_or("");
    let encoding = if file.ends_with(".log.gz") {
        Encoding::GzipText
    } else if file.ends_with(".parquet") {
        Encoding::Parquet
    } else {
        return Err(Unreadable::Layout(
            "the file is neither .log.gz nor .parquet",
        ));
    };
    // AWSLogs, account, service, region, year, month, day, [hour], file.
    if !(parts.len() == 8 || parts.len() == 9) {
        return Err(Unreadable::Layout("unexpected number of key parts"));
    }
    let hive = parts[1].starts_with("aws-account-id=");
    let value = |part: &str, name: &'static str| -> Result<String, Unreadable> {
        if hive {
            part.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
                .ok_or(Unreadable::Layout("a Hive partition is missing"))
        } else {
            Ok(part.to_owned())
        }
    };
    let account = AccountId::parse(&value(parts[1], "aws-account-id")?)
        .map_err(|_| Unreadable::Layout("not an account id"))?;
    if value(parts[2], "aws-service")? != "vpcflowlogs" {
        return Err(Unreadable::Layout("not a vpcflowlogs key"));
    }
    let region = Region::parse(&value(parts[3], "aws-region")?)
        .map_err(|_| Unreadable::Layout("not a region"))?;
    let number = |part: &str, name: &'static str| -> Result<u32, Unreadable> {
        value(part, name)?
            .parse::<u32>()
            .map_err(|_| Unreadable::Layout("not a date"))
    };
    let day = NaiveDate::from_ymd_opt(
        number(parts[4], "year")? as i32,
        number(parts[5], "month")?,
        number(parts[6], "day")?,
    )
    .ok_or(Unreadable::Layout("not a date"))?;
    if parts.len() == 9 && number(parts[7], "hour")? > 23 {
        return Err(Unreadable::Layout("not an hour"));
    }
    Ok((account, region, day, encoding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_with_and_without_hours_and_prefixes() {
        for key in [
            "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/111122223333_vpcflowlogs_eu-west-1_fl-1234_20261130T1005Z_ab12.log.gz",
            "logs/org/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/10/f.log.gz",
            // A flow log whose own prefix is `AWSLogs`.
            "AWSLogs/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/f.log.gz",
            "AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=30/f.parquet",
            "p/AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=30/hour=10/f.parquet",
        ] {
            let (account, region, day, _) = parse_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(account.as_str(), "111122223333");
            assert_eq!(region.as_str(), "eu-west-1");
            assert_eq!(day, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        }
    }

    #[test]
    fn other_keys_are_refused() {
        for key in [
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/f.json.gz",
            "AWSLogs/11112222333/vpcflowlogs/eu-west-1/2026/11/30/f.log.gz",
            "AWSLogs/111122223333/vpcflowlogs/../../2026/11/30/f.log.gz",
            "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/13/30/f.log.gz",
            "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/f.txt",
            "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/25/f.log.gz",
            "elsewhere/f.log.gz",
        ] {
            assert!(parse_key(key).is_err(), "{key}");
        }
    }

    #[test]
    fn test_events_and_encoded_keys() {
        assert!(matches!(
            decode(
                r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-30T10:00:00Z","Bucket":"b","RequestId":"r","HostId":"h"}"#
            ),
            Ok(Notification::Test)
        ));
        assert!(matches!(
            decode("{not json"),
            Err(Unreadable::NotANotification(_))
        ));
        assert_eq!(
            fanin::objects::url_decode("AWSLogs/aws-account-id%3D1/a+b%2Bc").unwrap(),
            "AWSLogs/aws-account-id=1/a b+c"
        );
    }

    #[test]
    fn a_record_without_the_fields_fanin_does_not_read_is_still_read() {
        // moto's notification: no userIdentity, no requestParameters.
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-30T10:00:00.000Z","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{"name":"flows","arn":"arn:aws:s3:::flows"},"object":{"key":"AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/30/f.log.gz","size":10,"eTag":"e","versionId":"v1"}}}]}"#;
        let Ok(Notification::Records(records)) = decode(body) else {
            panic!("read");
        };
        let object = locate(&records[0], "flows").unwrap();
        assert_eq!(object.account.as_str(), "111122223333");
        assert_eq!(object.version_id.as_deref(), Some("v1"));
    }
}
