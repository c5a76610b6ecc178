//! The resolve stage (I/O): per (account, region), concurrently, the
//! session, the references to fetch (Classic DescribeFindings) and the EC2
//! inventory the group's findings need. Its output is plain data for the
//! pure enrich-and-normalize stage.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use tokio::time::Instant;
use tracing::warn;

use super::Collector;
use super::fate::{Fate, Fates, RetryCause};
use super::intake::GroupWork;
use crate::enrich::EnrichmentStatus;
use crate::ids::ClassicFindingArn;
use crate::model::{InstanceRecord, SecurityGroupRecord};
use crate::normalize::{EnrichmentTarget, Origin, SourceFinding};
use crate::ports::{AccountSession, CLASSIC_DESCRIBE_LIMIT, CallError};
use crate::quarantine::QuarantineReason;
use crate::retry;

/// One group's complete findings, and what the inventory said about them.
#[derive(Debug)]
pub struct Resolved {
    pub origin: Origin,
    /// Each complete finding with the messages that carried it.
    pub findings: Vec<(Box<dyn SourceFinding>, Vec<String>)>,
    pub inventory: Inventory,
}

/// The group's EC2 inventory, as far as it could be read.
#[derive(Debug, Default)]
pub struct Inventory {
    pub instances: HashMap<String, InstanceRecord>,
    pub groups: HashMap<String, SecurityGroupRecord>,
    /// Why instances could not be looked up (no role, EC2 denied): every
    /// instance finding of the group is stored with this status.
    pub problem: Option<(EnrichmentStatus, String)>,
}

/// A group's session, or why there is none.
enum SessionState {
    Open(AccountSession),
    /// The role cannot be assumed (denied): findings that need no fetch are
    /// stored, with enrichment status `role_unavailable`.
    Unavailable(CallError),
    NotNeeded,
}

/// The messages of one group and their fates, decided so far.
struct GroupFates {
    fates: Vec<(String, Fate)>,
}

impl GroupFates {
    fn set(&mut self, message_id: &str, fate: Fate) {
        self.fates.push((message_id.to_owned(), fate));
    }
    fn retry_all(&mut self, message_ids: &[String], error: &CallError) {
        for id in message_ids {
            self.set(id, Fate::Retry(error.clone().into()));
        }
    }
}

impl Collector {
    /// Resolves every group, at most `max_concurrency` at a time.
    pub(super) async fn resolve(
        &self,
        groups: BTreeMap<Origin, GroupWork>,
        deadline: Instant,
        fates: &mut Fates,
    ) -> Vec<Resolved> {
        let outcomes: Vec<(Option<Resolved>, GroupFates)> = futures::stream::iter(groups)
            .map(|(origin, work)| self.resolve_group(origin, work, deadline))
            .buffer_unordered(self.settings.max_concurrency)
            .collect()
            .await;
        let mut resolved = Vec::new();
        for (group, group_fates) in outcomes {
            fates.extend(group_fates.fates);
            resolved.extend(group);
        }
        resolved
    }

    /// Session, fetches and inventory for one (account, region). `None` when
    /// the whole group got its fate (retried, outsiders).
    async fn resolve_group(
        &self,
        origin: Origin,
        work: GroupWork,
        deadline: Instant,
    ) -> (Option<Resolved>, GroupFates) {
        let mut fates = GroupFates { fates: Vec::new() };
        let session = match self.session_for(&origin, &work, deadline).await {
            Ok(session) => session,
            Err(group_fate) => {
                for id in work.message_ids() {
                    fates.set(&id, group_fate.clone());
                }
                return (None, fates);
            }
        };

        let mut findings: Vec<(Box<dyn SourceFinding>, Vec<String>)> = work
            .complete
            .into_iter()
            .map(|(finding, id)| (finding, vec![id]))
            .collect();
        let classic: Vec<_> = work.classic.into_values().collect();
        match &session {
            SessionState::Open(session) => {
                self.fetch_classic(
                    session,
                    &origin,
                    classic,
                    deadline,
                    &mut findings,
                    &mut fates,
                )
                .await
            }
            // Without the role, Classic findings cannot be fetched: set
            // them aside to replay once the role is deployed.
            SessionState::Unavailable(problem) => {
                let reason = QuarantineReason::RoleUnavailable(problem.clone());
                for (_, ids) in classic {
                    for id in ids {
                        fates.set(&id, Fate::Quarantine(reason.clone()));
                    }
                }
            }
            SessionState::NotNeeded => {}
        }

        let inventory = match session {
            SessionState::Open(session) => {
                match self
                    .inventory_for(&session, &origin, &findings, deadline)
                    .await
                {
                    Ok(inventory) => inventory,
                    // An inventory outage sends the group's resolved
                    // findings back to the queue.
                    Err(error) => {
                        let carried: Vec<String> =
                            findings.iter().flat_map(|(_, ids)| ids.clone()).collect();
                        fates.retry_all(&carried, &error);
                        return (None, fates);
                    }
                }
            }
            SessionState::Unavailable(problem) => Inventory {
                problem: Some((EnrichmentStatus::RoleUnavailable, problem.to_string())),
                ..Default::default()
            },
            SessionState::NotNeeded => Inventory::default(),
        };
        let resolved = Resolved {
            origin,
            findings,
            inventory,
        };
        (Some(resolved), fates)
    }

