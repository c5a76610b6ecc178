//! `fanin export`: the archive's finding versions of a date range as OCSF
//! 1.3.0 Parquet in the Amazon Security Lake custom source layout
//! (`fanin_export`, `docs/export.md`).
//!
//! One Parquet object per partition (class, region, account, day), written
//! from every archive object of that partition: exporting a day again writes
//! the same keys, and a day that received late versions is replaced whole,
//! so a partition never holds a version twice.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use fanin_export::{ExportClass, Partition, Prefix, export_partition};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::archive::{list_under, read_text};

/// Archive objects read at the same time.
const CONCURRENT_READS: usize = 8;

/// `fanin export` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub stack: crate::places::StackFlags,
    /// The central bucket holding the archive (`findings/`) (default: output
    /// `BucketName` of the central stack).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    /// First day to export (UTC, inclusive), YYYY-MM-DD: the archive's `eventDay`, the day a version was updated.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: String,
    /// Last day to export (UTC, inclusive), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: String,
    /// Key prefix of the Parquet objects; the Security Lake custom source layout puts them under `ext/`.
    #[arg(long, default_value = "ext/")]
    pub prefix: String,
    /// Write the Parquet objects to this bucket instead of --bucket (e.g. the
    /// Security Lake bucket `aws-security-data-lake-<region>-<id>`, with the custom source's provider role).
    #[arg(long, value_name = "BUCKET")]
    pub to_bucket: Option<String>,
}

/// The validated request.
#[derive(Debug, Clone)]
pub struct Request {
    pub bucket: String,
    pub to_bucket: String,
    pub prefix: Prefix,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Args {
    /// The request, with the archive in `bucket` (the flag or the stack's).
    pub fn validate(self, bucket: String) -> anyhow::Result<Request> {
        let day = |flag: &str, raw: &str| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .filter(|_| raw.len() == 10)
                .with_context(|| format!("{flag} {raw:?} is not a date: write it as YYYY-MM-DD"))
        };
        let from = day("--from", &self.from)?;
        let to = day("--to", &self.to)?;
        if from > to {
            bail!("--from {from} is after --to {to}: swap them");
        }
        let prefix = Prefix::parse(&self.prefix).context("--prefix")?;
        Ok(Request {
            to_bucket: self.to_bucket.unwrap_or_else(|| bucket.clone()),
            bucket,
            prefix,
            from,
            to,
        })
    }
}

/// One Parquet object written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub key: String,
    pub rows: usize,
    pub bytes: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Archive objects read.
    pub archive_objects: usize,
    /// Rows written: finding versions, each once.
    pub rows: usize,
    /// Records read that repeated a version already read.
    pub duplicates: usize,
    pub written: Vec<Written>,
    /// Keys under `findings/` that are not archive objects, with why; left alone.
    pub skipped: Vec<String>,
}

/// `fanin export`: validates the arguments, exports, prints each object
/// written and the final count.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = crate::places::aws_config(&args.stack).await;
    let bucket = crate::places::StackReader::new(&config, &args.stack)
        .place(crate::places::Place::Bucket, args.bucket.as_deref())
        .await?;
    let request = args.validate(bucket)?;
    let s3 = crate::places::s3_client(&config);
    let report = export(&s3, &request, &progress_bar()).await?;
    for skipped in &report.skipped {
        eprintln!("skipped {skipped}");
    }
    for written in &report.written {
        println!(
            "wrote  s3://{}/{}  ({} rows, {} bytes)",
            request.to_bucket, written.key, written.rows, written.bytes
        );
    }
    println!(
        "exported {} finding versions from {} archive objects into {} Parquet objects ({} duplicate records dropped)",
        report.rows,
        report.archive_objects,
        report.written.len(),
        report.duplicates
    );
    Ok(())
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} archive objects {msg}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar
}

/// Exports the request's days; see the module documentation.
pub async fn export(
    s3: &aws_sdk_s3::Client,
    request: &Request,
    progress: &ProgressBar,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut partitions: BTreeMap<Partition, Vec<String>> = BTreeMap::new();
    for class in ExportClass::ALL {
        for key in list_under(s3, &request.bucket, &Partition::archive_class_prefix(class)).await? {
            match Partition::from_archive_key(&key) {
                Ok(Some(partition)) if (request.from..=request.to).contains(&partition.day) => {
                    partitions.entry(partition).or_default().push(key);
                }
                Ok(_) => {}
                Err(error) => report.skipped.push(error.to_string()),
            }
        }
    }
    progress.set_length(partitions.values().map(Vec::len).sum::<usize>() as u64);
    for (partition, keys) in &partitions {
        let objects: Vec<(String, String)> = futures::stream::iter(keys.iter().cloned())
            .map(|key| async move {
                let text = read_text(s3, &request.bucket, &key).await?;
                progress.inc(1);
                anyhow::Ok((key, text))
            })
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;
        let export = export_partition(
            partition,
            &request.prefix,
            objects.iter().map(|(key, text)| (key.as_str(), text.as_str())),
        )
        .with_context(|| {
            format!(
                "exporting {}; nothing was written for this partition, fix the record named below (or move its archive object aside) and run again",
                partition.export_key(&request.prefix)
            )
        })?;
        let bytes = export.body.len();
        s3.put_object()
            .bucket(&request.to_bucket)
            .key(&export.key)
            .content_type("application/vnd.apache.parquet")
            .body(export.body.into())
            .send()
            .await
            .with_context(|| {
                format!(
                    "writing s3://{}/{}: check that these credentials may s3:PutObject there (for a Security Lake bucket, the custom source's provider role)",
                    request.to_bucket, export.key
                )
            })?;
        report.archive_objects += keys.len();
        report.rows += export.rows;
        report.duplicates += export.duplicates;
        progress.set_message(format!("{} versions", report.rows));
        report.written.push(Written {
            key: export.key,
            rows: export.rows,
            bytes,
        });
    }
    progress.finish_and_clear();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(from: &str, to: &str, prefix: &str) -> Args {
        Args {
            stack: crate::places::StackFlags {
                stack_set: "fanin-central-primary".into(),
                region: None,
            },
            bucket: None,
            from: from.into(),
            to: to.into(),
            prefix: prefix.into(),
            to_bucket: None,
        }
    }

    #[test]
    fn validates_days_and_prefix_and_says_what_to_do() {
        let request = args("2026-11-01", "2026-11-30", "ext/")
            .validate("central".into())
            .unwrap();
        assert_eq!(
            (request.to_bucket.as_str(), request.prefix.as_str()),
            ("central", "ext/")
        );
        let message = |a: Args| format!("{:#}", a.validate("central".into()).unwrap_err());
        assert!(
            message(args("2026-11-1", "2026-11-30", "ext/")).contains("write it as YYYY-MM-DD")
        );
        assert!(message(args("2026-12-01", "2026-11-30", "ext/")).contains("swap them"));
        assert!(message(args("2026-11-01", "2026-11-30", "../ext/")).contains("--prefix"));
    }
}
