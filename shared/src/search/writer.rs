//! Sending bulk operations until each has an outcome: what the collector's
//! store and the operator CLI's backfill both do.

use std::collections::VecDeque;

use tokio::time::Instant;

use crate::ports::{CallError, SearchIndexer};
use crate::retry::{self, Backoff, RetryPolicy};
use crate::search::bulk::{self, BulkOp, ItemOutcome};

/// Sends `ops` in bulk requests of at most `max_bytes` and retries the items
/// worth retrying, with `policy`'s backoff, within the deadline. A request
/// the cluster refuses as a whole (400: one item makes the body invalid) is
/// split in halves until the item at fault is alone: it alone is
/// `Permanent`. One outcome per op, in order; `Retry` for those still
/// failing when the attempts or the deadline run out.
pub async fn bulk_with_retry(
    search: &dyn SearchIndexer,
    ops: &[BulkOp],
    max_bytes: usize,
    policy: RetryPolicy,
    deadline: Instant,
) -> Vec<ItemOutcome> {
    let mut outcomes: Vec<ItemOutcome> = vec![ItemOutcome::Retry("not sent".into()); ops.len()];
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut backoff = Backoff::new(policy, deadline);
    loop {
        // Sized first, encoded one request at a time: each document is
        // copied once, into the body being sent, allocated at its size (a
        // half of a refused request grows its own).
        let mut requests: VecDeque<(Vec<usize>, usize)> =
            bulk::split(pending.iter().map(|&i| &ops[i]), max_bytes)
                .into_iter()
                .map(|(positions, size)| (positions.iter().map(|&p| pending[p]).collect(), size))
                .collect();
        while let Some((targets, size)) = requests.pop_front() {
            let body = bulk::body(targets.iter().map(|&i| &ops[i]), size);
            match retry::within("Bulk", deadline, search.bulk(body)).await {
                Ok(statuses) => {
                    let sent: Vec<&BulkOp> = targets.iter().map(|&i| &ops[i]).collect();
                    match bulk::outcomes(&sent, &statuses) {
                        Ok(read) => {
                            for (&target, outcome) in targets.iter().zip(read) {
                                outcomes[target] = outcome;
                            }
                        }
                        Err(why) => {
                            for &target in &targets {
                                outcomes[target] = ItemOutcome::Retry(why.clone());
                            }
                        }
                    }
                }
                Err(CallError::Rejected { .. }) if targets.len() > 1 => {
                    let (left, right) = targets.split_at(targets.len() / 2);
                    requests.push_front((right.to_vec(), 0));
                    requests.push_front((left.to_vec(), 0));
                }
                Err(error @ CallError::Rejected { .. }) => {
                    outcomes[targets[0]] = ItemOutcome::Permanent(error.to_string());
                }
                Err(error) => {
                    for &target in &targets {
                        outcomes[target] = ItemOutcome::Retry(error.to_string());
                    }
                }
            }
        }
        pending.retain(|&i| matches!(outcomes[i], ItemOutcome::Retry(_)));
        if pending.is_empty() || !backoff.retry().await {
            break;
        }
    }
    outcomes
}
