//! `fanin privileges process`: the CloudTrail log objects of a range of
//! days queued for the least-privilege function, as the trail bucket's
//! notifications would (one S3-notification-shaped message per object, the
//! same body `fanin exposure process` sends).
//!
//! Resumable: days are walked in order, each day's keys in key order, and
//! after each batch is queued the last (day, key) is written to the
//! checkpoint file; `--resume` starts after it. The ingest is idempotent
//! (archive keys and document ids from the object's identity), so an
//! object queued twice changes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use fanin::ids::{AccountId, Region};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::exposure::{FlowLogObject, notification};
use crate::places::{self, Place, StackFlags, StackReader};

/// The most days one run covers.
pub const MAX_DAYS: i64 = 400;

/// `fanin privileges process --from --to [--account] [--region]`.
#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// First day (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: NaiveDate,
    /// Last day (UTC, included), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: NaiveDate,
    /// Only this account's logs (repeatable; default: every account).
    #[arg(long = "account", value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// Only this region's logs (repeatable; default: every region).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// The StackSet whose stack instance holds the trail bucket and queue.
    #[arg(long, default_value = "fanin-central-privileges", value_name = "NAME")]
    pub stack_set: String,
    /// The trail bucket (default: the stack's `TrailBucketName` output).
    #[arg(long, value_name = "BUCKET")]
    pub trail_bucket: Option<String>,
    /// The `fanin-cloudtrail` queue's URL (default: the stack's
    /// `TrailQueueUrl` output).
    #[arg(long, value_name = "URL")]
    pub trail_queue_url: Option<String>,
    /// The trail's folder in the bucket, before `AWSLogs/`.
    #[arg(long, value_name = "PREFIX")]
    pub key_prefix: Option<String>,
    /// The AWS region of the bucket and queue (default: the AWS
    /// configuration's).
    #[arg(long, value_name = "REGION")]
    pub stack_region: Option<String>,
    /// Where the last (day, key) queued is kept.
    #[arg(
        long,
        default_value = "fanin-privileges-process.json",
        value_name = "FILE"
    )]
    pub checkpoint: PathBuf,
    /// Start after the checkpoint's (day, key).
    #[arg(long)]
    pub resume: bool,
}

/// The last object queued.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Checkpoint {
    pub day: NaiveDate,
    pub key: String,
}

impl Checkpoint {
    pub fn read(path: &Path) -> anyhow::Result<Option<Checkpoint>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("{} is not a checkpoint", path.display())
                })?))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Written to a temporary file and renamed, so a stop leaves the old
    /// or the new checkpoint, never half of one.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, serde_json::to_vec(self)?)?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    }

    /// Whether (day, key) comes after the checkpoint (queue it).
    pub fn is_before(&self, day: NaiveDate, key: &str) -> bool {
        (self.day, self.key.as_str()) < (day, key)
    }
}

