//! `fanin exposure`: the unused-exposure pipeline's operator commands.
//!
//! `process` replays VPC Flow Logs already in the flow-log bucket: it lists
//! the objects of a range of days (both key layouts VPC Flow Logs writes:
//! `AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/` and the
//! Hive-compatible `AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/aws-region=<region>/year=YYYY/month=MM/day=DD/`)
//! and sends, for each, the S3 event notification S3 would have sent (one
//! record per message) to the `fanin-flow-logs` queue, so the `fanin-exposure`
//! function processes them as if they had just been delivered. Objects are
//! named by the same version id (or ETag) S3 notifies, so a replayed object
//! rewrites the same aggregates.
//!
//! The bucket and queue come from the outputs of the `fanin-central-exposure`
//! stack (`FlowLogBucketName`, `FlowLogQueueUrl`) unless flags give them.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use fanin::ids::{AccountId, Region};
use serde_json::{Value, json};

use crate::places::{self, Place, StackFlags, StackReader};

/// The longest range one run replays (a flow log's whole retention fits).
const MAX_DAYS: i64 = 400;
/// SQS's largest batch.
const BATCH: usize = 10;
/// Sends of the entries a batch could not take before giving up.
const SEND_ATTEMPTS: u32 = 3;
/// The file suffixes the bucket notifies (text and Parquet deliveries).
const SUFFIXES: [&str; 2] = [".log.gz", ".parquet"];

/// `fanin exposure`'s subcommands.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Queue the flow-log objects of a range of days for processing, as the
    /// bucket's notifications would (one message per object).
    Process(ProcessArgs),
    /// Judge every internet-open rule against the window's traffic now, as
    /// the daily schedule does, and put the records on the central bus.
    Evaluate(crate::exposure_evaluate::EvaluateArgs),
}

/// `fanin exposure process`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ProcessArgs {
    /// First day (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: NaiveDate,
    /// Last day (UTC, included), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: NaiveDate,
    /// Only this account's flow logs (repeatable; default: every account in
    /// the bucket).
    #[arg(long = "account", value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// Only this region's flow logs (repeatable; default: every region).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// The StackSet whose instance here is the exposure stack.
    #[arg(long, default_value = "fanin-central-exposure", value_name = "NAME")]
    pub stack_set: String,
    /// The AWS region of the exposure stack, bucket and queue (default: the
    /// AWS configuration's).
    #[arg(long, value_name = "REGION")]
    pub stack_region: Option<String>,
    /// The flow-log bucket (default: output `FlowLogBucketName`).
    #[arg(long, value_name = "BUCKET")]
    pub flow_log_bucket: Option<String>,
    /// The notification queue (default: output `FlowLogQueueUrl`).
    #[arg(long, value_name = "URL")]
    pub flow_log_queue_url: Option<String>,
    /// The flow logs' folder in the bucket, before `AWSLogs/` (a flow log's
    /// destination may name one).
    #[arg(long, value_name = "PREFIX")]
    pub key_prefix: Option<String>,
    /// List what would be queued; queue nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `fanin exposure ...`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Process(args) => process(args).await,
        Command::Evaluate(args) => crate::exposure_evaluate::run(args).await,
    }
}

/// What to replay (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub days: Vec<NaiveDate>,
    /// Empty: every account found in the bucket.
    pub accounts: BTreeSet<String>,
    /// Empty: every region found.
    pub regions: BTreeSet<String>,
    /// `""` or a folder ending in `/`.
    pub key_prefix: String,
}

