//! In-memory fakes of the evaluation's ports, for handler tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fanin::ids::AccountId;
use fanin::ports::CallError;
use fanin::privileges::authz::PrincipalEntry;
use fanin::privileges::record::PrivilegeRecord;
use fanin::privileges::usage::WindowUsage;

use super::ports::{GrantsReader, RecordBus, UsageArchive};

/// One question to the usage archive: the accounts, the window's start
/// and end.
pub type UsageAsked = (Option<Vec<String>>, DateTime<Utc>, DateTime<Utc>);

/// A window's usage, whatever the window; remembers what it was asked.
#[derive(Default)]
pub struct FakeUsage {
    pub usage: WindowUsage,
    pub asked: Mutex<Vec<UsageAsked>>,
}

#[async_trait]
impl UsageArchive for FakeUsage {
    async fn window(
        &self,
        accounts: Option<&[String]>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> anyhow::Result<WindowUsage> {
        self.asked
            .lock()
            .unwrap()
            .push((accounts.map(<[String]>::to_vec), start, end));
        let mut usage = self.usage.clone();
        if let Some(accounts) = accounts {
            usage
                .principals
                .retain(|_, p| accounts.contains(&p.principal.account));
            usage.accounts.retain(|a| accounts.contains(a));
        }
        Ok(usage)
    }
}

/// The principals of each account; the `denied` accounts refuse.
#[derive(Default)]
pub struct FakeGrants {
    pub accounts: BTreeMap<String, Vec<PrincipalEntry>>,
    pub denied: BTreeSet<String>,
}

#[async_trait]
impl GrantsReader for FakeGrants {
    async fn principals(
        &self,
        account: &AccountId,
        _organization: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<PrincipalEntry>, CallError> {
        if self.denied.contains(account.as_str()) {
            return Err(CallError::Denied {
                operation: "GetAccountAuthorizationDetails",
                code: "AccessDenied".into(),
                message: "not allowed".into(),
            });
        }
        Ok(self
            .accounts
            .get(account.as_str())
            .cloned()
            .unwrap_or_default())
    }
}

/// Keeps what it is given; refuses each record whose uid is in `refuse`
/// the first `refusals` times it sees it.
#[derive(Default)]
pub struct FakeBus {
    pub put: Mutex<Vec<PrivilegeRecord>>,
    pub calls: Mutex<Vec<usize>>,
    pub refuse: BTreeSet<String>,
    pub refusals: u32,
    /// How many times each uid was refused.
    pub seen: Mutex<BTreeMap<String, u32>>,
}

#[async_trait]
impl RecordBus for FakeBus {
    async fn put(&self, records: &[PrivilegeRecord]) -> Result<Vec<usize>, CallError> {
        self.calls.lock().unwrap().push(records.len());
        let mut refused = Vec::new();
        let mut seen = self.seen.lock().unwrap();
        for (position, record) in records.iter().enumerate() {
            let times = seen.entry(record.uid.clone()).or_default();
            if self.refuse.contains(&record.uid) && *times < self.refusals {
                *times += 1;
                refused.push(position);
            } else {
                self.put.lock().unwrap().push(record.clone());
            }
        }
        Ok(refused)
    }
}