    /// The group's session, when its findings need one (a fetch, or an EC2
    /// instance to describe). `Err` is the fate of every message of the
    /// group.
    async fn session_for(
        &self,
        origin: &Origin,
        work: &GroupWork,
        deadline: Instant,
    ) -> Result<SessionState, Fate> {
        let needs_session = !work.classic.is_empty()
            || work
                .complete
                .iter()
                .any(|(f, _)| matches!(f.enrichment_target(), EnrichmentTarget::Instance(_)));
        if !needs_session {
            return Ok(SessionState::NotNeeded);
        }
        let error = match retry::within(
            "AssumeRole",
            deadline,
            self.ports.sessions.session(&origin.account),
        )
        .await
        {
            Ok(session) => return Ok(SessionState::Open(session)),
            Err(error) => error,
        };
        if error.is_transient() {
            warn!(account_id = %origin.account, region = %origin.region, error = %error, "assume role failed; retrying the group");
            return Err(Fate::Retry(error.into()));
        }
        // A malformed request (bad role name, duration) is a configuration
        // error: retry, so it ends in the DLQ and its alarm instead of
        // marking every finding role_unavailable.
        if matches!(error, CallError::Rejected { .. }) {
            warn!(account_id = %origin.account, error = %error, "assume role rejected; retrying the group");
            return Err(Fate::Retry(error.into()));
        }
        match retry::within(
            "AccountDirectory",
            deadline,
            self.ports.directory.is_member(&origin.account),
        )
        .await
        {
            // Anyone can subscribe a template to the central topic: not ours
            // to fix, not an alarm.
            Ok(Some(false)) => return Err(Fate::Outsider),
            Ok(_) => {}
            Err(lookup) => return Err(Fate::Retry(lookup.into())),
        }
        warn!(account_id = %origin.account, error = %error, "role cannot be assumed");
        Ok(SessionState::Unavailable(error))
    }

    /// DescribeFindings, at most [`CLASSIC_DESCRIBE_LIMIT`] ARNs a call.
    /// Every ARN asked for must come back, as a finding or a failed item.
    async fn fetch_classic(
        &self,
        session: &AccountSession,
        origin: &Origin,
        classic: Vec<(ClassicFindingArn, Vec<String>)>,
        deadline: Instant,
        findings: &mut Vec<(Box<dyn SourceFinding>, Vec<String>)>,
        fates: &mut GroupFates,
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
                        fates.retry_all(&ids, &error);
                    } else {
                        let reason = match &error {
                            CallError::Denied { .. } => {
                                QuarantineReason::InspectorAccessDenied(error.clone())
                            }
                            _ => QuarantineReason::InspectorRejected(error.clone()),
                        };
                        for id in ids {
                            fates.set(&id, Fate::Quarantine(reason.clone()));
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
                findings.push((Box::new(finding), ids));
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
                    fates.set(&id, fate);
                }
            }
            for (arn, ids) in chunk {
                if !answered.contains(arn.as_str()) {
                    for id in ids {
                        fates.set(id, Fate::Retry(RetryCause::ClassicNotAnswered));
                    }
                }
            }
        }
    }

    /// One DescribeInstances and one DescribeSecurityGroups for the group's
    /// instances and the groups they (or the findings) name. `Err` only for
    /// a transient failure; a denied call is kept as the inventory's problem
    /// (instances) or leaves rules unknown (security groups).
    async fn inventory_for(
        &self,
        session: &AccountSession,
        origin: &Origin,
        findings: &[(Box<dyn SourceFinding>, Vec<String>)],
        deadline: Instant,
    ) -> Result<Inventory, CallError> {
        let mut inventory = Inventory::default();
        let instance_ids: BTreeSet<String> = findings
            .iter()
            .filter_map(|(f, _)| match f.enrichment_target() {
                EnrichmentTarget::Instance(id) => Some(id),
                _ => None,
            })
            .collect();
        if instance_ids.is_empty() {
            return Ok(inventory);
        }
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
                inventory.instances = found
                    .into_iter()
                    .map(|i| (i.instance_id.clone(), i))
                    .collect()
            }
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => {
                inventory.problem = Some((EnrichmentStatus::Ec2AccessDenied, error.to_string()))
            }
        }
        let mut group_ids: BTreeSet<String> = BTreeSet::new();
        let reported: Vec<_> = findings.iter().map(|(f, _)| f.reported_network()).collect();
        let interfaces = inventory
            .instances
            .values()
            .flat_map(|i| i.interfaces.iter())
            .chain(reported.iter().flat_map(|r| r.interfaces.iter()));
        for interface in interfaces {
            group_ids.extend(interface.security_groups.iter().map(|g| g.id.clone()));
        }
        if inventory.problem.is_some() || group_ids.is_empty() {
            return Ok(inventory);
        }
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
                inventory.groups = found.into_iter().map(|g| (g.group_id.clone(), g)).collect()
            }
            Err(error) if error.is_transient() => return Err(error),
            // Rules stay unknown (`rules_known: false`); the rest is kept.
            Err(error) => {
                warn!(account_id = %origin.account, region = %origin.region, error = %error, "security groups not readable")
            }
        }
        Ok(inventory)
    }
}
