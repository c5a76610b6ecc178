//! The collector's pipeline over one batch of queue messages.
//!
//! decode → group by (account, region) → resolve (session, Classic details)
//! → enrich (one DescribeInstances + one DescribeSecurityGroups per group)
//! → normalize → store.
//!
//! Storing keeps S3 and the index exactly-once under redelivery, concurrent
//! invocations and crashes ([`Collector::store`], [`crate::ledger`]):
//! 1. one `_mget` on the ledger: archived versions are done, versions another
//!    invocation is archiving are retried later, stale claims are checked;
//! 2. the latest-state index takes the rest with external versioning (an
//!    older version can never replace a newer one);
//! 3. what the index accepted is planned into archive objects, one per
//!    (account, region, day), named from their content;
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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::archive;
use crate::decode::{self, InboundMessage, Notification};
use crate::enrich::{self, EnrichmentOutcome, EnrichmentStatus, FaninContext, InstanceLookup};
use crate::ids::{ClassicFindingArn, Partition};
use crate::ledger::{self, LedgerDocument, Standing};
use crate::model::SecurityGroupRecord;
use crate::normalize::{EnrichmentTarget, FindingRecord, Origin, SourceFinding};
use crate::ports::{
    AccountDirectory, AccountSession, CLASSIC_DESCRIBE_LIMIT, CallError, ClassicFindingsSource,
    NetworkInventory, ObjectKind, ObjectStore, SearchIndexer, SessionProvider,
};
use crate::quarantine::{self, QuarantineReason};
use crate::retry::{self, Backoff, RetryPolicy};
use crate::search::bulk::{self, BulkOp, ItemOutcome};
use crate::search::template;

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
    /// Which senders the decoder believes (topics, Inspector2 administrators).
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
    /// The latest-state index: one document per finding, newest version wins.
    fn findings_index(&self) -> String {
        format!("{}-findings", self.index_prefix)
    }
    /// The archive ledger: one document per archived finding version.
    fn ledger_index(&self) -> String {
        format!("{}-ledger", self.index_prefix)
    }
}

pub struct Collector {
    settings: Settings,
    ports: Ports,
    templates_installed: tokio::sync::OnceCell<()>,
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
    /// Stored findings per enrichment status.
    pub enrichment: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Fate {
    Done,
    /// A Classic lifecycle event.
    Acknowledged,
    /// A notification about an account outside the organization.
    Outsider,
    Quarantine(QuarantineReason),
    Retry(RetryCause),
}

/// Why a message goes back to the queue; kept typed until it is logged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum RetryCause {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("bulk item: {0}")]
    BulkItem(String),
    #[error("bulk item refused: {0}")]
    LedgerRefused(String),
    #[error("another invocation is archiving this finding version")]
    ClaimedElsewhere,
    #[error("DescribeFindings failedItems: {0} (retryable: true)")]
    ClassicRetryable(String),
    #[error("DescribeFindings did not answer for the ARN")]
    ClassicNotAnswered,
}

/// A normalized finding version and the messages that carried it.
struct Carried {
    record: FindingRecord,
    message_ids: Vec<String>,
}

#[derive(Default)]
struct GroupWork {
    classic: BTreeMap<String, (ClassicFindingArn, Vec<String>)>,
    complete: Vec<(SourceFinding, String)>,
}

#[derive(Default)]
struct GroupOutcome {
    records: Vec<Carried>,
    fates: Vec<(String, Fate)>,
}

/// A finding version on its way to storage, and how its ledger claim is made.
struct Pending<'a> {
    carried: &'a Carried,
    /// `Some` when a stale claim is taken over: the `(seq_no, primary_term)`
    /// it was read with.
    takeover: Option<(i64, i64)>,
}

/// One planned archive object and the positions (into the pending list) of
/// the versions it holds.
struct PlannedObject {
    key: String,
    body: Vec<u8>,
    positions: Vec<usize>,
}

impl Collector {
    pub fn new(settings: Settings, ports: Ports) -> Self {
        Self {
            settings,
            ports,
            templates_installed: tokio::sync::OnceCell::new(),
        }
    }

