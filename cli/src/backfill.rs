//! `fanin backfill`: rebuilds the index (latest state and history) from the
//! S3 archive, after a mapping change or into a new cluster.
//!
//! Each archived version gets the two writes the collector makes: the
//! latest-state write (`_id` = SHA-256 of the finding ARN, external version,
//! so an older version never replaces a newer one; a 409 means the index
//! already holds a newer or equal version) and the history write (`create`
//! to `<latest>-history` with `_id` = `metadata.uid`; a 409 means it is
//! there). Both are idempotent, so a second run changes nothing.
//!
//! Objects are walked in key order; after each one is in the index its key
//! is the checkpoint, written to a local file, so a run that stops (an
//! interruption, `--limit`, a refusal) continues after it next time.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fanin::normalize::{FindingClass, document_id};
use fanin::search::bulk::{BulkOp, ItemOutcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::archive::{self, ArchivedVersion};
use crate::search::{Search, history_alias, latest_index};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    pub bucket: String,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// Ignore the checkpoint and start from the first object.
    pub restart: bool,
    /// Stop after this many objects written in this run.
    pub limit: Option<usize>,
}

/// What a run did and what the archive and the index hold after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The checkpoint the run started after, if any.
    pub resumed_after: Option<String>,
    /// Objects written in this run.
    pub objects_written: usize,
    /// Versions sent in this run.
    pub versions_written: usize,
    /// `false` when the run stopped at `--limit` before the end.
    pub complete: bool,
    /// The whole archive (only counted when the run is complete): distinct
    /// versions and distinct findings.
    pub archive_versions: usize,
    pub archive_findings: usize,
    /// The index after the run (only counted when the run is complete).
    pub index_latest: u64,
    pub index_history: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(key) = &self.resumed_after {
            writeln!(f, "resumed after {key}")?;
        }
        writeln!(
            f,
            "wrote {} version(s) from {} object(s)",
            self.versions_written, self.objects_written
        )?;
        if !self.complete {
            return write!(f, "stopped at --limit: run again to continue");
        }
        write!(
            f,
            "archive: {} versions, {} findings; index now: {} latest, {} history",
            self.archive_versions, self.archive_findings, self.index_latest, self.index_history
        )
    }
}

/// The checkpoint file: the last object completely in the index, and where
/// it went (a checkpoint never carries over to another bucket or cluster).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub bucket: String,
    pub endpoint: String,
    pub index_prefix: String,
    pub last_key: String,
}

/// The default checkpoint file: `$XDG_STATE_HOME/fanin/` (else
/// `~/.local/state/fanin/`, else the current directory), one per bucket and
/// prefix.
pub fn default_checkpoint(bucket: &str, prefix: &str) -> PathBuf {
    let dir = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .map(|d| d.join("fanin"))
        .unwrap_or_default();
    dir.join(format!("backfill-{bucket}-{prefix}.json"))
}

/// The checkpoint to resume after (pure over the file's content): `None`
/// without one; an error when it belongs to another bucket, cluster or
/// prefix, or does not name an archive object.
pub fn resume_point(
    content: Option<&str>,
    bucket: &str,
    endpoint: &str,
    prefix: &str,
) -> anyhow::Result<Option<String>> {
    let Some(content) = content else {
        return Ok(None);
    };
    let checkpoint: Checkpoint = serde_json::from_str(content)
        .context("the checkpoint file is not a backfill checkpoint: pass --restart")?;
    if !archive::is_archive_key(&checkpoint.last_key) {
        bail!("the checkpoint does not name an archive object: pass --restart");
    }
    if (
        checkpoint.bucket.as_str(),
        checkpoint.endpoint.as_str(),
        checkpoint.index_prefix.as_str(),
    ) != (bucket, endpoint, prefix)
    {
        bail!(
            "the checkpoint is for bucket {}, cluster {} and prefix {}: pass --restart to start over, or --checkpoint <another file>",
            checkpoint.bucket,
            checkpoint.endpoint,
            checkpoint.index_prefix
        );
    }
    Ok(Some(checkpoint.last_key))
}

/// The two writes of each version (pure): the latest-state write with the
/// ledger's exact version when known, else the reconstructed one, and the
/// history `create`.
pub fn ops(
    versions: &[ArchivedVersion],
    ledger: &HashMap<String, i64>,
    prefix: &str,
) -> Vec<BulkOp> {
    versions
        .iter()
        .flat_map(|v| {
            [
                BulkOp::IndexLatest {
                    index: latest_index(prefix, v.class),
                    id: document_id(&v.finding_uid),
                    version: ledger.get(&v.version_uid).copied().unwrap_or(v.version),
                    document: v.text.clone(),
                },
                BulkOp::CreateOnce {
                    index: history_alias(prefix, v.class),
                    id: v.version_uid.clone(),
                    document: v.text.clone(),
                },
            ]
        })
        .collect()
}

