//! The collector's pipeline over one batch of queue messages: one chain of
//! named stages, read top to bottom in [`Collector::process_batch`].
//!
//! | Stage | File | Takes | Returns | I/O |
//! |---|---|---|---|---|
//! | decode | `intake.rs` | queue messages | [`intake::Decoded`] notifications (errors and lifecycle events get their fate) | none |
//! | group | `intake.rs` | notifications | work per (account, region): [`intake::GroupWork`] | none |
//! | resolve | `resolve.rs` | work per group | [`resolve::Resolved`]: complete findings and the group's EC2 inventory | sessions, Classic DescribeFindings, EC2 |
//! | enrich and normalize | `normalize.rs` | resolved groups | [`normalize::Carried`] finding records, one per version | none |
//! | plan the store | `plan.rs` | records, ledger entries, bulk answers | ledger triage, bulk operations, archive objects and their keys, claims | none |
//! | send | `send.rs` | the plans | what was indexed, claimed, written | OpenSearch, S3 |
//! | fates | `fate.rs` | every message's fate | the [`BatchReport`] | none |
//!
//! Nothing here knows a source: sources decode their own messages and map
//! their own findings (`crate::sources`); the store takes
//! [`crate::normalize::FindingRecord`]s with their OCSF class.
//!
//! Storing keeps S3 and the index exactly-once under redelivery, concurrent
//! invocations and crashes ([`crate::ledger`]):
//! 1. one `_mget` on the ledger: archived versions are done, versions another
//!    invocation is archiving are retried later, stale claims are checked;
//! 2. the latest-state index of each class takes the rest with external
//!    versioning (an older version can never replace a newer one), and its
//!    history index every version (`create` under the version id), in the
//!    same bulk requests;
//! 3. what the index accepted is planned into archive objects, one per
//!    (class, account, region, day), named from their version ids;
//! 4. each version is claimed in the ledger (`create`: one invocation wins)
//!    with the object that will hold it;
//! 5. the objects are written; each claim is then marked archived, or
//!    released if its object could not be written.
//!
//! Every message ends in exactly one fate: done, acknowledged (lifecycle
//! event), outsider (a notification from outside the organization, counted),
//! quarantined with its typed reason, or retried (reported in
//! `batchItemFailures`). Only transient failures are retried. Every outside
//! call is bounded by the batch's deadline.

pub mod fate;
pub mod intake;
pub mod normalize;
pub mod plan;
pub mod resolve;
mod send;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::decode::{self, InboundMessage};
use crate::ids::Partition;
use crate::normalize::FindingClass;
use crate::ports::{
    AccountDirectory, ClassicFindingsSource, NetworkInventory, ObjectStore, SearchIndexer,
    SessionProvider,
};
use fate::Fates;

/// The outside systems the pipeline uses.
#[derive(Clone)]
pub struct Ports {
    pub sessions: Arc<dyn SessionProvider>,
    pub classic: Arc<dyn ClassicFindingsSource>,
    pub inventory: Arc<dyn NetworkInventory>,
    pub objects: Arc<dyn ObjectStore>,
    pub search: Arc<dyn SearchIndexer>,
    /// Consulted only when an account denies AssumeRole.
    pub directory: Arc<dyn AccountDirectory>,
}

/// What the pipeline needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub partition: Partition,
    /// Which senders the decoder believes (topics, delegated administrators).
    pub provenance: decode::Provenance,
    pub index_prefix: String,
    pub bulk_max_bytes: usize,
    pub max_concurrency: usize,
    /// How long a ledger claim lives. The claimant's object writes and marks
    /// must end within half of it; past it, the claimant is taken for dead
    /// and the versions are checked or taken over. Keep it below the queue's
    /// visibility timeout, so a redelivery after a crash finds it expired.
    pub claim_ttl: Duration,
}

/// The deployed claim life: the object writes of a batch take well under a
/// second, and a redelivery comes after the 390 s visibility timeout.
pub const DEFAULT_CLAIM_TTL: Duration = Duration::from_secs(60);

impl Settings {
    /// The latest-state index of a finding class: one document per finding,
    /// newest version wins (`<prefix>-findings` for Vulnerability Findings).
    pub fn index_of(&self, class: FindingClass) -> String {
        crate::search::template::latest_name(&self.index_prefix, class)
    }
    /// The history write alias of a finding class: one document per
    /// finding version (`<latest>-history`, over `<latest>-history-000001`...).
    pub fn history_alias_of(&self, class: FindingClass) -> String {
        crate::search::template::history_alias(&self.index_of(class))
    }
    /// The pipeline-health index: one document per quarantined message.
    pub fn quarantine_index(&self) -> String {
        format!("{}-quarantine", self.index_prefix)
    }
    /// The archive ledger: one document per archived finding version.
    pub fn ledger_index(&self) -> String {
        format!("{}-ledger", self.index_prefix)
    }
}

pub struct Collector {
    settings: Settings,
    ports: Ports,
    /// Index templates installed by this process, per finding class.
    class_templates: BTreeMap<FindingClass, OnceCell<()>>,
    ledger_template: OnceCell<()>,
    quarantine_template: OnceCell<()>,
}

/// What happened to a batch, for the handler's answer and the logs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchReport {
    pub received: usize,
    /// Message ids to report in `batchItemFailures`.
    pub failed_message_ids: Vec<String>,
    /// Finding versions newly written to the index and the archive.
    pub findings_stored: usize,
    /// Finding versions found already archived (a redelivery).
    pub findings_already_stored: usize,
    pub lifecycle_acknowledged: usize,
    /// Notifications from accounts outside the organization, acknowledged.
    pub outsiders: usize,
    /// Finding versions another invocation was archiving: retried later.
    pub findings_claimed_elsewhere: usize,
    pub objects_written: usize,
    /// Quarantined messages per reason.
    pub quarantined: BTreeMap<String, usize>,
    /// Quarantined messages whose pipeline-health document could not be
    /// indexed (the quarantine object is written all the same).
    pub quarantine_health_failed: usize,
    /// Stored findings per enrichment status.
    pub enrichment: BTreeMap<String, usize>,
}

impl Collector {
    pub fn new(settings: Settings, ports: Ports) -> Self {
        Self {
            settings,
            ports,
            class_templates: FindingClass::ALL
                .into_iter()
                .map(|class| (class, OnceCell::new()))
                .collect(),
            ledger_template: OnceCell::new(),
            quarantine_template: OnceCell::new(),
        }
    }

    /// Processes one batch. Never fails as a whole: every message gets a fate,
    /// and the ones to retry are listed in the report. Every outside call
    /// ends before `deadline`.
    pub async fn process_batch(
        &self,
        messages: Vec<InboundMessage>,
        deadline: Instant,
    ) -> BatchReport {
        let settings = &self.settings;
        let mut fates = Fates::default();
        let mut report = BatchReport {
            received: messages.len(),
            ..Default::default()
        };

        let decoded = intake::decode(&messages, &settings.provenance, &mut fates);
        let groups = intake::group_by_origin(decoded);
        let resolved = self.resolve(groups, deadline, &mut fates).await;
        let records = normalize::enrich_and_normalize(
            resolved,
            &settings.partition,
            chrono::Utc::now(),
            &mut fates,
        );
        self.store(&records, deadline, &mut fates, &mut report)
            .await;
        self.quarantine(&messages, deadline, &mut fates, &mut report)
            .await;
        fate::settle(&messages, &fates, &mut report);
        report
    }
}