    /// Processes one batch. Never fails as a whole: every message gets a fate,
    /// and the ones to retry are listed in the report. Every outside call
    /// ends before `deadline`.
    pub async fn process(&self, messages: Vec<InboundMessage>, deadline: Instant) -> BatchReport {
        let mut report = BatchReport {
            received: messages.len(),
            ..Default::default()
        };
        let mut fates: HashMap<String, Fate> = HashMap::new();
        let mut groups: BTreeMap<Origin, GroupWork> = BTreeMap::new();

        for message in &messages {
            match self.decode_one(message) {
                Ok(Decoded::Lifecycle(event)) => {
                    info!(message_id = %message.message_id, event = %event, "classic lifecycle event acknowledged");
                    fates.insert(message.message_id.clone(), Fate::Acknowledged);
                }
                Ok(Decoded::Classic(origin, arn)) => {
                    let entry = groups.entry(origin).or_default();
                    entry
                        .classic
                        .entry(arn.as_str().to_owned())
                        .or_insert_with(|| (arn, Vec::new()))
                        .1
                        .push(message.message_id.clone());
                }
                Ok(Decoded::Complete(origin, finding)) => {
                    groups
                        .entry(origin)
                        .or_default()
                        .complete
                        .push((finding, message.message_id.clone()));
                }
                Err(reason) => {
                    fates.insert(message.message_id.clone(), Fate::Quarantine(reason));
                }
            }
        }

        let outcomes: Vec<GroupOutcome> = futures::stream::iter(groups)
            .map(|(origin, work)| self.resolve_group(origin, work, deadline))
            .buffer_unordered(self.settings.max_concurrency)
            .collect()
            .await;

        // One finding version carried by several messages is stored once.
        let mut carried: BTreeMap<String, Carried> = BTreeMap::new();
        for outcome in outcomes {
            fates.extend(outcome.fates);
            for item in outcome.records {
                match carried.get_mut(&item.record.version_uid) {
                    Some(existing) => existing.message_ids.extend(item.message_ids),
                    None => {
                        carried.insert(item.record.version_uid.clone(), item);
                    }
                }
            }
        }
        let records: Vec<Carried> = carried.into_values().collect();
        self.store(&records, deadline, &mut fates, &mut report)
            .await;
        self.quarantine_all(&messages, deadline, &mut fates).await;

        for message in &messages {
            let message_id = &message.message_id;
            match fates.get(message_id) {
                Some(Fate::Done) => {}
                Some(Fate::Acknowledged) => report.lifecycle_acknowledged += 1,
                Some(Fate::Outsider) => report.outsiders += 1,
                Some(Fate::Quarantine(reason)) => {
                    *report.quarantined.entry(reason.code()).or_default() += 1
                }
                Some(Fate::Retry(cause)) => {
                    warn!(message_id = %message_id, reason = %cause, "message will be retried");
                    report.failed_message_ids.push(message_id.clone());
                }
                None => {
                    warn!(message_id = %message_id, "message without a fate; retrying it");
                    report.failed_message_ids.push(message_id.clone());
                }
            }
        }
        report
    }

    fn decode_one(&self, message: &InboundMessage) -> Result<Decoded, QuarantineReason> {
        // Provenance and partition are checked by the decoder itself.
        let notification = decode::decode(&message.body, &self.settings.provenance)
            .map_err(QuarantineReason::Decode)?;
        match notification {
            Notification::ClassicLifecycle { event } => Ok(Decoded::Lifecycle(event)),
            Notification::ClassicFinding { finding_arn } => {
                let arn = finding_arn.arn();
                let origin = Origin {
                    account: arn.account.clone(),
                    region: arn.region.clone(),
                };
                Ok(Decoded::Classic(origin, finding_arn))
            }
            Notification::Inspector2Finding(event) => {
                let origin = Origin {
                    account: event.account,
                    region: event.region,
                };
                Ok(Decoded::Complete(
                    origin,
                    SourceFinding::Inspector2(Box::new(event.finding)),
                ))
            }
        }
    }

