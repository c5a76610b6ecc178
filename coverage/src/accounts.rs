//! The organization's account list, written to the findings bucket for the
//! collector: `state/organization-accounts.json`. Pure.
//!
//! Shape (kept exactly; the collector reads it):
//! `{"generated_at": "<RFC 3339>", "organization_id": "o-...",
//!   "accounts": [{"id": "111111111111", "status": "ACTIVE", "name": "..."}]}`.
//! Every account is listed, whatever its status, in id order.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::Organization;

pub const ACCOUNT_LIST_KEY: &str = "state/organization-accounts.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountList {
    pub generated_at: String,
    pub organization_id: String,
    pub accounts: Vec<AccountEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEntry {
    pub id: String,
    pub status: String,
    pub name: String,
}

pub fn account_list(organization: &Organization, generated_at: DateTime<Utc>) -> AccountList {
    let mut accounts: Vec<AccountEntry> = organization
        .accounts
        .iter()
        .map(|a| AccountEntry {
            id: a.id.to_string(),
            status: a.status.clone(),
            name: a.name.clone(),
        })
        .collect();
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    AccountList {
        generated_at: generated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        organization_id: organization.id.clone(),
        accounts,
    }
}

/// The object's bytes.
pub fn encode(list: &AccountList) -> Vec<u8> {
    serde_json::to_vec(list).expect("the account list serializes")
}

#[cfg(test)]
mod tests {
    use fanin::ids::AccountId;
    use serde_json::json;

    use super::*;
    use crate::ports::OrganizationAccount;

    #[test]
    fn the_object_has_exactly_the_agreed_shape() {
        let organization = Organization {
            id: "o-abcdefghij".into(),
            accounts: vec![
                OrganizationAccount {
                    id: AccountId::parse("222222222222").unwrap(),
                    status: "SUSPENDED".into(),
                    name: "old \"app\"".into(),
                },
                OrganizationAccount {
                    id: AccountId::parse("111111111111").unwrap(),
                    status: "ACTIVE".into(),
                    name: "app".into(),
                },
            ],
        };
        let at = DateTime::parse_from_rfc3339("2026-11-30T05:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let bytes = encode(&account_list(&organization, at));
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            value,
            json!({
                "generated_at": "2026-11-30T05:00:00Z",
                "organization_id": "o-abcdefghij",
                "accounts": [
                    {"id": "111111111111", "status": "ACTIVE", "name": "app"},
                    {"id": "222222222222", "status": "SUSPENDED", "name": "old \"app\""},
                ],
            })
        );
    }
}
