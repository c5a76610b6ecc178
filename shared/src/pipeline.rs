//! The collector's pipeline over one batch of queue messages.
//!
//! decode → group by (account, region) → resolve (session, Classic details)
//! → enrich (one DescribeInstances + one DescribeSecurityGroups per group)
//! → normalize → store.
//!
//! Storing keeps S3 and the index exactly-once under redelivery:
//! 1. one `_mget` on the ledger index skips versions already archived;
//! 2. the latest-state index takes the rest with external versioning (an
//!    older version can never replace a newer one);
//! 3. what the index accepted is archived to S3, one object per
//!    (account, region, day), named from its content;
//! 4. the archived versions are recorded in the ledger.
//!
//! Every message ends in exactly one fate: done, acknowledged (lifecycle
//! event), quarantined with its reason, or retried (reported in
//! `batchItemFailures`). Only transient failures are retried.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::archive;
use crate::decode::{self, InboundMessage, Notification};
use crate::enrich::{self, EnrichmentOutcome, EnrichmentStatus, FaninContext, InstanceLookup};
use crate::ids::{ClassicFindingArn, Partition};
use crate::model::SecurityGroupRecord;
use crate::normalize::{EnrichmentTarget, FindingRecord, Origin, SourceFinding};
use crate::ports::{
    AccountSession, CLASSIC_DESCRIBE_LIMIT, CallError, ClassicFindingsSource, NetworkInventory,
    ObjectKind, ObjectWriter, SearchIndexer, SessionProvider,
};
use crate::quarantine;
use crate::retry::{Backoff, RetryPolicy};
use crate::search::bulk::{self, BulkOp, ItemOutcome};
use crate::search::template;

/// The outside systems the pipeline uses.
#[derive(Clone)]
pub struct Ports {
    pub sessions: Arc<dyn SessionProvider>,
    pub classic: Arc<dyn ClassicFindingsSource>,
    pub inventory: Arc<dyn NetworkInventory>,
    pub objects: Arc<dyn ObjectWriter>,
    pub search: Arc<dyn SearchIndexer>,
}

