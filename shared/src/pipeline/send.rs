//! The send stage (I/O): carries out the store plans of `plan.rs` against
//! the index, the ledger and the archive, and writes the quarantine.

use std::collections::{BTreeSet, HashSet};

use futures::StreamExt;
use tokio::time::Instant;
use tracing::{info, warn};

use super::BatchReport;
use super::Collector;
use super::fate::{Fate, Fates, RetryCause};
use super::normalize::Carried;
use super::plan::{self, Pending, PlannedObject};
use crate::decode::InboundMessage;
use crate::normalize::FindingClass;
use crate::ports::{CallError, ObjectKind};
use crate::quarantine;
use crate::retry::{self, RetryPolicy};
use crate::search::bulk::{BulkOp, ItemOutcome};
use crate::search::{install, template, writer};

fn set_fate(fates: &mut Fates, items: &[&Carried], fate: Fate) {
    for item in items {
        fates.set_all(&item.message_ids, fate.clone());
    }
}

impl Collector {
    /// Index, archive and record the finding versions of the batch (see the
    /// module documentation of [`crate::pipeline`] for the steps and
    /// [`crate::ledger`] for the claims).
    pub(super) async fn store(
        &self,
        records: &[Carried],
        deadline: Instant,
        fates: &mut Fates,
        report: &mut BatchReport,
    ) {
        if records.is_empty() {
            return;
        }
        let everything: Vec<&Carried> = records.iter().collect();
        let classes: BTreeSet<FindingClass> = records.iter().map(|c| c.record.class).collect();
        if let Err(error) = retry::within(
            "PutIndexTemplate",
            deadline,
            self.ensure_templates(&classes),
        )
        .await
        {
            warn!(error = %error, "index templates not installed; retrying the batch");
            set_fate(fates, &everything, Fate::Retry(error.into()));
            return;
        }
        let ledger_index = self.settings.ledger_index();

        // 1. What the ledger knows.
        let version_uids: Vec<String> = records
            .iter()
            .map(|c| c.record.version_uid.clone())
            .collect();
        let entries = match retry::within(
            "Mget",
            deadline,
            self.ports
                .search
                .get_documents(&ledger_index, &version_uids),
        )
        .await
        {
            Ok(entries) => entries,
            Err(error) => {
                warn!(error = %error, "ledger lookup failed; retrying the batch");
                set_fate(fates, &everything, Fate::Retry(error.into()));
                return;
            }
        };
        let triage = plan::triage(records, &entries, chrono::Utc::now());
        report.findings_already_stored += triage.archived.len();
        set_fate(fates, &triage.archived, Fate::Done);
        report.findings_claimed_elsewhere += triage.claimed_elsewhere.len();
        set_fate(
            fates,
            &triage.claimed_elsewhere,
            Fate::Retry(RetryCause::ClaimedElsewhere),
        );
        let mut pending = triage.pending;

        // A stale claim whose object exists lost only its archived mark.
        let mut marks: Vec<BulkOp> = Vec::new();
        let checks = triage.stale.into_iter().map(|(key, claims)| async move {
            let exists = retry::within(
                "HeadObject",
                deadline,
                self.ports.objects.object_exists(&key),
            )
            .await;
            (key, claims, exists)
        });
        let checked: Vec<_> = futures::stream::iter(checks)
            .buffer_unordered(self.settings.max_concurrency)
            .collect()
            .await;
        for (key, claims, exists) in checked {
            for (carried, seq_no, primary_term) in claims {
                match &exists {
                    Ok(true) => {
                        report.findings_already_stored += 1;
                        marks.push(plan::archived_mark(&ledger_index, carried, &key));
                        set_fate(fates, &[carried], Fate::Done);
                    }
                    Ok(false) => pending.push(Pending {
                        carried,
                        takeover: Some((seq_no, primary_term)),
                    }),
                    Err(error) => set_fate(fates, &[carried], Fate::Retry(error.clone().into())),
                }
            }
        }

        // 2. The latest-state index and the history of each class, in the
        // same bulk requests.
        let index_ops = plan::index_ops(
            &pending,
            |class| self.settings.index_of(class),
            |class| self.settings.history_alias_of(class),
        );
        let written = self.bulk_with_retry(&index_ops, deadline).await;
        let mut indexed: Vec<usize> = Vec::new();
        for (position, outcome) in plan::version_outcomes(&written).into_iter().enumerate() {
            let carried = pending[position].carried;
            match outcome {
                // Both written, or already there (latest: this version or a
                // newer one; history: this version).
                ItemOutcome::Done | ItemOutcome::Conflict => indexed.push(position),
                ItemOutcome::Retry(why) => {
                    set_fate(fates, &[carried], Fate::Retry(RetryCause::BulkItem(why)))
                }
                ItemOutcome::Permanent(why) => set_fate(
                    fates,
                    &[carried],
                    Fate::Quarantine(crate::quarantine::QuarantineReason::IndexRejected(why)),
                ),
            }
        }

        // 3. Plan the archive objects, 4. claim their versions.
        let objects = plan::archive_objects(&pending, &indexed);
        let claim_ttl = self.settings.claim_ttl;
        let expires = chrono::Utc::now()
            + chrono::Duration::from_std(claim_ttl)
                .unwrap_or_else(|_| chrono::Duration::minutes(1));
        let write_deadline = deadline.min(Instant::now() + claim_ttl / 2);
        let (claim_ops, claim_positions) = plan::claims(&objects, &pending, &ledger_index, expires);
        let mut won: HashSet<usize> = HashSet::new();
        for (position, outcome) in claim_positions
            .iter()
            .zip(self.bulk_with_retry(&claim_ops, write_deadline).await)
        {
            let carried = pending[*position].carried;
            match outcome {
                ItemOutcome::Done => {
                    won.insert(*position);
                }
                ItemOutcome::Conflict => {
                    report.findings_claimed_elsewhere += 1;
                    set_fate(fates, &[carried], Fate::Retry(RetryCause::ClaimedElsewhere));
                }
                ItemOutcome::Retry(why) => {
                    set_fate(fates, &[carried], Fate::Retry(RetryCause::BulkItem(why)))
                }
                // The ledger's mapping refusing a claim is fanin's own bug:
                // retry, so it ends in the DLQ and its alarm.
                ItemOutcome::Permanent(why) => set_fate(
                    fates,
                    &[carried],
                    Fate::Retry(RetryCause::LedgerRefused(why)),
                ),
            }
        }

        // 5. Write the objects whose every version this invocation claimed.
        // The won claims of the others are released and retried, to be
        // archived once the other invocation is done (a rare race).
        let (complete, partial) = plan::split_by_claims(objects, &won);
        let mut releases: Vec<BulkOp> = Vec::new();
        for object in &partial {
            for position in object.positions.iter().filter(|p| won.contains(p)) {
                let carried = pending[*position].carried;
                releases.push(plan::release(&ledger_index, carried));
                set_fate(fates, &[carried], Fate::Retry(RetryCause::ClaimedElsewhere));
            }
        }
        let writes = complete
            .into_iter()
            .map(|object: PlannedObject| async move {
                let result = retry::within(
                    "PutObject",
                    write_deadline,
                    self.ports
                        .objects
                        .put_object(&object.key, object.body, ObjectKind::GzipNdjson),
                )
                .await;
                (object.key, object.positions, result)
            });
        let written: Vec<_> = futures::stream::iter(writes)
            .buffer_unordered(self.settings.max_concurrency)
            .collect()
            .await;
        for (key, positions, result) in written {
            let items: Vec<&Carried> = positions.iter().map(|&p| pending[p].carried).collect();
            match result {
                Ok(()) => {
                    report.objects_written += 1;
                    report.findings_stored += items.len();
                    for item in &items {
                        let status = item.record.enrichment;
                        *report
                            .enrichment
                            .entry(status.as_str().to_owned())
                            .or_default() += 1;
                        marks.push(plan::archived_mark(&ledger_index, item, &key));
                    }
                    set_fate(fates, &items, Fate::Done);
                }
                // A write that may have landed keeps its claims: after they
                // expire, the next delivery finds the object, or takes over.
                Err(error) if outcome_unknown(&error) => {
                    warn!(key = %key, error = %error, "archive write unanswered; retrying its messages");
                    set_fate(fates, &items, Fate::Retry(error.into()));
                }
                Err(error) => {
                    warn!(key = %key, error = %error, "archive write failed; releasing its claims and retrying its messages");
                    releases.extend(items.iter().map(|item| plan::release(&ledger_index, item)));
                    set_fate(fates, &items, Fate::Retry(error.into()));
                }
            }
        }

        // The data is stored: a mark or release that fails is logged, not
        // retried. Its claim expires, and the next delivery of the version
        // finds the object (stored) or takes the claim over (not stored).
        let bookkeeping: Vec<BulkOp> = marks.into_iter().chain(releases).collect();
        for (op, outcome) in bookkeeping
            .iter()
            .zip(self.bulk_with_retry(&bookkeeping, write_deadline).await)
        {
            if outcome != ItemOutcome::Done {
                warn!(ledger_id = %op.id(), outcome = ?outcome, "ledger entry not updated; its claim will expire");
            }
        }
    }