    /// Session, Classic details and enrichment for one (account, region).
    async fn resolve_group(
        &self,
        origin: Origin,
        work: GroupWork,
        deadline: Instant,
    ) -> GroupOutcome {
        let mut outcome = GroupOutcome::default();
        let all_message_ids: Vec<String> = work
            .classic
            .values()
            .flat_map(|(_, ids)| ids.iter().cloned())
            .chain(work.complete.iter().map(|(_, id)| id.clone()))
            .collect();
        let needs_session = !work.classic.is_empty()
            || work
                .complete
                .iter()
                .any(|(f, _)| matches!(f.enrichment_target(), EnrichmentTarget::Instance(_)));

        let (session, role_problem) = if needs_session {
            match retry::within(
                "AssumeRole",
                deadline,
                self.ports.sessions.session(&origin.account),
            )
            .await
            {
                Ok(session) => (Some(session), None),
                Err(error) if error.is_transient() => {
                    warn!(account_id = %origin.account, region = %origin.region, error = %error, "assume role failed; retrying the group");
                    retry_all(&mut outcome, &all_message_ids, &error);
                    return outcome;
                }
                // A malformed request (bad role name, duration) is a
                // configuration error: retry, so it ends in the DLQ and its
                // alarm instead of marking every finding role_unavailable.
                Err(error @ CallError::Rejected { .. }) => {
                    warn!(account_id = %origin.account, error = %error, "assume role rejected; retrying the group");
                    retry_all(&mut outcome, &all_message_ids, &error);
                    return outcome;
                }
                Err(error) => {
                    match retry::within(
                        "AccountDirectory",
                        deadline,
                        self.ports.directory.is_member(&origin.account),
                    )
                    .await
                    {
                        // Anyone can subscribe a template to the central
                        // topic: not ours to fix, not an alarm.
                        Ok(Some(false)) => {
                            for id in all_message_ids {
                                outcome.fates.push((id, Fate::Outsider));
                            }
                            return outcome;
                        }
                        Ok(_) => {}
                        Err(lookup) => {
                            retry_all(&mut outcome, &all_message_ids, &lookup);
                            return outcome;
                        }
                    }
                    warn!(account_id = %origin.account, error = %error, "role cannot be assumed");
                    (None, Some(error))
                }
            }
        } else {
            (None, None)
        };

        let mut findings: Vec<(SourceFinding, Vec<String>)> = work
            .complete
            .into_iter()
            .map(|(finding, id)| (finding, vec![id]))
            .collect();
        match (&session, &role_problem) {
            (Some(session), _) => {
                let classic: Vec<_> = work.classic.into_values().collect();
                self.fetch_classic(
                    session,
                    &origin,
                    classic,
                    deadline,
                    &mut findings,
                    &mut outcome,
                )
                .await;
            }
            (None, problem) => {
                // Without the role, Classic findings cannot be fetched: set
                // them aside to replay once the role is deployed.
                for (_, ids) in work.classic.into_values() {
                    for id in ids {
                        let cause = problem.clone().unwrap_or_else(|| {
                            CallError::transient("AssumeRole", "NoSession", "no session")
                        });
                        outcome.fates.push((
                            id,
                            Fate::Quarantine(QuarantineReason::RoleUnavailable(cause)),
                        ));
                    }
                }
            }
        }

        let instance_ids: BTreeSet<String> = findings
            .iter()
            .filter_map(|(f, _)| match f.enrichment_target() {
                EnrichmentTarget::Instance(id) => Some(id),
                _ => None,
            })
            .collect();
        // The messages of the findings resolved so far: what an inventory
        // outage sends back to the queue.
        let carried_ids: Vec<String> = findings.iter().flat_map(|(_, ids)| ids.clone()).collect();
        let mut inventory_problem: Option<(EnrichmentStatus, String)> =
            role_problem.map(|p| (EnrichmentStatus::RoleUnavailable, p.to_string()));
        let mut instances = HashMap::new();
        let mut groups: HashMap<String, SecurityGroupRecord> = HashMap::new();
        if let (Some(session), false) = (&session, instance_ids.is_empty()) {
            let ids: Vec<String> = instance_ids.into_iter().collect();
            match retry::within(
                "DescribeInstances",
                deadline,
                self.ports
                    .inventory
                    .describe_instances(session, &origin.region, &ids),
            )
            .await
            {
                Ok(found) => {
                    instances = found
                        .into_iter()
                        .map(|i| (i.instance_id.clone(), i))
                        .collect::<HashMap<_, _>>()
                }
                Err(error) if error.is_transient() => {
                    retry_all(&mut outcome, &carried_ids, &error);
                    return outcome;
                }
                Err(error) => {
                    inventory_problem = Some((EnrichmentStatus::Ec2AccessDenied, error.to_string()))
                }
            }
            let mut group_ids: BTreeSet<String> = BTreeSet::new();
            let reported: Vec<_> = findings.iter().map(|(f, _)| f.reported_network()).collect();
            let interfaces = instances
                .values()
                .flat_map(|i| i.interfaces.iter())
                .chain(reported.iter().flat_map(|r| r.interfaces.iter()));
            for interface in interfaces {
                group_ids.extend(interface.security_groups.iter().map(|g| g.id.clone()));
            }
            if inventory_problem.is_none() && !group_ids.is_empty() {
                let ids: Vec<String> = group_ids.into_iter().collect();
                match retry::within(
                    "DescribeSecurityGroups",
                    deadline,
                    self.ports
                        .inventory
                        .describe_security_groups(session, &origin.region, &ids),
                )
                .await
                {
                    Ok(found) => {
                        groups = found.into_iter().map(|g| (g.group_id.clone(), g)).collect()
                    }
                    Err(error) if error.is_transient() => {
                        retry_all(&mut outcome, &carried_ids, &error);
                        return outcome;
                    }
                    // Rules stay unknown (`rules_known: false`); the rest is kept.
                    Err(error) => {
                        warn!(account_id = %origin.account, region = %origin.region, error = %error, "security groups not readable")
                    }
                }
            }
        }

        for (finding, message_ids) in findings {
            let context =
                self.context_for(&finding, &instances, &groups, inventory_problem.as_ref());
            match FindingRecord::new(
                &finding,
                origin.clone(),
                &self.settings.partition,
                context,
                chrono::Utc::now(),
            ) {
                Ok(record) => outcome.records.push(Carried {
                    record,
                    message_ids,
                }),
                Err(error) => {
                    let reason = QuarantineReason::Normalize(error);
                    for id in message_ids {
                        outcome.fates.push((id, Fate::Quarantine(reason.clone())));
                    }
                }
            }
        }
        outcome
    }