impl Selection {
    /// Validates the flags (pure): a range of at most [`MAX_DAYS`] days in
    /// order, account ids and region names that can name a key.
    pub fn new(
        from: NaiveDate,
        to: NaiveDate,
        accounts: &[String],
        regions: &[String],
        key_prefix: Option<&str>,
    ) -> anyhow::Result<Selection> {
        if to < from {
            bail!("--to {to} is before --from {from}");
        }
        let span = (to - from).num_days() + 1;
        if span > MAX_DAYS {
            bail!("{span} days asked: replay at most {MAX_DAYS} days per run");
        }
        let accounts = accounts
            .iter()
            .map(|a| {
                AccountId::parse(a)
                    .map(|a| a.as_str().to_owned())
                    .with_context(|| format!("--account {}", a.escape_default()))
            })
            .collect::<anyhow::Result<_>>()?;
        let regions = regions
            .iter()
            .map(|r| {
                Region::parse(r)
                    .map(|r| r.as_str().to_owned())
                    .with_context(|| format!("--region {}", r.escape_default()))
            })
            .collect::<anyhow::Result<_>>()?;
        let key_prefix = match key_prefix.map(|p| p.trim_matches('/')) {
            None | Some("") => String::new(),
            Some(p) if p.len() <= 512 && !p.chars().any(char::is_control) => format!("{p}/"),
            Some(_) => bail!("--key-prefix must be at most 512 printable characters"),
        };
        Ok(Selection {
            days: from.iter_days().take(span as usize).collect(),
            accounts,
            regions,
            key_prefix,
        })
    }
}

/// The two folders of one account, region and day.
pub fn day_prefixes(key_prefix: &str, account: &str, region: &str, day: NaiveDate) -> [String; 2] {
    let (y, m, d) = (day.year(), day.month(), day.day());
    [
        format!("{key_prefix}AWSLogs/{account}/vpcflowlogs/{region}/{y:04}/{m:02}/{d:02}/"),
        format!(
            "{key_prefix}AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/year={y:04}/month={m:02}/day={d:02}/"
        ),
    ]
}

/// One object to notify about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogObject {
    pub key: String,
    pub size: i64,
    pub e_tag: String,
    /// `None` in a bucket that never had versioning (S3 then notifies none).
    pub version_id: Option<String>,
    pub last_modified: DateTime<Utc>,
}

/// The S3 event notification of `object` (event version 2.1, one record),
/// as S3 sends it for `s3:ObjectCreated:Put` (pure). The key is URL-encoded
/// as S3 encodes it: form encoding (`=` is `%3D`, a space `+`), the `/`
/// between folders kept.
pub fn notification(bucket: &str, region: &str, object: &FlowLogObject) -> Value {
    let key = object
        .key
        .split('/')
        .map(|part| url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/");
    let mut s3_object = json!({
        "key": key,
        "size": object.size,
        "eTag": object.e_tag.trim_matches('"'),
        "sequencer": format!("{:016X}", object.last_modified.timestamp_nanos_opt().unwrap_or_default()),
    });
    if let Some(version) = &object.version_id {
        s3_object["versionId"] = json!(version);
    }
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": object.last_modified.to_rfc3339_opts(SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "fanin-exposure-process"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "fanin-exposure-process", "x-amz-id-2": "fanin-exposure-process"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "fanin-exposure-process",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "fanin-exposure-process"},
                "arn": format!("arn:aws:s3:::{bucket}"),
            },
            "object": s3_object,
        },
    }]})
}

