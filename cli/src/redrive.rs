//! Redrive: quarantined messages (`quarantine/` in the central bucket) and
//! dead-lettered ones (the findings queue's DLQ) back onto the findings
//! queue, once the cause is fixed.
//!
//! Nothing is deleted before it is re-queued: a quarantined object is
//! deleted after its body is sent, and only the version that was read (the
//! bucket is versioned), so if the redriven message is quarantined again
//! meanwhile, under the same key, the new record stays; a dead-lettered
//! message is deleted from the DLQ after its copy is on the queue. A crash
//! between the two leaves a duplicate, which the pipeline stores once.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use fanin::quarantine::QuarantinedMessage;
use serde::Serialize;

use crate::places::{self, Place, StackFlags, StackReader};

/// `fanin redrive`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackFlags,
    /// The central bucket (default: output `BucketName` of the central stack).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    /// The findings queue (default: output `QueueUrl`).
    #[arg(long, value_name = "URL")]
    pub queue_url: Option<String>,
    /// Its dead-letter queue (default: output `DeadLetterQueueUrl`).
    #[arg(long, value_name = "URL")]
    pub dead_letter_queue_url: Option<String>,
    /// Only quarantined messages with this reason code (repeatable), e.g.
    /// `index_rejected`.
    #[arg(long = "reason", value_name = "CODE")]
    pub reasons: Vec<String>,
    /// Leave the quarantine alone.
    #[arg(long)]
    pub skip_quarantine: bool,
    /// Leave the dead-letter queue alone.
    #[arg(long)]
    pub skip_dead_letters: bool,
    /// List what would move and why it was set aside; move nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `fanin redrive` and prints what moved.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = places::aws_config(&args.stack).await;
    let mut stack = StackReader::new(&config, &args.stack);
    let places = Places {
        bucket: stack.place(Place::Bucket, args.bucket.as_deref()).await?,
        queue_url: stack
            .place(Place::QueueUrl, args.queue_url.as_deref())
            .await?,
        dead_letter_queue_url: stack
            .place(
                Place::DeadLetterQueueUrl,
                args.dead_letter_queue_url.as_deref(),
            )
            .await?,
    };
    let s3 = places::s3_client(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let selection = Selection {
        reasons: args.reasons.into_iter().collect(),
        skip_quarantine: args.skip_quarantine,
        skip_dead_letters: args.skip_dead_letters,
        dry_run: args.dry_run,
    };
    let report = redrive(&s3, &sqs, &places, &selection).await?;
    let verb = if args.dry_run { "would move" } else { "moved" };
    for moved in &report.moved {
        println!(
            "{verb}  {:<18} {}  ({})",
            moved.from,
            moved.id.escape_default(),
            moved.why.escape_default()
        );
    }
    println!(
        "{verb} {} quarantined and {} dead-lettered message(s)",
        report.moved.len() - report.dead_letters,
        report.dead_letters
    );
    Ok(())
}

/// Where messages are moved from and to.
#[derive(Debug, Clone)]
pub struct Places {
    pub bucket: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
}

/// What to move.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only quarantined messages with these reason codes (all when empty).
    pub reasons: BTreeSet<String>,
    /// Leave the quarantine alone.
    pub skip_quarantine: bool,
    /// Leave the dead-letter queue alone.
    pub skip_dead_letters: bool,
    /// List what would move; move nothing.
    pub dry_run: bool,
}

/// One message that moved (or would move).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    /// `quarantine` or `dead-letter queue`.
    pub from: &'static str,
    /// The quarantine object's key, or the dead-lettered message's id.
    pub id: String,
    /// Why it was set aside: the quarantine reason and its detail, or the
    /// receive count that sent it to the DLQ.
    pub why: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub moved: Vec<Moved>,
    /// Quarantined messages moved (or that would move), by reason.
    pub by_reason: BTreeMap<String, usize>,
    pub dead_letters: usize,
}