/// What the pipeline needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub partition: Partition,
    pub index_prefix: String,
    pub bulk_max_bytes: usize,
    pub max_concurrency: usize,
}

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
    pub objects_written: usize,
    /// Quarantined messages per reason.
    pub quarantined: BTreeMap<String, usize>,
    /// Stored findings per enrichment status.
    pub enrichment: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Fate {
    Done,
    Acknowledged,
    Quarantine { reason: String, detail: String },
    Retry(String),
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

impl Collector {
    pub fn new(settings: Settings, ports: Ports) -> Self {
        Self {
            settings,
            ports,
            templates_installed: tokio::sync::OnceCell::new(),
        }
    }

    /// Processes one batch. Never fails as a whole: every message gets a fate,
    /// and the ones to retry are listed in the report. `deadline` bounds the
    /// time spent retrying bulk items.
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
                Err((reason, detail)) => {
                    fates.insert(
                        message.message_id.clone(),
                        Fate::Quarantine { reason, detail },
                    );
                }
            }
        }

        let outcomes: Vec<GroupOutcome> = futures::stream::iter(groups)
            .map(|(origin, work)| self.resolve_group(origin, work))
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
        self.quarantine_all(&messages, &mut fates).await;

        for message in &messages {
            match fates.get(&message.message_id) {
                Some(Fate::Done) | Some(Fate::Acknowledged) => {}
                Some(Fate::Quarantine { reason, .. }) => {
                    *report.quarantined.entry(reason.clone()).or_default() += 1
                }
                Some(Fate::Retry(why)) => {
                    warn!(message_id = %message.message_id, reason = %why, "message will be retried");
                    report.failed_message_ids.push(message.message_id.clone());
                }
                None => {
                    warn!(message_id = %message.message_id, "message without a fate; retrying it");
                    report.failed_message_ids.push(message.message_id.clone());
                }
            }
        }
        report.lifecycle_acknowledged =
            fates.values().filter(|f| **f == Fate::Acknowledged).count();
        report
    }

    fn decode_one(&self, message: &InboundMessage) -> Result<Decoded, (String, String)> {
        let notification = decode::decode(&message.body)
            .map_err(|e| (e.reason_code().to_owned(), e.to_string()))?;
        let foreign = |partition: &Partition| {
            (
                "foreign_partition".to_owned(),
                format!(
                    "finding is from partition {partition}, the collector serves {}",
                    self.settings.partition
                ),
            )
        };
        match notification {
            Notification::ClassicLifecycle { event } => Ok(Decoded::Lifecycle(event)),
            Notification::ClassicFinding { finding_arn } => {
                let arn = finding_arn.arn();
                if arn.partition != self.settings.partition {
                    return Err(foreign(&arn.partition));
                }
                let origin = Origin {
                    account: arn.account.clone(),
                    region: arn.region.clone(),
                };
                Ok(Decoded::Classic(origin, finding_arn))
            }
            Notification::Inspector2Finding(event) => {
                if event.arn.partition != self.settings.partition {
                    return Err(foreign(&event.arn.partition));
                }
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
    async fn resolve_group(&self, origin: Origin, work: GroupWork) -> GroupOutcome {
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
            match self.ports.sessions.session(&origin.account).await {
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
                    warn!(account_id = %origin.account, error = %error, "role cannot be assumed");
                    (None, Some(error.to_string()))
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
                self.fetch_classic(session, &origin, classic, &mut findings, &mut outcome)
                    .await;
            }
            (None, problem) => {
                // Without the role, Classic findings cannot be fetched: set
                // them aside to replay once the role is deployed.
                let detail = problem.clone().unwrap_or_default();
                for (_, ids) in work.classic.into_values() {
                    for id in ids {
                        outcome.fates.push((
                            id,
                            Fate::Quarantine {
                                reason: "role_unavailable".into(),
                                detail: detail.clone(),
                            },
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
            role_problem.map(|p| (EnrichmentStatus::RoleUnavailable, p));
        let mut instances = HashMap::new();
        let mut groups: HashMap<String, SecurityGroupRecord> = HashMap::new();
        if let (Some(session), false) = (&session, instance_ids.is_empty()) {
            let ids: Vec<String> = instance_ids.into_iter().collect();
            match self
                .ports
                .inventory
                .describe_instances(session, &origin.region, &ids)
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
                match self
                    .ports
                    .inventory
                    .describe_security_groups(session, &origin.region, &ids)
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
            let record =
                FindingRecord::new(&finding, origin.clone(), &self.settings.partition, context);
            outcome.records.push(Carried {
                record,
                message_ids,
            });
        }
        outcome
    }

    async fn fetch_classic(
        &self,
        session: &AccountSession,
        origin: &Origin,
        classic: Vec<(ClassicFindingArn, Vec<String>)>,
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
            let described = match self
                .ports
                .classic
                .describe_findings(session, &origin.region, &arns)
                .await
            {
                Ok(described) => described,
                Err(error) => {
                    let ids: Vec<String> = chunk.iter().flat_map(|(_, ids)| ids.clone()).collect();
                    if error.is_transient() {
                        retry_all(outcome, &ids, &error);
                    } else {
                        let reason = match &error {
                            CallError::Denied { .. } => "inspector_access_denied",
                            _ => "inspector_rejected",
                        };
                        for id in ids {
                            outcome.fates.push((
                                id,
                                Fate::Quarantine {
                                    reason: reason.into(),
                                    detail: error.to_string(),
                                },
                            ));
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
                let detail = format!(
                    "DescribeFindings failedItems: {} (retryable: {})",
                    failed.failure_code, failed.retryable
                );
                for id in ids_of(&failed.arn) {
                    let fate = if failed.retryable {
                        Fate::Retry(detail.clone())
                    } else {
                        Fate::Quarantine {
                            reason: format!("classic_{}", failed.failure_code.to_ascii_lowercase()),
                            detail: detail.clone(),
                        }
                    };
                    outcome.fates.push((id, fate));
                }
            }
            for (arn, ids) in chunk {
                if !answered.contains(arn.as_str()) {
                    for id in ids {
                        outcome.fates.push((
                            id.clone(),
                            Fate::Retry("DescribeFindings did not answer for the ARN".into()),
                        ));
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

    /// Index, archive and record the finding versions of the batch.
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
        let set_all = |fates: &mut HashMap<String, Fate>, items: &[&Carried], fate: Fate| {
            for item in items {
                for id in &item.message_ids {
                    fates.insert(id.clone(), fate.clone());
                }
            }
        };
        let everything: Vec<&Carried> = records.iter().collect();
        if let Err(error) = self.ensure_templates().await {
            warn!(error = %error, "index templates not installed; retrying the batch");
            set_all(fates, &everything, Fate::Retry(error.to_string()));
            return;
        }
        let ledger_index = self.settings.ledger_index();
        let version_uids: Vec<String> = records
            .iter()
            .map(|c| c.record.version_uid.clone())
            .collect();
        let archived = match self
            .ports
            .search
            .existing_ids(&ledger_index, &version_uids)
            .await
        {
            Ok(archived) => archived,
            Err(error) => {
                warn!(error = %error, "ledger lookup failed; retrying the batch");
                set_all(fates, &everything, Fate::Retry(error.to_string()));
                return;
            }
        };
        let (already, pending): (Vec<&Carried>, Vec<&Carried>) = records
            .iter()
            .partition(|c| archived.contains(&c.record.version_uid));
        report.findings_already_stored = already.len();
        set_all(fates, &already, Fate::Done);

        // Serialized once, shared by the bulk request and the archive object.
        let documents: Vec<std::sync::Arc<str>> = pending
            .iter()
            .map(|c| {
                serde_json::to_string(&c.record.record)
                    .expect("OCSF records serialize")
                    .into()
            })
            .collect();
        let findings_index = self.settings.findings_index();
        let ops: Vec<BulkOp> = pending
            .iter()
            .zip(&documents)
            .map(|(c, document)| BulkOp::IndexLatest {
                index: findings_index.clone(),
                id: c.record.document_id.clone(),
                version: c.record.version,
                document: document.clone(),
            })
            .collect();
        let indexed = self.bulk_with_retry(ops, deadline).await;

        let mut to_archive: BTreeMap<(Origin, chrono::NaiveDate), Vec<usize>> = BTreeMap::new();
        for (position, outcome) in indexed.iter().enumerate() {
            let item = pending[position];
            match outcome {
                ItemOutcome::Done => to_archive
                    .entry((item.record.origin.clone(), item.record.event_day))
                    .or_default()
                    .push(position),
                ItemOutcome::Retry(why) => set_all(fates, &[item], Fate::Retry(why.clone())),
                ItemOutcome::Permanent(why) => set_all(
                    fates,
                    &[item],
                    Fate::Quarantine {
                        reason: "index_rejected".into(),
                        detail: why.clone(),
                    },
                ),
            }
        }

        let writes = to_archive.into_iter().map(|((origin, day), positions)| {
            let lines: Vec<&str> = positions.iter().map(|&p| &*documents[p]).collect();
            let object = archive::encode(&origin.account, &origin.region, day, &lines);
            async move {
                let result = self
                    .ports
                    .objects
                    .put_object(&object.key, object.body, ObjectKind::GzipNdjson)
                    .await;
                (object.key, positions, result)
            }
        });
        let written: Vec<_> = futures::stream::iter(writes)
            .buffer_unordered(self.settings.max_concurrency)
            .collect()
            .await;

        let mut ledger_ops = Vec::new();
        for (key, positions, result) in written {
            let items: Vec<&Carried> = positions.iter().map(|&p| pending[p]).collect();
            match result {
                Ok(()) => {
                    report.objects_written += 1;
                    report.findings_stored += items.len();
                    for item in &items {
                        *report
                            .enrichment
                            .entry(
                                item.record
                                    .record
                                    .unmapped
                                    .fanin
                                    .enrichment
                                    .status
                                    .as_str()
                                    .to_owned(),
                            )
                            .or_default() += 1;
                        ledger_ops.push(BulkOp::CreateOnce {
                            index: ledger_index.clone(),
                            id: item.record.version_uid.clone(),
                            document: json!({"finding_uid": item.record.finding_uid, "version": item.record.version, "archive_key": key}).to_string().into(),
                        });
                    }
                    set_all(fates, &items, Fate::Done);
                }
                Err(error) => {
                    warn!(key = %key, error = %error, "archive write failed; retrying its messages");
                    set_all(fates, &items, Fate::Retry(error.to_string()));
                }
            }
        }
        // The ledger only prevents duplicates on redelivery; the data is
        // stored, so a ledger failure is logged, not retried.
        for (op, outcome) in ledger_ops
            .iter()
            .zip(self.bulk_with_retry(ledger_ops.clone(), deadline).await)
        {
            if outcome != ItemOutcome::Done {
                warn!(ledger_op = ?op_id(op), outcome = ?outcome, "ledger entry not written");
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
    /// retrying under [`RetryPolicy::BULK_ITEMS`], never sleeping past the
    /// deadline.
    async fn bulk_with_retry(&self, ops: Vec<BulkOp>, deadline: Instant) -> Vec<ItemOutcome> {
        let mut outcomes: Vec<ItemOutcome> = vec![ItemOutcome::Retry("not sent".into()); ops.len()];
        let mut pending: Vec<usize> = (0..ops.len()).collect();
        let mut backoff = Backoff::new(RetryPolicy::BULK_ITEMS, deadline);
        loop {
            for chunk in bulk::encode(
                pending.iter().map(|&i| &ops[i]),
                self.settings.bulk_max_bytes,
            ) {
                let targets: Vec<usize> = chunk.ops.iter().map(|&p| pending[p]).collect();
                match self.ports.search.bulk(chunk.body).await {
                    Ok(statuses) if statuses.len() == targets.len() => {
                        for (target, status) in targets.iter().zip(&statuses) {
                            outcomes[*target] = bulk::classify(status);
                        }
                    }
                    Ok(statuses) => {
                        let why = format!(
                            "bulk answered {} items for {}",
                            statuses.len(),
                            targets.len()
                        );
                        targets
                            .iter()
                            .for_each(|&t| outcomes[t] = ItemOutcome::Retry(why.clone()));
                    }
                    Err(error) => targets
                        .iter()
                        .for_each(|&t| outcomes[t] = ItemOutcome::Retry(error.to_string())),
                }
            }
            pending.retain(|&i| matches!(outcomes[i], ItemOutcome::Retry(_)));
            if pending.is_empty() || !backoff.retry().await {
                break;
            }
        }
        outcomes
    }

    async fn quarantine_all(&self, messages: &[InboundMessage], fates: &mut HashMap<String, Fate>) {
        let now = chrono::Utc::now();
        let writes = messages
            .iter()
            .filter_map(|message| match fates.get(&message.message_id) {
                Some(Fate::Quarantine { reason, detail }) => {
                    let (key, body) = quarantine::object(message, reason, detail, now);
                    let message_id = message.message_id.clone();
                    let reason = reason.clone();
                    Some(async move {
                        let result = self
                            .ports
                            .objects
                            .put_object(&key, body, ObjectKind::Json)
                            .await;
                        (message_id, reason, key, result)
                    })
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
                    fates.insert(message_id, Fate::Retry(error.to_string()));
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
            .push((id.clone(), Fate::Retry(error.to_string())));
    }
}

fn op_id(op: &BulkOp) -> &str {
    match op {
        BulkOp::IndexLatest { id, .. } | BulkOp::CreateOnce { id, .. } => id,
    }
}