/// Why the writes of one object did not all land (pure): `None` when every
/// op is done or found newer/present (409).
pub fn failure(ops: &[BulkOp], outcomes: &[ItemOutcome]) -> Option<String> {
    let refused: Vec<String> = ops
        .iter()
        .zip(outcomes)
        .filter_map(|(op, outcome)| match outcome {
            ItemOutcome::Done | ItemOutcome::Conflict => None,
            ItemOutcome::Retry(why) => {
                Some(format!("{} (still refused after retries: {why})", op.id()))
            }
            ItemOutcome::Permanent(why) => Some(format!("{} ({why})", op.id())),
        })
        .collect();
    if refused.is_empty() {
        return None;
    }
    Some(format!(
        "{} write(s) refused, e.g. {}",
        refused.len(),
        refused[0]
    ))
}

/// Runs a backfill; see the module documentation.
pub async fn backfill(
    s3: &aws_sdk_s3::Client,
    search: &Search,
    options: &Options,
) -> anyhow::Result<Report> {
    let endpoint = search.url.to_string();
    let content = if options.restart {
        None
    } else {
        match std::fs::read_to_string(&options.checkpoint) {
            Ok(content) => Some(content),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", options.checkpoint.display()));
            }
        }
    };
    let resumed_after = resume_point(
        content.as_deref(),
        &options.bucket,
        &endpoint,
        &search.prefix,
    )
    .with_context(|| format!("checkpoint {}", options.checkpoint.display()))?;
    let keys = archive::list_keys(s3, &options.bucket).await?;
    let classes: BTreeSet<FindingClass> = keys.iter().filter_map(|key| class_of_key(key)).collect();
    for &class in &classes {
        search
            .prepare_class(class)
            .await
            .with_context(|| format!("preparing the indices of class {}", class.uid()))?;
    }

    let progress = progress_bar(keys.len() as u64);
    let mut report = Report {
        resumed_after: resumed_after.clone(),
        complete: true,
        ..Report::default()
    };
    let mut version_uids = BTreeSet::new();
    let mut finding_uids = BTreeSet::new();
    for key in &keys {
        let already = resumed_after
            .as_deref()
            .is_some_and(|last| key.as_str() <= last);
        if !already
            && options
                .limit
                .is_some_and(|limit| report.objects_written >= limit)
        {
            report.complete = false;
            break;
        }
        let versions = archive::read_object(s3, &options.bucket, key).await?;
        for version in &versions {
            version_uids.insert(version.version_uid.clone());
            finding_uids.insert((version.class, version.finding_uid.clone()));
        }
        if !already {
            let uids: Vec<String> = versions.iter().map(|v| v.version_uid.clone()).collect();
            let ledger = search
                .ledger_versions(&uids)
                .await
                .context("reading the ledger")?;
            let ops = ops(&versions, &ledger, &search.prefix);
            let outcomes = search.bulk_with_retry(&ops).await;
            if let Some(why) = failure(&ops, &outcomes) {
                progress.abandon();
                bail!(
                    "{key}: {why}; the checkpoint stays before it: fix the cause (a mapping, the cluster's capacity) and run again"
                );
            }
            write_checkpoint(
                &options.checkpoint,
                &Checkpoint {
                    bucket: options.bucket.clone(),
                    endpoint: endpoint.clone(),
                    index_prefix: search.prefix.clone(),
                    last_key: key.clone(),
                },
            )?;
            report.objects_written += 1;
            report.versions_written += versions.len();
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if !report.complete {
        return Ok(report);
    }
    report.archive_versions = version_uids.len();
    report.archive_findings = finding_uids.len();
    for &class in &classes {
        report.index_latest += search.count(&latest_index(&search.prefix, class)).await?;
        report.index_history += search
            .count(&format!("{}*", history_alias(&search.prefix, class)))
            .await?;
    }
    Ok(report)
}

/// The class of an archive key (`findings/classUid=<uid>/...`).
fn class_of_key(key: &str) -> Option<FindingClass> {
    let uid = key.strip_prefix("findings/classUid=")?.split('/').next()?;
    FindingClass::ALL
        .into_iter()
        .find(|c| c.uid().to_string() == uid)
}

/// Written aside and renamed into place, so an interruption leaves the
/// previous checkpoint or the new one, never half of one.
fn write_checkpoint(path: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let aside = path.with_extension("json.tmp");
    std::fs::write(
        &aside,
        serde_json::to_vec_pretty(checkpoint).expect("strings serialize"),
    )
    .with_context(|| format!("writing {}", aside.display()))?;
    std::fs::rename(&aside, path).with_context(|| format!("writing {}", path.display()))
}

/// A bar over the archive's objects, drawn only when stdout is a terminal.
pub fn progress_bar(length: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(length),
        if std::io::stdout().is_terminal() {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} objects {elapsed_precise} (eta {eta})")
            .expect("a valid template"),
    );
    bar
}