/// Moves the selected messages; see the module documentation.
pub async fn redrive(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    places: &Places,
    selection: &Selection,
) -> anyhow::Result<Report> {
    let mut report = Report {
        dry_run: selection.dry_run,
        ..Report::default()
    };
    if !selection.skip_quarantine {
        redrive_quarantine(s3, sqs, places, selection, &mut report).await?;
    }
    if !selection.skip_dead_letters {
        redrive_dead_letters(sqs, places, selection.dry_run, &mut report).await?;
    }
    Ok(report)
}

async fn redrive_quarantine(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    places: &Places,
    selection: &Selection,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&places.bucket)
        .prefix("quarantine/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context("listing quarantine/ in the central bucket")?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    // Malformed flow-log lines are listings, not messages: their object
    // stays in the flow-log bucket, and `fanin exposure process` replays it.
    let listings = "quarantine/reason=flowlog_malformed/";
    for key in keys.into_iter().filter(|key| !key.starts_with(listings)) {
        let object = s3
            .get_object()
            .bucket(&places.bucket)
            .key(&key)
            .send()
            .await
            .with_context(|| format!("reading {key}"))?;
        let version = object.version_id().map(str::to_owned);
        let bytes = object
            .body
            .collect()
            .await
            .with_context(|| format!("reading {key}"))?
            .into_bytes();
        let record: QuarantinedMessage = serde_json::from_slice(&bytes)
            .with_context(|| format!("{key} is not a quarantine record"))?;
        if !selection.reasons.is_empty() && !selection.reasons.contains(&record.reason) {
            continue;
        }
        if !selection.dry_run {
            sqs.send_message()
                .queue_url(&places.queue_url)
                .message_body(&record.body)
                .send()
                .await
                .with_context(|| format!("re-queueing {key}; nothing was deleted"))?;
            s3.delete_object()
                .bucket(&places.bucket)
                .key(&key)
                .set_version_id(version)
                .send()
                .await
                .with_context(|| {
                    format!("{key} is re-queued but still in the bucket: delete it by hand")
                })?;
        }
        *report.by_reason.entry(record.reason.clone()).or_default() += 1;
        report.moved.push(Moved {
            from: "quarantine",
            id: key,
            why: format!("{}: {}", record.reason, record.detail),
        });
    }
    Ok(())
}

/// A dry run receives with a visibility timeout of 0 (the messages stay
/// where they are) and stops when a receive brings nothing new.
async fn redrive_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    places: &Places,
    dry_run: bool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    loop {
        let answer = sqs
            .receive_message()
            .queue_url(&places.dead_letter_queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(if dry_run { 0 } else { 120 })
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .context("receiving from the dead-letter queue")?;
        let messages: Vec<_> = answer
            .messages()
            .iter()
            .filter(|m| seen.insert(m.message_id().unwrap_or_default().to_owned()))
            .cloned()
            .collect();
        if messages.is_empty() {
            return Ok(());
        }
        if !dry_run {
            let entries = messages
                .iter()
                .enumerate()
                .map(|(n, m)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(m.body().unwrap_or_default())
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            let sent = sqs
                .send_message_batch()
                .queue_url(&places.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("re-queueing dead letters; nothing was deleted")?;
            anyhow::ensure!(
                sent.failed().is_empty(),
                "re-queueing dead letters failed for {:?}; nothing was deleted",
                sent.failed()
            );
            let deletes = messages
                .iter()
                .enumerate()
                .map(|(n, m)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .expect("id and handle are set")
                })
                .collect();
            sqs.delete_message_batch()
                .queue_url(&places.dead_letter_queue_url)
                .set_entries(Some(deletes))
                .send()
                .await
                .context("dead letters re-queued but not deleted from the DLQ (they will be redriven twice, stored once)")?;
        }
        for message in &messages {
            let receives = message
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .map(String::as_str)
                .unwrap_or("?");
            report.dead_letters += 1;
            report.moved.push(Moved {
                from: "dead-letter queue",
                id: message.message_id().unwrap_or_default().to_owned(),
                why: format!("received {receives} times without success"),
            });
        }
    }
}