    async fn fetch_classic(
        &self,
        session: &AccountSession,
        origin: &Origin,
        classic: Vec<(ClassicFindingArn, Vec<String>)>,
        deadline: Instant,
        findings: &mut Vec<(SourceFinding, Vec<String>)>,
        outcome: &mut GroupOutcome,
    ) {
        for chunk in classic.chunks(CLASSIC_DESCRIBE_LIMIT) {
            let arns: Vec<String> = chunk
                .iter()
                .map(|(arn, _)| arn.as_str().to_owned())
                .collect();
            let ids_of = |arn: &str| {
                chunk
                    .iter()
                    .find(|(a, _)| a.as_str() == arn)
                    .map(|(_, ids)| ids.clone())
                    .unwrap_or_default()
            };
            let described = match retry::within(
                "DescribeFindings",
                deadline,
                self.ports
                    .classic
                    .describe_findings(session, &origin.region, &arns),
            )
            .await
            {
                Ok(described) => described,
                Err(error) => {
                    let ids: Vec<String> = chunk.iter().flat_map(|(_, ids)| ids.clone()).collect();
                    if error.is_transient() {
                        retry_all(outcome, &ids, &error);
                    } else {
                        let reason = match &error {
                            CallError::Denied { .. } => {
                                QuarantineReason::InspectorAccessDenied(error.clone())
                            }
                            _ => QuarantineReason::InspectorRejected(error.clone()),
                        };
                        for id in ids {
                            outcome.fates.push((id, Fate::Quarantine(reason.clone())));
                        }
                    }
                    continue;
                }
            };
            let mut answered = HashSet::new();
            for finding in described.findings {
                answered.insert(finding.arn.clone());
                let ids = ids_of(&finding.arn);
                if ids.is_empty() {
                    continue;
                }
                findings.push((SourceFinding::Classic(Box::new(finding)), ids));
            }
            for failed in described.failed {
                answered.insert(failed.arn.clone());
                for id in ids_of(&failed.arn) {
                    let fate = if failed.retryable {
                        Fate::Retry(RetryCause::ClassicRetryable(failed.failure_code.clone()))
                    } else {
                        Fate::Quarantine(QuarantineReason::ClassicFailedItem {
                            failure_code: failed.failure_code.clone(),
                        })
                    };
                    outcome.fates.push((id, fate));
                }
            }
            for (arn, ids) in chunk {
                if !answered.contains(arn.as_str()) {
                    for id in ids {
                        outcome
                            .fates
                            .push((id.clone(), Fate::Retry(RetryCause::ClassicNotAnswered)));
                    }
                }
            }
        }
    }

