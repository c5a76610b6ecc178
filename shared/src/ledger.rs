//! The archive ledger: which finding versions are archived, and which an
//! invocation is archiving right now.
//!
//! One document per finding version in `<prefix>-ledger`, `_id` =
//! `metadata.uid`. Its life:
//!
//! 1. **claimed**: written with `create` (only one invocation can succeed)
//!    before the archive object is written. It names the object that will
//!    hold the version and when the claim expires (the claimant's deadline
//!    plus a margin). A claim is released (deleted) when the object write
//!    fails.
//! 2. **archived**: rewritten once the object is written.
//!
//! A claim that outlived its expiry belongs to an invocation that died
//! between its claim and its archived mark. If the object it names exists,
//! the version is archived (only the mark was lost); otherwise the claim is
//! taken over with `if_seq_no`/`if_primary_term`, so only one invocation can
//! take it. Entries written before claims existed have no `state` and count
//! as archived.
//!
//! Everything here is pure: the pipeline does the I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::StoredDocument;

/// The ledger document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerDocument {
    /// `claimed` or `archived`; absent on entries older than claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<LedgerState>,
    pub finding_uid: String,
    pub version: i64,
    /// The archive object that holds (or will hold) the version.
    pub archive_key: String,
    /// Claims only: epoch milliseconds after which the claim is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_expires_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerState {
    Claimed,
    Archived,
}

impl LedgerDocument {
    pub fn claim(
        finding_uid: &str,
        version: i64,
        archive_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            state: Some(LedgerState::Claimed),
            finding_uid: finding_uid.to_owned(),
            version,
            archive_key: archive_key.to_owned(),
            claim_expires_at: Some(expires_at.timestamp_millis()),
        }
    }

    pub fn archived(finding_uid: &str, version: i64, archive_key: &str) -> Self {
        Self {
            state: Some(LedgerState::Archived),
            finding_uid: finding_uid.to_owned(),
            version,
            archive_key: archive_key.to_owned(),
            claim_expires_at: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings and numbers serializes")
    }
}

/// What the ledger says about one finding version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// No entry: nobody has archived or claimed it.
    Unclaimed,
    /// Archived already.
    Archived,
    /// Another invocation is archiving it now.
    ClaimedElsewhere,
    /// A claim that outlived its expiry: check its object, then take it over.
    Stale {
        archive_key: String,
        seq_no: i64,
        primary_term: i64,
    },
}

/// Reads a ledger entry at `now`. An entry that cannot be read as a ledger
/// document counts as archived: it was written by fanin, and archiving the
/// version again would be the one outcome worse than skipping it.
pub fn standing(entry: Option<&StoredDocument>, now: DateTime<Utc>) -> Standing {
    let Some(entry) = entry else {
        return Standing::Unclaimed;
    };
    let Ok(document) = serde_json::from_value::<LedgerDocument>(entry.source.clone()) else {
        return Standing::Archived;
    };
    match (document.state, document.claim_expires_at) {
        (Some(LedgerState::Claimed), Some(expires)) if expires > now.timestamp_millis() => {
            Standing::ClaimedElsewhere
        }
        (Some(LedgerState::Claimed), _) => Standing::Stale {
            archive_key: document.archive_key,
            seq_no: entry.seq_no,
            primary_term: entry.primary_term,
        },
        (Some(LedgerState::Archived) | None, _) => Standing::Archived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn stored(document: &LedgerDocument) -> StoredDocument {
        StoredDocument {
            source: serde_json::from_str(&document.to_json()).unwrap(),
            seq_no: 7,
            primary_term: 2,
        }
    }

    #[test]
    fn a_claim_is_held_until_it_expires_then_stale_with_its_object() {
        let claim = LedgerDocument::claim("arn:x", 5, "findings/k.json.gz", at(10_000));
        assert_eq!(
            standing(Some(&stored(&claim)), at(9_999)),
            Standing::ClaimedElsewhere
        );
        assert_eq!(
            standing(Some(&stored(&claim)), at(10_000)),
            Standing::Stale {
                archive_key: "findings/k.json.gz".into(),
                seq_no: 7,
                primary_term: 2
            }
        );
    }

    #[test]
    fn archived_entries_old_and_new_and_absent_ones() {
        let archived = LedgerDocument::archived("arn:x", 5, "findings/k.json.gz");
        assert_eq!(
            standing(Some(&stored(&archived)), at(0)),
            Standing::Archived
        );
        let before_claims = StoredDocument {
            source: serde_json::json!({"finding_uid": "arn:x", "version": 5, "archive_key": "k"}),
            seq_no: 0,
            primary_term: 1,
        };
        assert_eq!(standing(Some(&before_claims), at(0)), Standing::Archived);
        let unreadable = StoredDocument {
            source: serde_json::json!({"something": "else"}),
            seq_no: 0,
            primary_term: 1,
        };
        assert_eq!(standing(Some(&unreadable), at(0)), Standing::Archived);
        assert_eq!(standing(None, at(0)), Standing::Unclaimed);
    }

    #[test]
    fn the_claim_document_round_trips() {
        let claim = LedgerDocument::claim("arn:x", 5, "k", at(1_000));
        let json = claim.to_json();
        assert!(json.contains(r#""state":"claimed""#), "{json}");
        assert_eq!(
            serde_json::from_str::<LedgerDocument>(&json).unwrap(),
            claim
        );
    }
}