    /// Installs the latest-state and history templates of each class in
    /// the batch and their write aliases (once per process), then the
    /// ledger's template.
    async fn ensure_templates(&self, classes: &BTreeSet<FindingClass>) -> Result<(), CallError> {
        let prefix = &self.settings.index_prefix;
        for &class in classes {
            self.class_templates[&class]
                .get_or_try_init(|| async move {
                    install::bootstrap_class(self.ports.search.as_ref(), prefix, class).await
                })
                .await?;
        }
        self.ledger_template
            .get_or_try_init(|| async move {
                let index = self.settings.ledger_index();
                let template = template::ledger_template(prefix);
                self.ports.search.install_template(&index, &template).await
            })
            .await
            .map(|_| ())
    }

    /// [`writer::bulk_with_retry`] with the collector's size cap and policy.
    async fn bulk_with_retry(&self, ops: &[BulkOp], deadline: Instant) -> Vec<ItemOutcome> {
        writer::bulk_with_retry(
            self.ports.search.as_ref(),
            ops,
            self.settings.bulk_max_bytes,
            RetryPolicy::BULK_ITEMS,
            deadline,
        )
        .await
    }

    /// Writes each quarantined message where an operator finds it; a write
    /// that fails turns its message's fate into a retry. Then indexes one
    /// pipeline-health document per written object (best effort: see
    /// [`Self::index_quarantine_health`]).
    pub(super) async fn quarantine(
        &self,
        messages: &[InboundMessage],
        deadline: Instant,
        fates: &mut Fates,
        report: &mut BatchReport,
    ) {
        let now = chrono::Utc::now();
        let writes = messages
            .iter()
            .filter_map(|message| match fates.get(&message.message_id) {
                Some(Fate::Quarantine(reason)) => {
                    let (key, body) = quarantine::object(message, reason, now);
                    let message_id = message.message_id.clone();
                    let code = reason.code();
                    Some(async move {
                        let result = retry::within(
                            "PutObject",
                            deadline,
                            self.ports.objects.put_object(&key, body, ObjectKind::Json),
                        )
                        .await;
                        (message_id, code, key, result)
                    })
                }
                Some(Fate::Outsider) => {
                    info!(message_id = %message.message_id, "outside notification acknowledged");
                    None
                }
                _ => None,
            });
        let written: Vec<_> = futures::stream::iter(writes)
            .buffer_unordered(self.settings.max_concurrency)
            .collect()
            .await;
        let mut health: Vec<(String, BulkOp)> = Vec::new();
        let quarantine_index = self.settings.quarantine_index();
        for (message_id, reason, key, result) in written {
            match result {
                Ok(()) => {
                    warn!(message_id = %message_id, reason = %reason, key = %key, "message quarantined");
                    let (id, document) =
                        quarantine::health_document(&key, &reason, now, fates.origin(&message_id));
                    let op = BulkOp::Put {
                        index: quarantine_index.clone(),
                        id,
                        document: document.into(),
                    };
                    health.push((key, op));
                }
                Err(error) => {
                    warn!(message_id = %message_id, reason = %reason, error = %error, "quarantine write failed; retrying");
                    fates.set(&message_id, Fate::Retry(error.into()));
                }
            }
        }
        report.quarantine_health_failed += self.index_quarantine_health(&health, deadline).await;
    }