    fn context_for(
        &self,
        finding: &SourceFinding,
        instances: &HashMap<String, crate::model::InstanceRecord>,
        groups: &HashMap<String, SecurityGroupRecord>,
        problem: Option<&(EnrichmentStatus, String)>,
    ) -> FaninContext {
        let bare = |status, reason: Option<String>| FaninContext {
            source: finding.source_name(),
            enrichment: EnrichmentOutcome { status, reason },
            instance: None,
            network: None,
            details: BTreeMap::new(),
        };
        match finding.enrichment_target() {
            EnrichmentTarget::NotApplicable(kind) => bare(
                EnrichmentStatus::NotApplicable,
                Some(format!("{kind} resources have no EC2 network context")),
            ),
            EnrichmentTarget::NoInstance => bare(EnrichmentStatus::NoInstance, None),
            EnrichmentTarget::Instance(id) => {
                let lookup = match problem {
                    Some((status, reason)) => InstanceLookup::Unavailable(*status, reason),
                    None => match instances.get(&id) {
                        Some(record) => InstanceLookup::Found(record),
                        None => InstanceLookup::NotFound,
                    },
                };
                let (enrichment, instance, network) =
                    enrich::enrich(&id, lookup, groups, &finding.reported_network());
                FaninContext {
                    source: finding.source_name(),
                    enrichment,
                    instance: Some(instance),
                    network,
                    details: BTreeMap::new(),
                }
            }
        }
    }