async fn process(args: ProcessArgs) -> anyhow::Result<()> {
    let selection = Selection::new(
        args.from,
        args.to,
        &args.accounts,
        &args.regions,
        args.key_prefix.as_deref(),
    )?;
    let flags = StackFlags {
        stack_set: args.stack_set.clone(),
        region: args.stack_region.clone(),
    };
    let config = places::aws_config(&flags).await;
    let mut stack = StackReader::new(&config, &flags);
    let bucket = stack
        .place(Place::FlowLogBucket, args.flow_log_bucket.as_deref())
        .await?;
    let queue_url = if args.dry_run {
        String::new()
    } else {
        stack
            .place(Place::FlowLogQueueUrl, args.flow_log_queue_url.as_deref())
            .await?
    };
    let s3 = places::s3_client(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bucket_region = config
        .region()
        .map(ToString::to_string)
        .unwrap_or_else(|| "us-east-1".to_owned());

    let accounts = match selection.accounts.is_empty() {
        false => selection.accounts.clone(),
        true => accounts_in_bucket(&s3, &bucket, &selection.key_prefix).await?,
    };
    let (mut objects_total, mut queued_total) = (0usize, 0usize);
    for account in &accounts {
        let regions = match selection.regions.is_empty() {
            false => selection.regions.clone(),
            true => regions_in_bucket(&s3, &bucket, &selection.key_prefix, account).await?,
        };
        for region in &regions {
            for day in &selection.days {
                let mut objects = Vec::new();
                for prefix in day_prefixes(&selection.key_prefix, account, region, *day) {
                    objects.extend(list_objects(&s3, &bucket, &prefix).await?);
                }
                let bodies: Vec<String> = objects
                    .iter()
                    .map(|o| notification(&bucket, &bucket_region, o).to_string())
                    .collect();
                let queued = if args.dry_run {
                    for object in &objects {
                        println!("would queue  s3://{bucket}/{}", object.key);
                    }
                    0
                } else {
                    send_all(&sqs, &queue_url, &bodies).await?
                };
                objects_total += objects.len();
                queued_total += queued;
                if !objects.is_empty() {
                    eprintln!(
                        "{account} {region} {day}: {} objects, {queued} notifications queued",
                        objects.len()
                    );
                }
            }
        }
    }
    let verb = if args.dry_run {
        "would queue"
    } else {
        "queued"
    };
    println!(
        "{verb} {} notifications for {objects_total} flow-log objects of {} days ({} to {}), {} accounts, bucket {bucket}",
        if args.dry_run {
            objects_total
        } else {
            queued_total
        },
        selection.days.len(),
        args.from,
        args.to,
        accounts.len(),
    );
    Ok(())
}

/// The accounts with flow logs in the bucket (both layouts), valid ids only.
async fn accounts_in_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key_prefix: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let folder = format!("{key_prefix}AWSLogs/");
    let mut accounts = BTreeSet::new();
    for sub in folders(s3, bucket, &folder).await? {
        let name = sub.strip_prefix("aws-account-id=").unwrap_or(&sub);
        match AccountId::parse(name) {
            Ok(id) => {
                accounts.insert(id.as_str().to_owned());
            }
            Err(_) => eprintln!(
                "skipping {folder}{}/: not an account's flow logs",
                fanin::ids::truncate_for_message(&sub).escape_default()
            ),
        }
    }
    Ok(accounts)
}

/// The regions of an account's flow logs (both layouts), valid names only.
async fn regions_in_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key_prefix: &str,
    account: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let mut regions = BTreeSet::new();
    for (folder, marker) in [
        (format!("{key_prefix}AWSLogs/{account}/vpcflowlogs/"), ""),
        (
            format!("{key_prefix}AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/"),
            "aws-region=",
        ),
    ] {
        for sub in folders(s3, bucket, &folder).await? {
            let Some(name) = sub.strip_prefix(marker) else {
                continue;
            };
            if let Ok(region) = Region::parse(name) {
                regions.insert(region.as_str().to_owned());
            }
        }
    }
    Ok(regions)
}