    /// Indexes the pipeline-health documents of the quarantined messages in
    /// one small bulk request, within a few seconds. The S3 object is the
    /// record: a document that cannot be indexed is logged with its key
    /// and counted, never retried past this and never turned into a retry
    /// of its message. Returns how many were not indexed.
    async fn index_quarantine_health(&self, docs: &[(String, BulkOp)], deadline: Instant) -> usize {
        if docs.is_empty() {
            return 0;
        }
        let ops: Vec<BulkOp> = docs.iter().map(|(_, op)| op.clone()).collect();
        let deadline = deadline.min(Instant::now() + QUARANTINE_HEALTH_BUDGET);
        let prefix = &self.settings.index_prefix;
        let template = retry::within(
            "PutIndexTemplate",
            deadline,
            self.quarantine_template.get_or_try_init(|| async move {
                let name = self.settings.quarantine_index();
                let template = template::quarantine_template(prefix);
                self.ports.search.install_template(&name, &template).await
            }),
        )
        .await;
        let outcomes = match template {
            Ok(_) => self.bulk_with_retry(&ops, deadline).await,
            Err(error) => vec![ItemOutcome::Retry(error.to_string()); ops.len()],
        };
        let mut failed = 0;
        for ((key, _), outcome) in docs.iter().zip(outcomes) {
            if outcome != ItemOutcome::Done {
                failed += 1;
                warn!(key = %key, outcome = ?outcome, "quarantine health document not indexed");
            }
        }
        failed
    }
}

/// How long the quarantine's health documents may take: they are a view of
/// the quarantine objects, not worth holding the batch's answer for.
const QUARANTINE_HEALTH_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a failed call may still have taken effect: no answer came back.
fn outcome_unknown(error: &CallError) -> bool {
    match error {
        CallError::Transient { code, .. } => matches!(
            code.as_str(),
            retry::DEADLINE_EXCEEDED | "Timeout" | "DispatchFailure" | "ResponseError"
        ),
        _ => false,
    }
}