/// `fanin backfill`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub stack: crate::places::StackFlags,
    /// The central bucket holding the archive (default: output `BucketName`
    /// of the central stack).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    #[command(flatten)]
    pub search: crate::search::SearchFlags,
    /// The checkpoint file (default:
    /// `$XDG_STATE_HOME/fanin/backfill-<bucket>-<prefix>.json`, else under
    /// `~/.local/state/fanin/`).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Ignore the checkpoint and start from the first archive object.
    #[arg(long)]
    pub restart: bool,
    /// Stop after writing this many archive objects (run again to continue).
    #[arg(long, value_name = "OBJECTS")]
    pub limit: Option<usize>,
}

/// Runs `fanin backfill` and prints the counts.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = crate::places::aws_config(&args.stack).await;
    let mut stack = crate::places::StackReader::new(&config, &args.stack);
    let bucket = stack
        .place(crate::places::Place::Bucket, args.bucket.as_deref())
        .await?;
    let search = Search::connect(&config, &mut stack, &args.search).await?;
    let options = Options {
        checkpoint: args
            .checkpoint
            .unwrap_or_else(|| default_checkpoint(&bucket, &search.prefix)),
        bucket,
        restart: args.restart,
        limit: args.limit,
    };
    let s3 = crate::places::s3_client(&config);
    let report = backfill(&s3, &search, &options).await?;
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn version(uid: &str, version_uid: &str, time: i64) -> ArchivedVersion {
        ArchivedVersion::parse(
            &json!({"class_uid": 2002, "time": time, "finding_info": {"uid": uid},
                    "metadata": {"uid": version_uid}})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn each_version_is_a_latest_write_and_a_history_create() {
        let versions = [version("arn:a", "v1", 10), version("arn:a", "v2", 20)];
        let ledger = HashMap::from([("v2".to_owned(), 20_000_000_123)]);
        let ops = ops(&versions, &ledger, "fanin");
        assert_eq!(ops.len(), 4);
        let BulkOp::IndexLatest {
            index, id, version, ..
        } = &ops[0]
        else {
            panic!("{:?}", ops[0]);
        };
        assert_eq!(index, "fanin-findings");
        assert_eq!(id, &document_id("arn:a"));
        assert_eq!(
            *version, versions[0].version,
            "reconstructed without a ledger entry"
        );
        let BulkOp::CreateOnce {
            index,
            id,
            document,
        } = &ops[1]
        else {
            panic!("{:?}", ops[1]);
        };
        assert_eq!(
            (index.as_str(), id.as_str()),
            ("fanin-findings-history", "v1")
        );
        assert_eq!(document, &versions[0].text);
        let BulkOp::IndexLatest { version, .. } = &ops[2] else {
            panic!("{:?}", ops[2]);
        };
        assert_eq!(*version, 20_000_000_123, "the ledger's exact version wins");
    }

    #[test]
    fn conflicts_are_done_and_refusals_stop_the_run() {
        let ops = ops(&[version("arn:a", "v1", 10)], &HashMap::new(), "p");
        assert_eq!(
            failure(&ops, &[ItemOutcome::Done, ItemOutcome::Conflict]),
            None
        );
        let why = failure(
            &ops,
            &[
                ItemOutcome::Done,
                ItemOutcome::Permanent("400 mapper_parsing_exception".into()),
            ],
        )
        .unwrap();
        assert!(why.contains("v1 (400 mapper_parsing_exception)"), "{why}");
    }

    #[test]
    fn a_checkpoint_resumes_only_the_same_backfill() {
        let key = format!(
            "findings/classUid=2002/region=us-east-1/accountId=111111111111/eventDay=20260101/{}.json.gz",
            "0".repeat(64)
        );
        let content = serde_json::to_string(&Checkpoint {
            bucket: "b".into(),
            endpoint: "http://127.0.0.1:1/".into(),
            index_prefix: "fanin".into(),
            last_key: key.clone(),
        })
        .unwrap();
        assert_eq!(
            resume_point(None, "b", "http://127.0.0.1:1/", "fanin").unwrap(),
            None
        );
        assert_eq!(
            resume_point(Some(&content), "b", "http://127.0.0.1:1/", "fanin").unwrap(),
            Some(key.clone())
        );
        let other = resume_point(Some(&content), "b", "https://other/", "fanin")
            .unwrap_err()
            .to_string();
        assert!(other.contains("pass --restart"), "{other}");
        let forged = content.replace("findings/", "../../etc/");
        assert!(resume_point(Some(&forged), "b", "http://127.0.0.1:1/", "fanin").is_err());
        assert!(resume_point(Some("garbage"), "b", "http://127.0.0.1:1/", "fanin").is_err());
    }

    #[test]
    fn keys_name_their_class() {
        assert_eq!(
            class_of_key("findings/classUid=2004/region=x/accountId=1/eventDay=2/h.json.gz"),
            Some(FindingClass::DetectionFinding)
        );
        assert_eq!(class_of_key("quarantine/x"), None);
    }
}
