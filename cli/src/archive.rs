//! Reading the S3 archive (`findings/classUid=<uid>/.../<sha256>.json.gz`,
//! gzip NDJSON, `shared/src/archive.rs`) back into finding versions.
//!
//! Keys are listed in their order (the class comes first, then region,
//! account and day), which is the order backfill walks and checkpoints.

use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, bail};
use fanin::normalize::FindingClass;
use serde_json::Value;

/// The archive's prefix in the central bucket.
pub const PREFIX: &str = "findings/";

/// Versions per millisecond and per state rank: `external_version` in
/// `shared/src/normalize/mod.rs`.
const VERSIONS_PER_MS: i64 = 1_000_000;
const VERSIONS_PER_RANK: i64 = 250_000;

/// True for a key the collector writes under `findings/` (pure): checked
/// before a key from a listing or a checkpoint file is used or printed.
pub fn is_archive_key(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("findings/classUid=") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let [class, region, account, day, name] = parts.as_slice() else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let name_ok = name
        .strip_suffix(".json.gz")
        .is_some_and(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    digits(class, 4)
        && region.strip_prefix("region=").is_some_and(|r| {
            !r.is_empty()
                && r.len() <= 32
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && account
            .strip_prefix("accountId=")
            .is_some_and(|a| digits(a, 12))
        && day.strip_prefix("eventDay=").is_some_and(|d| digits(d, 8))
        && name_ok
}

/// One archived finding version: its document and what identifies it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedVersion {
    pub class: FindingClass,
    /// `finding_info.uid` (the finding ARN).
    pub finding_uid: String,
    /// `metadata.uid`.
    pub version_uid: String,
    /// The external version reconstructed from the document (see
    /// [`reconstructed_version`]).
    pub version: i64,
    /// The document as archived, one line of NDJSON.
    pub text: Arc<str>,
    pub document: Value,
}

impl ArchivedVersion {
    /// Reads one NDJSON line; the error names what is missing.
    pub fn parse(line: &str) -> anyhow::Result<Self> {
        let document: Value = serde_json::from_str(line).context("not a JSON document")?;
        let class_uid = document
            .get("class_uid")
            .and_then(Value::as_u64)
            .context("no class_uid")?;
        let class = FindingClass::ALL
            .into_iter()
            .find(|c| u64::from(c.uid()) == class_uid)
            .with_context(|| format!("unknown class_uid {class_uid}"))?;
        let text_at = |pointer: &str| {
            document
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .with_context(|| format!("no {pointer}"))
        };
        let finding_uid = text_at("/finding_info/uid")?;
        let version_uid = text_at("/metadata/uid")?;
        let version = reconstructed_version(&document).context("no time")?;
        Ok(Self {
            class,
            finding_uid,
            version_uid,
            version,
            text: line.into(),
            document,
        })
    }
}

/// The external version of an archived document (pure). The collector's is
/// `updated_ms × 10^6 + state rank × 250,000 + (content hash mod 250,000)`;
/// the document keeps the update time (`time`) and the state, but not the
/// content hash, so the last term comes from `metadata.uid` instead (itself
/// a hash of the content): versions order the same way by time and state,
/// and only two contents of one finding with the same millisecond and state
/// may order differently than the collector ordered them. Backfill prefers
/// the ledger's exact version when the cluster has it.
pub fn reconstructed_version(document: &Value) -> Option<i64> {
    let time = document.get("time")?.as_i64()?;
    let rank = state_rank(document);
    let tie = document
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .and_then(|uid| uid.get(..16))
        .and_then(|head| u64::from_str_radix(head, 16).ok())
        .map(|head| (head % VERSIONS_PER_RANK as u64) as i64)
        .unwrap_or(0);
    Some(time * VERSIONS_PER_MS + rank * VERSIONS_PER_RANK + tie)
}

/// The state rank the collector gave the version, read back from the OCSF
/// status (docs/schema.md, Identity and versioning; Status): Inspector2
/// ACTIVE 1, SUPPRESSED 2, CLOSED 3, other 0; Classic 0; GuardDuty archived
/// 2, else 1.
fn state_rank(document: &Value) -> i64 {
    let class = document.get("class_uid").and_then(Value::as_u64);
    if class == Some(2004) {
        let archived = document.get("status_id").and_then(Value::as_u64) == Some(5);
        return if archived { 2 } else { 1 };
    }
    let source = document
        .pointer("/unmapped/fanin/source")
        .and_then(Value::as_str);
    if source != Some("inspector2") {
        return 0;
    }
    match document
        .get("status_detail")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("ACTIVE") => 1,
        Some("SUPPRESSED") => 2,
        Some("CLOSED") => 3,
        _ => 0,
    }
}

/// Every key under `prefix` in `bucket`, in listing order.
pub async fn list_under(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| {
            format!(
                "listing s3://{bucket}/{prefix}: check --bucket (output BucketName of \
                 fanin-central-primary) and that these credentials may s3:ListBucket it"
            )
        })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// The archive's keys, sorted.
pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<Vec<String>> {
    let mut keys = list_under(s3, bucket, PREFIX).await?;
    if let Some(stray) = keys.iter().find(|key| !is_archive_key(key)) {
        bail!(
            "{:?} under {PREFIX} is not an archive object the collector writes: move it away",
            fanin::ids::truncate_for_message(stray)
        );
    }
    keys.sort();
    Ok(keys)
}

/// One gzip NDJSON object as text.
pub async fn read_text(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<String> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .with_context(|| format!("reading s3://{bucket}/{key}"))?;
    let bytes = object
        .body
        .collect()
        .await
        .with_context(|| format!("reading s3://{bucket}/{key}"))?
        .into_bytes();
    gunzip(&bytes).with_context(|| format!("s3://{bucket}/{key}"))
}

/// The versions of one archive object, in order.
pub async fn read_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<Vec<ArchivedVersion>> {
    let text = read_text(s3, bucket, key).await?;
    parse_lines(&text).with_context(|| key.to_owned())
}

fn gunzip(bytes: &[u8]) -> anyhow::Result<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .context("not gzip NDJSON")?;
    Ok(text)
}

