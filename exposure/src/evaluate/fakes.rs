//! In-memory fakes of the evaluation's ports, for handler tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use chrono::{DateTime, NaiveDate, Utc};
use fanin::exposure::evaluate::Traffic;
use fanin::exposure::inventory::Inventory;
use fanin::exposure::record::{LinkedVulnerability, UsageRecord};
use fanin::ids::{AccountId, Region};
use fanin::ports::{AccountSession, CallError, SessionProvider};

use super::ports::{AggregateArchive, RecordBus, RuleChangeLog, VulnerabilityIndex};
use crate::inventory::NetworkReader;

/// Sessions for every account except the `denied` ones.
#[derive(Default)]
pub struct FakeSessions {
    pub denied: BTreeSet<AccountId>,
}

#[async_trait]
impl SessionProvider for FakeSessions {
    async fn session(&self, account: &AccountId) -> Result<AccountSession, CallError> {
        if self.denied.contains(account) {
            return Err(CallError::Denied {
                operation: "AssumeRole",
                code: "AccessDenied".into(),
                message: "not trusted".into(),
            });
        }
        Ok(AccountSession {
            account: account.clone(),
            credentials: Credentials::new("AKID", "secret", None, None, "fake"),
        })
    }
}

/// One inventory per (account, region).
#[derive(Default)]
pub struct FakeNetwork {
    pub inventories: BTreeMap<(AccountId, Region), Inventory>,
}

#[async_trait]
impl NetworkReader for FakeNetwork {
    async fn inventory(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Inventory, CallError> {
        self.inventories
            .get(&(session.account.clone(), region.clone()))
            .cloned()
            .ok_or_else(|| CallError::Rejected {
                operation: "DescribeNetworkInterfaces",
                code: "UnknownInventory".into(),
                message: "no inventory in the fake".into(),
            })
    }

    async fn network(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Inventory, CallError> {
        let mut inventory = self.inventory(session, region).await?;
        inventory.rules.clear();
        Ok(inventory)
    }
}

/// Rule changes per (account, region); `None` answers Denied.
#[derive(Default)]
pub struct FakeChanges {
    pub changes: BTreeMap<(AccountId, Region), BTreeMap<String, DateTime<Utc>>>,
    pub denied: bool,
    /// The `since` of every call.
    pub asked: Mutex<Vec<DateTime<Utc>>>,
}

#[async_trait]
impl RuleChangeLog for FakeChanges {
    async fn rule_changes(
        &self,
        session: &AccountSession,
        region: &Region,
        since: DateTime<Utc>,
    ) -> Result<BTreeMap<String, DateTime<Utc>>, CallError> {
        self.asked.lock().unwrap().push(since);
        if self.denied {
            return Err(CallError::Denied {
                operation: "LookupEvents",
                code: "AccessDeniedException".into(),
                message: "not allowed".into(),
            });
        }
        Ok(self
            .changes
            .get(&(session.account.clone(), region.clone()))
            .cloned()
            .unwrap_or_default())
    }
}

/// Traffic per (account, region) and the days it is on.
#[derive(Default)]
pub struct FakeArchive {
    pub traffic: BTreeMap<(AccountId, Region), (Vec<NaiveDate>, Traffic)>,
}

#[async_trait]
impl AggregateArchive for FakeArchive {
    async fn partitions(
        &self,
        days: &[NaiveDate],
    ) -> Result<BTreeSet<(AccountId, Region)>, CallError> {
        Ok(self
            .traffic
            .iter()
            .filter(|(_, (on, _))| on.iter().any(|day| days.contains(day)))
            .map(|(key, _)| key.clone())
            .collect())
    }

    async fn traffic(
        &self,
        account: &AccountId,
        region: &Region,
        _days: &[NaiveDate],
    ) -> Result<Traffic, CallError> {
        Ok(self
            .traffic
            .get(&(account.clone(), region.clone()))
            .map(|(_, traffic)| traffic.clone())
            .unwrap_or_default())
    }
}

/// Findings to answer; records the instance ids asked.
#[derive(Default)]
pub struct FakeVulnerabilities {
    pub findings: Vec<LinkedVulnerability>,
    pub asked: Mutex<Vec<Vec<String>>>,
}

#[async_trait]
impl VulnerabilityIndex for FakeVulnerabilities {
    async fn critical_findings(
        &self,
        instance_ids: &[String],
    ) -> Result<Vec<LinkedVulnerability>, CallError> {
        self.asked.lock().unwrap().push(instance_ids.to_vec());
        Ok(self
            .findings
            .iter()
            .filter(|f| instance_ids.contains(&f.instance_id) && f.severity_id >= 5)
            .cloned()
            .collect())
    }
}

/// Keeps what it accepts; refuses the records whose uid is in `refuse`
/// the first `refusals` times it sees them.
#[derive(Default)]
pub struct FakeBus {
    pub accepted: Mutex<Vec<UsageRecord>>,
    pub batch_sizes: Mutex<Vec<usize>>,
    pub refuse: BTreeSet<String>,
    pub refusals: usize,
    pub seen: Mutex<BTreeMap<String, usize>>,
}

#[async_trait]
impl RecordBus for FakeBus {
    async fn put(&self, records: &[UsageRecord]) -> Result<Vec<usize>, CallError> {
        self.batch_sizes.lock().unwrap().push(records.len());
        let mut refused = Vec::new();
        let mut seen = self.seen.lock().unwrap();
        for (position, record) in records.iter().enumerate() {
            let times = seen.entry(record.uid.clone()).or_insert(0);
            *times += 1;
            if self.refuse.contains(&record.uid) && *times <= self.refusals {
                refused.push(position);
            } else {
                self.accepted.lock().unwrap().push(record.clone());
            }
        }
        Ok(refused)
    }
}