/// The days of the range, validated (in order, at most [`MAX_DAYS`]).
pub fn days(from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<NaiveDate>> {
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    anyhow::ensure!(
        (to - from).num_days() < MAX_DAYS,
        "at most {MAX_DAYS} days per run"
    );
    Ok(from.iter_days().take_while(|day| *day <= to).collect())
}

/// The day folders of one account and region, both layouts:
/// `<prefix>AWSLogs/[<org>/]<account>/CloudTrail/<region>/YYYY/MM/DD/`.
pub fn day_prefix(
    key_prefix: &str,
    organization: Option<&str>,
    account: &str,
    region: &str,
    day: NaiveDate,
) -> String {
    let organization = organization.map(|o| format!("{o}/")).unwrap_or_default();
    format!(
        "{key_prefix}AWSLogs/{organization}{account}/CloudTrail/{region}/{}/",
        day.format("%Y/%m/%d")
    )
}

pub async fn run(args: ProcessArgs) -> anyhow::Result<()> {
    let days = days(args.from, args.to)?;
    let wanted_accounts = validated(
        &args.accounts,
        |a| AccountId::parse(a).is_ok(),
        "account id",
    )?;
    let wanted_regions = validated(&args.regions, |r| Region::parse(r).is_ok(), "region")?;
    let key_prefix = match args.key_prefix.as_deref().map(|p| p.trim_matches('/')) {
        None | Some("") => String::new(),
        Some(prefix) => format!("{prefix}/"),
    };
    let resume_after = if args.resume {
        Checkpoint::read(&args.checkpoint)?
    } else {
        None
    };
    let flags = StackFlags {
        stack_set: args.stack_set.clone(),
        region: args.stack_region.clone(),
    };
    let config = places::aws_config(&flags).await;
    let mut stack = StackReader::new(&config, &flags);
    let bucket = &stack
        .place(Place::TrailBucket, args.trail_bucket.as_deref())
        .await?;
    let queue_url = stack
        .place(Place::TrailQueueUrl, args.trail_queue_url.as_deref())
        .await?;
    let s3 = places::s3_client(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bucket_region = config
        .region()
        .map(ToString::to_string)
        .unwrap_or_else(|| "us-east-1".to_owned());

    // (organization, account) folders: `AWSLogs/o-…/<account>/` and `AWSLogs/<account>/`.
    let mut owners: Vec<(Option<String>, String)> = Vec::new();
    let logs = format!("{key_prefix}AWSLogs/");
    for name in crate::exposure::folders(&s3, bucket, &logs).await? {
        if name.starts_with("o-")
            && name.len() <= 34
            && name[2..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            for account in crate::exposure::folders(&s3, bucket, &format!("{logs}{name}/")).await? {
                if AccountId::parse(&account).is_ok() {
                    owners.push((Some(name.clone()), account));
                }
            }
        } else if AccountId::parse(&name).is_ok() {
            owners.push((None, name));
        }
    }
    owners.retain(|(_, account)| wanted_accounts.is_empty() || wanted_accounts.contains(account));

    let progress = ProgressBar::new(days.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} days  {msg}").expect("a valid template"),
    );
    let mut queued = 0usize;
    for day in &days {
        if resume_after.as_ref().is_some_and(|c| c.day > *day) {
            progress.inc(1);
            continue;
        }
        let mut objects: Vec<FlowLogObject> = Vec::new();
        for (organization, account) in &owners {
            let trail = format!(
                "{logs}{}{account}/CloudTrail/",
                organization
                    .as_ref()
                    .map(|o| format!("{o}/"))
                    .unwrap_or_default()
            );
            for region in crate::exposure::folders(&s3, bucket, &trail).await? {
                if Region::parse(&region).is_err()
                    || !(wanted_regions.is_empty() || wanted_regions.contains(&region))
                {
                    continue;
                }
                let prefix =
                    day_prefix(&key_prefix, organization.as_deref(), account, &region, *day);
                objects.extend(list_logs(&s3, bucket, &prefix).await?);
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        objects.retain(|o| {
            resume_after
                .as_ref()
                .is_none_or(|c| c.is_before(*day, &o.key))
        });
        for batch in objects.chunks(100) {
            let bodies: Vec<String> = batch
                .iter()
                .map(|o| notification(bucket, &bucket_region, o).to_string())
                .collect();
            queued += crate::exposure::send_all(&sqs, &queue_url, &bodies).await?;
            let last = batch.last().expect("a chunk is not empty");
            Checkpoint {
                day: *day,
                key: last.key.clone(),
            }
            .write(&args.checkpoint)?;
            progress.set_message(format!("{queued} objects queued"));
        }
        progress.inc(1);
    }
    progress.finish_with_message(format!("{queued} objects queued"));
    println!(
        "queued {queued} CloudTrail objects of {} days ({} to {}), {} accounts, bucket {bucket}; checkpoint {}",
        days.len(),
        args.from,
        args.to,
        owners.iter().map(|(_, a)| a).collect::<BTreeSet<_>>().len(),
        args.checkpoint.display()
    );
    Ok(())
}

fn validated(
    values: &[String],
    valid: impl Fn(&str) -> bool,
    what: &str,
) -> anyhow::Result<BTreeSet<String>> {
    for value in values {
        anyhow::ensure!(
            valid(value),
            "not a {what}: {}",
            fanin::ids::truncate_for_message(value).escape_default()
        );
    }
    Ok(values.iter().cloned().collect())
}

/// The log objects (`.json.gz`) under a day folder.
async fn list_logs(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<FlowLogObject>> {
    let mut objects = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        for object in page.contents() {
            let Some(key) = object.key().filter(|k| k.ends_with(".json.gz")) else {
                continue;
            };
            objects.push(FlowLogObject {
                key: key.to_owned(),
                size: object.size().unwrap_or_default(),
                e_tag: object.e_tag().unwrap_or_default().to_owned(),
                version_id: None,
                last_modified: object
                    .last_modified()
                    .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0))
                    .unwrap_or_default(),
            });
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_prefixes_and_the_checkpoint_resume_in_day_then_key_order() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        assert_eq!(days(day(28), day(30)).unwrap(), [day(28), day(29), day(30)]);
        assert!(days(day(30), day(28)).is_err());
        assert_eq!(
            day_prefix(
                "trails/",
                Some("o-exampleorgid"),
                "111122223333",
                "eu-west-1",
                day(30)
            ),
            "trails/AWSLogs/o-exampleorgid/111122223333/CloudTrail/eu-west-1/2026/11/30/"
        );
        assert_eq!(
            day_prefix("", None, "111122223333", "eu-west-1", day(3)),
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/03/"
        );
        let checkpoint = Checkpoint {
            day: day(29),
            key: "AWSLogs/b".into(),
        };
        assert!(!checkpoint.is_before(day(28), "AWSLogs/z"));
        assert!(!checkpoint.is_before(day(29), "AWSLogs/a"));
        assert!(!checkpoint.is_before(day(29), "AWSLogs/b"));
        assert!(checkpoint.is_before(day(29), "AWSLogs/c"));
        assert!(checkpoint.is_before(day(30), "AWSLogs/a"));
        let path = std::env::temp_dir().join(format!(
            "fanin-privileges-checkpoint-{}.json",
            std::process::id()
        ));
        assert_eq!(Checkpoint::read(&path).unwrap(), None);
        checkpoint.write(&path).unwrap();
        assert_eq!(Checkpoint::read(&path).unwrap(), Some(checkpoint));
        std::fs::remove_file(&path).unwrap();
        assert!(
            validated(
                &["1111".into()],
                |a| AccountId::parse(a).is_ok(),
                "account id"
            )
            .is_err()
        );
    }
}
