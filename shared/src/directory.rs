//! The organization's accounts, as the coverage check last saw them.
//!
//! The coverage check (`fanin-coverage`) writes the organization's account
//! list to the findings bucket at [`ACCOUNT_LIST_KEY`]. The collector reads it
//! only when an account denies AssumeRole, to tell a notification from an
//! account outside the organization (acknowledged and counted, never
//! alarmed: anyone can subscribe an Inspector Classic template to the central
//! topic) from its own failure (a member whose role is missing: set aside and
//! alarmed).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::warn;

use crate::ids::AccountId;
use crate::ports::{AccountDirectory, CallError, ObjectStore};

/// Where the coverage check writes the organization's accounts.
pub const ACCOUNT_LIST_KEY: &str = "state/organization-accounts.json";

/// How long one read of the list is used.
pub const ACCOUNT_LIST_TTL: Duration = Duration::from_secs(300);

/// `state/organization-accounts.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AccountList {
    pub generated_at: String,
    pub organization_id: String,
    pub accounts: Vec<ListedAccount>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListedAccount {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// Reads the member ids out of the object's bytes; `None` when the object is
/// not a valid list (then no account is called an outsider).
pub fn members(bytes: &[u8]) -> Option<HashSet<AccountId>> {
    let list: AccountList = serde_json::from_slice(bytes).ok()?;
    list.accounts
        .iter()
        .map(|a| AccountId::parse(&a.id).ok())
        .collect()
}

/// The members as last read (`None`: no usable list), and when.
type CachedList = Option<(Instant, Option<Arc<HashSet<AccountId>>>)>;

/// [`AccountDirectory`] over the account list in the bucket, read at most
/// once per [`ACCOUNT_LIST_TTL`].
pub struct BucketAccountList {
    objects: Arc<dyn ObjectStore>,
    cached: Mutex<CachedList>,
}

impl BucketAccountList {
    pub fn new(objects: Arc<dyn ObjectStore>) -> Self {
        Self {
            objects,
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl AccountDirectory for BucketAccountList {
    async fn is_member(&self, account: &AccountId) -> Result<Option<bool>, CallError> {
        let mut cached = self.cached.lock().await;
        let fresh = cached
            .as_ref()
            .filter(|(read_at, _)| read_at.elapsed() < ACCOUNT_LIST_TTL)
            .map(|(_, list)| list.clone());
        let list = match fresh {
            Some(list) => list,
            None => {
                let list = match self.objects.get_object(ACCOUNT_LIST_KEY).await {
                    Ok(Some(bytes)) => {
                        let parsed = members(&bytes).map(Arc::new);
                        if parsed.is_none() {
                            warn!(
                                key = ACCOUNT_LIST_KEY,
                                "account list unreadable; no account is treated as outside the organization"
                            );
                        }
                        parsed
                    }
                    Ok(None) => None,
                    Err(error) if error.is_transient() => return Err(error),
                    Err(error) => {
                        warn!(key = ACCOUNT_LIST_KEY, error = %error, "account list not readable; no account is treated as outside the organization");
                        None
                    }
                };
                *cached = Some((Instant::now(), list.clone()));
                list
            }
        };
        Ok(list.map(|members| members.contains(account)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_written_by_the_coverage_check_is_read() {
        let bytes = br#"{"generated_at":"2026-11-30T05:00:00Z","organization_id":"o-abc","accounts":[{"id":"111111111111","status":"ACTIVE","name":"a"},{"id":"222222222222","status":"SUSPENDED"}]}"#;
        let members = members(bytes).unwrap();
        assert!(members.contains(&AccountId::parse("111111111111").unwrap()));
        assert!(members.contains(&AccountId::parse("222222222222").unwrap()));
        assert_eq!(members.len(), 2);
    }

    #[test]
    fn a_list_with_a_bad_id_or_shape_is_not_used() {
        assert!(
            members(br#"{"generated_at":"x","organization_id":"o","accounts":[{"id":"12"}]}"#)
                .is_none()
        );
        assert!(members(b"not json").is_none());
    }
}