/// The names of the folders directly under `folder`.
pub(crate) async fn folders(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    folder: &str,
) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(folder)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("listing s3://{bucket}/{folder}"))?;
        for common in page.common_prefixes() {
            if let Some(name) = common
                .prefix()
                .and_then(|p| p.strip_prefix(folder))
                .map(|p| p.trim_end_matches('/'))
                .filter(|p| !p.is_empty())
            {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

/// The current version of each flow-log object under `prefix` (hour
/// folders included), with the version id S3 would notify.
async fn list_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<FlowLogObject>> {
    let mut objects = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        for version in page.versions() {
            let Some(key) = version.key() else { continue };
            if version.is_latest() != Some(true) || !SUFFIXES.iter().any(|s| key.ends_with(s)) {
                continue;
            }
            objects.push(FlowLogObject {
                key: key.to_owned(),
                size: version.size().unwrap_or_default(),
                e_tag: version.e_tag().unwrap_or_default().to_owned(),
                version_id: version
                    .version_id()
                    .filter(|v| *v != "null")
                    .map(str::to_owned),
                last_modified: version
                    .last_modified()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                    .unwrap_or_else(Utc::now),
            });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            break;
        }
    }
    Ok(objects)
}

/// Sends `bodies` in batches of ten; entries SQS refused are sent again,
/// up to [`SEND_ATTEMPTS`] times. Answers how many were queued.
pub(crate) async fn send_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    bodies: &[String],
) -> anyhow::Result<usize> {
    let mut queued = 0;
    for chunk in bodies.chunks(BATCH) {
        let mut pending: Vec<(String, &String)> = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| (i.to_string(), body))
            .collect();
        for attempt in 1..=SEND_ATTEMPTS {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body.as_str())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answer = sqs
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .with_context(|| format!("sending notifications to {queue_url}"))?;
            queued += answer.successful().len();
            let failed: BTreeSet<&str> = answer.failed().iter().map(|f| f.id()).collect();
            if failed.is_empty() {
                break;
            }
            if attempt == SEND_ATTEMPTS {
                let first = &answer.failed()[0];
                bail!(
                    "{} notifications refused by {queue_url} after {SEND_ATTEMPTS} attempts: {} {}",
                    failed.len(),
                    first.code(),
                    first.message().unwrap_or_default()
                );
            }
            pending.retain(|(id, _)| failed.contains(id.as_str()));
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_selection_is_a_valid_range_of_valid_places() {
        let selection = Selection::new(
            day("2026-02-27"),
            day("2026-03-01"),
            &["111122223333".into()],
            &["eu-west-1".into()],
            Some("/logs/"),
        )
        .unwrap();
        assert_eq!(
            selection.days,
            [day("2026-02-27"), day("2026-02-28"), day("2026-03-01")]
        );
        assert_eq!(selection.key_prefix, "logs/");
        assert!(Selection::new(day("2026-03-02"), day("2026-03-01"), &[], &[], None).is_err());
        assert!(Selection::new(day("2025-01-01"), day("2026-03-01"), &[], &[], None).is_err());
        assert!(
            Selection::new(
                day("2026-03-01"),
                day("2026-03-01"),
                &["../../x".into()],
                &[],
                None
            )
            .is_err()
        );
        assert!(
            Selection::new(
                day("2026-03-01"),
                day("2026-03-01"),
                &[],
                &["eu west".into()],
                None
            )
            .is_err()
        );
    }

    #[test]
    fn both_layouts_of_a_day_are_listed() {
        let [plain, hive] = day_prefixes("", "111122223333", "eu-west-1", day("2026-03-01"));
        assert_eq!(
            plain,
            "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/03/01/"
        );
        assert_eq!(
            hive,
            "AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=03/day=01/"
        );
    }

    #[test]
    fn the_notification_reads_as_an_s3_event() {
        let object = FlowLogObject {
            key: "AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/x.log.gz".into(),
            size: 1234,
            e_tag: "\"abc\"".into(),
            version_id: Some("v1".into()),
            last_modified: DateTime::from_timestamp(1_772_000_000, 0).unwrap(),
        };
        let body = notification("flows", "us-east-1", &object);
        let event: aws_lambda_events::s3::S3Event =
            serde_json::from_value(body.clone()).expect("the Lambda's event type reads it");
        let record = &event.records[0];
        assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
        assert_eq!(record.s3.bucket.name.as_deref(), Some("flows"));
        assert_eq!(record.s3.object.size, Some(1234));
        assert_eq!(record.s3.object.e_tag.as_deref(), Some("abc"));
        assert_eq!(record.s3.object.version_id.as_deref(), Some("v1"));
        // S3 URL-encodes the key: `=` is %3D.
        let key = record.s3.object.key.as_deref().unwrap();
        assert!(
            key.starts_with("AWSLogs/aws-account-id%3D111122223333/"),
            "{key}"
        );
        let decoded: String = url::form_urlencoded::parse(format!("k={key}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        assert_eq!(decoded, object.key);
        let unversioned = FlowLogObject {
            version_id: None,
            ..object
        };
        let body = notification("flows", "us-east-1", &unversioned);
        assert!(
            body["Records"][0]["s3"]["object"]
                .get("versionId")
                .is_none()
        );
    }
}