    /// Index, archive and record the finding versions of the batch (see the
    /// module doc for the steps and [`crate::ledger`] for the claims).
    async fn store(
        &self,
        records: &[Carried],
        deadline: Instant,
        fates: &mut HashMap<String, Fate>,
        report: &mut BatchReport,
    ) {
        if records.is_empty() {
            return;
        }
        let everything: Vec<&Carried> = records.iter().collect();
        if let Err(error) =
            retry::within("PutIndexTemplate", deadline, self.ensure_templates()).await
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
        let now = chrono::Utc::now();
        let mut pending: Vec<Pending> = Vec::new();
        let mut stale: BTreeMap<String, Vec<(&Carried, i64, i64)>> = BTreeMap::new();
        for carried in records {
            match ledger::standing(entries.get(&carried.record.version_uid), now) {
                Standing::Unclaimed => pending.push(Pending {
                    carried,
                    takeover: None,
                }),
                Standing::Archived => {
                    report.findings_already_stored += 1;
                    set_fate(fates, &[carried], Fate::Done);
                }
                Standing::ClaimedElsewhere => {
                    report.findings_claimed_elsewhere += 1;
                    set_fate(fates, &[carried], Fate::Retry(RetryCause::ClaimedElsewhere));
                }
                Standing::Stale {
                    archive_key,
                    seq_no,
                    primary_term,
                } => stale
                    .entry(archive_key)
                    .or_default()
                    .push((carried, seq_no, primary_term)),
            }
        }

        // A stale claim whose object exists lost only its archived mark.
        let mut marks: Vec<BulkOp> = Vec::new();
        let checks = stale.into_iter().map(|(key, claims)| async move {
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
                        marks.push(archived_mark(&ledger_index, carried, &key));
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

        // 2. The latest-state index. Serialized once, shared with the archive.
        let documents: Vec<Arc<str>> = pending
            .iter()
            .map(|p| {
                serde_json::to_string(&p.carried.record.record)
                    .expect("OCSF records serialize")
                    .into()
            })
            .collect();
        let findings_index = self.settings.findings_index();
        let index_ops: Vec<BulkOp> = pending
            .iter()
            .zip(&documents)
            .map(|(p, document)| BulkOp::IndexLatest {
                index: findings_index.clone(),
                id: p.carried.record.document_id.clone(),
                version: p.carried.record.version,
                document: document.clone(),
            })
            .collect();
        let mut indexed: Vec<usize> = Vec::new();
        for (position, outcome) in self
            .bulk_with_retry(&index_ops, deadline)
            .await
            .into_iter()
            .enumerate()
        {
            let carried = pending[position].carried;
            match outcome {
                // 409: the index holds this version or a newer one.
                ItemOutcome::Done | ItemOutcome::Conflict => indexed.push(position),
                ItemOutcome::Retry(why) => {
                    set_fate(fates, &[carried], Fate::Retry(RetryCause::BulkItem(why)))
                }
                ItemOutcome::Permanent(why) => set_fate(
                    fates,
                    &[carried],
                    Fate::Quarantine(QuarantineReason::IndexRejected(why)),
                ),
            }
        }

        // 3. Plan the archive objects, 4. claim their versions.
        let objects = plan_objects(&pending, &documents, &indexed);
        let claim_ttl = self.settings.claim_ttl;
        let expires = chrono::Utc::now()
            + chrono::Duration::from_std(claim_ttl)
                .unwrap_or_else(|_| chrono::Duration::minutes(1));
        let write_deadline = deadline.min(Instant::now() + claim_ttl / 2);
        let mut claim_ops = Vec::new();
        let mut claim_positions = Vec::new();
        for object in &objects {
            for &position in &object.positions {
                let record = &pending[position].carried.record;
                let document: Arc<str> = LedgerDocument::claim(
                    &record.finding_uid,
                    record.version,
                    &object.key,
                    expires,
                )
                .to_json()
                .into();
                let id = record.version_uid.clone();
                let index = ledger_index.clone();
                claim_ops.push(match pending[position].takeover {
                    None => BulkOp::CreateOnce {
                        index,
                        id,
                        document,
                    },
                    Some((seq_no, primary_term)) => BulkOp::ReplaceIfUnchanged {
                        index,
                        id,
                        seq_no,
                        primary_term,
                        document,
                    },
                });
                claim_positions.push(position);
            }
        }
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
        // An object with a version claimed elsewhere would be named for
        // content it does not hold: its won claims are released and retried,
        // to be archived once the other invocation is done (a rare race).
        let (complete, partial): (Vec<PlannedObject>, Vec<PlannedObject>) = objects
            .into_iter()
            .partition(|o| o.positions.iter().all(|p| won.contains(p)));
        let mut releases: Vec<BulkOp> = Vec::new();
        for object in &partial {
            for position in object.positions.iter().filter(|p| won.contains(p)) {
                let carried = pending[*position].carried;
                releases.push(release(&ledger_index, carried));
                set_fate(fates, &[carried], Fate::Retry(RetryCause::ClaimedElsewhere));
            }
        }
        let writes = complete.into_iter().map(|object| async move {
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
                        let status = item.record.record.unmapped.fanin.enrichment.status;
                        *report
                            .enrichment
                            .entry(status.as_str().to_owned())
                            .or_default() += 1;
                        marks.push(archived_mark(&ledger_index, item, &key));
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
                    releases.extend(items.iter().map(|item| release(&ledger_index, item)));
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

    async fn ensure_templates(&self) -> Result<(), CallError> {
        self.templates_installed
            .get_or_try_init(|| async {
                let prefix = &self.settings.index_prefix;
                self.ports
                    .search
                    .install_template(
                        &self.settings.findings_index(),
                        &template::index_template(prefix),
                    )
                    .await?;
                self.ports
                    .search
                    .install_template(
                        &self.settings.ledger_index(),
                        &template::ledger_template(prefix),
                    )
                    .await
            })
            .await
            .map(|_| ())
    }

    /// Sends ops in size-capped bulk requests and retries the items worth
    /// retrying, with backoff, within the deadline. A request the cluster
    /// refuses as a whole (400: one item makes the body invalid) is split in
    /// halves until the item at fault is alone: it alone is `Permanent`.
    async fn bulk_with_retry(&self, ops: &[BulkOp], deadline: Instant) -> Vec<ItemOutcome> {
        let mut outcomes: Vec<ItemOutcome> = vec![ItemOutcome::Retry("not sent".into()); ops.len()];
        let mut pending: Vec<usize> = (0..ops.len()).collect();
        let mut backoff = Backoff::new(RetryPolicy::BULK_ITEMS, deadline);
        loop {
            let mut requests: VecDeque<Vec<usize>> = bulk::encode(
                pending.iter().map(|&i| &ops[i]),
                self.settings.bulk_max_bytes,
            )
            .into_iter()
            .map(|chunk| chunk.ops.iter().map(|&p| pending[p]).collect())
            .collect();
            while let Some(targets) = requests.pop_front() {
                let body: Vec<u8> = bulk::encode(targets.iter().map(|&i| &ops[i]), usize::MAX)
                    .into_iter()
                    .flat_map(|chunk| chunk.body)
                    .collect();
                match retry::within("Bulk", deadline, self.ports.search.bulk(body)).await {
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
                        requests.push_front(right.to_vec());
                        requests.push_front(left.to_vec());
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

    async fn quarantine_all(
        &self,
        messages: &[InboundMessage],
        deadline: Instant,
        fates: &mut HashMap<String, Fate>,
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
        for (message_id, reason, key, result) in written {
            match result {
                Ok(()) => {
                    warn!(message_id = %message_id, reason = %reason, key = %key, "message quarantined")
                }
                Err(error) => {
                    warn!(message_id = %message_id, reason = %reason, error = %error, "quarantine write failed; retrying");
                    fates.insert(message_id, Fate::Retry(error.into()));
                }
            }
        }
    }
}

enum Decoded {
    Lifecycle(String),
    Classic(Origin, ClassicFindingArn),
    Complete(Origin, SourceFinding),
}

fn retry_all(outcome: &mut GroupOutcome, message_ids: &[String], error: &CallError) {
    for id in message_ids {
        outcome
            .fates
            .push((id.clone(), Fate::Retry(error.clone().into())));
    }
}

fn set_fate(fates: &mut HashMap<String, Fate>, items: &[&Carried], fate: Fate) {
    for item in items {
        for id in &item.message_ids {
            fates.insert(id.clone(), fate.clone());
        }
    }
}

/// Groups the indexed versions into one archive object per
/// (account, region, day). Pure.
fn plan_objects(
    pending: &[Pending],
    documents: &[Arc<str>],
    indexed: &[usize],
) -> Vec<PlannedObject> {
    let mut partitions: BTreeMap<(&Origin, chrono::NaiveDate), Vec<usize>> = BTreeMap::new();
    for &position in indexed {
        let record = &pending[position].carried.record;
        partitions
            .entry((&record.origin, record.event_day))
            .or_default()
            .push(position);
    }
    partitions
        .into_iter()
        .map(|((origin, day), positions)| {
            let lines: Vec<&str> = positions.iter().map(|&p| &*documents[p]).collect();
            let object = archive::encode(&origin.account, &origin.region, day, &lines);
            PlannedObject {
                key: object.key,
                body: object.body,
                positions,
            }
        })
        .collect()
}

fn archived_mark(ledger_index: &str, carried: &Carried, key: &str) -> BulkOp {
    let record = &carried.record;
    BulkOp::Put {
        index: ledger_index.to_owned(),
        id: record.version_uid.clone(),
        document: LedgerDocument::archived(&record.finding_uid, record.version, key)
            .to_json()
            .into(),
    }
}

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

fn release(ledger_index: &str, carried: &Carried) -> BulkOp {
    BulkOp::Delete {
        index: ledger_index.to_owned(),
        id: carried.record.version_uid.clone(),
    }
}