fn parse_lines(text: &str) -> anyhow::Result<Vec<ArchivedVersion>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(n, line)| ArchivedVersion::parse(line).with_context(|| format!("line {}", n + 1)))
        .collect()
}

/// Gunzips and parses one object (pure).
pub fn decode_object(bytes: &[u8]) -> anyhow::Result<Vec<ArchivedVersion>> {
    parse_lines(&gunzip(bytes)?)
}

/// Every version in the archive, read object by object.
pub async fn read_all(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> anyhow::Result<Vec<ArchivedVersion>> {
    let mut versions = Vec::new();
    for key in list_keys(s3, bucket).await? {
        versions.extend(read_object(s3, bucket, &key).await?);
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_collector_keys_are_archive_keys() {
        let good = format!(
            "findings/classUid=2002/region=eu-west-1/accountId=111111111111/eventDay=20261123/{}.json.gz",
            "a".repeat(64)
        );
        assert!(is_archive_key(&good));
        for bad in [
            good.replace("classUid=2002", "classUid=20x2"),
            good.replace("accountId=111111111111", "accountId=1111"),
            good.replace("region=eu-west-1", "region=../x"),
            good.replace(".json.gz", ".txt"),
            format!("{good}/extra"),
            "quarantine/x.json".to_owned(),
            "findings/classUid=2002/\n".to_owned(),
        ] {
            assert!(!is_archive_key(&bad), "{bad:?}");
        }
    }

    #[test]
    fn versions_order_by_time_then_state_as_the_collector_s() {
        let doc = |time: i64, status: &str, uid: &str| {
            json!({"class_uid": 2002, "time": time, "status_detail": status,
                   "metadata": {"uid": uid}, "unmapped": {"fanin": {"source": "inspector2"}}})
        };
        let uid_a = "f".repeat(64);
        let uid_b = "0".repeat(64);
        let active = reconstructed_version(&doc(1_000, "ACTIVE", &uid_a)).unwrap();
        let closed_same_ms = reconstructed_version(&doc(1_000, "CLOSED", &uid_b)).unwrap();
        let later = reconstructed_version(&doc(1_001, "ACTIVE", &uid_b)).unwrap();
        assert!(active < closed_same_ms, "closed wins within one instant");
        assert!(closed_same_ms < later, "update time first");
        assert_eq!(active / VERSIONS_PER_MS, 1_000);
        let guardduty_archived =
            json!({"class_uid": 2004, "time": 5, "status_id": 5, "metadata": {"uid": uid_b}});
        assert_eq!(
            reconstructed_version(&guardduty_archived),
            Some(5 * VERSIONS_PER_MS + 2 * VERSIONS_PER_RANK)
        );
        assert_eq!(reconstructed_version(&json!({"class_uid": 2002})), None);
    }

    #[test]
    fn objects_decode_line_by_line() {
        let line = json!({"class_uid": 2002, "time": 7, "finding_info": {"uid": "arn:f"},
                          "metadata": {"uid": "ab"}})
        .to_string();
        let object = fanin::archive::gzip(format!("{line}\n{line}\n").as_bytes());
        let versions = decode_object(&object).unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].finding_uid, "arn:f");
        assert_eq!(versions[0].class, FindingClass::VulnerabilityFinding);
        let broken = fanin::archive::gzip(b"{\"class_uid\": 2002}\n");
        let error = format!("{:#}", decode_object(&broken).unwrap_err());
        assert!(error.contains("line 1"), "{error}");
    }
}
