//! Where objects are read from and written to.
//!
//! Read: the archive, `findings/classUid=<uid>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<sha256>.json.gz`
//! (`fanin::archive`). Written: the Amazon Security Lake custom source
//! layout, `<prefix><source>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<name>.parquet`,
//! one object per partition. Every part of a key is parsed from the archive
//! key into a validated id or date first, so no archive key can steer a write
//! outside its partition.

use chrono::NaiveDate;
use fanin::ids::{AccountId, Region};

use crate::ExportClass;

/// Why a key or prefix was refused. Permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "not an archive key (findings/classUid=<uid>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<sha256>.json.gz): {0:?}"
    )]
    ArchiveKey(String),
    #[error("{part} of archive key {key:?}: {reason}")]
    ArchivePart {
        key: String,
        part: &'static str,
        reason: String,
    },
    #[error(
        "export prefix {0:?} must be letters, digits, '-', '_', '.' and '/', end with '/', and contain no '..' and no leading '/' (e.g. ext/)"
    )]
    Prefix(String),
}

/// The key prefix the Parquet objects go under (`ext/` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    pub fn parse(raw: &str) -> Result<Self, LayoutError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
        let valid = !raw.is_empty()
            && raw.len() <= 256
            && raw.ends_with('/')
            && !raw.starts_with('/')
            && raw.chars().all(allowed)
            && raw
                .split('/')
                .all(|segment| segment != ".." && segment != ".")
            && !raw.contains("//");
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(LayoutError::Prefix(raw.chars().take(100).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Self("ext/".to_owned())
    }
}

/// One partition of the archive and of the export: the versions of one
/// class about one account and region, updated on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub class: ExportClass,
    pub region: Region,
    pub account: AccountId,
    pub day: NaiveDate,
}

impl Partition {
    /// The partition of an archive object, from its key. `Ok(None)` for a
    /// class that is not exported (2003 Compliance Finding has no source yet).
    pub fn from_archive_key(key: &str) -> Result<Option<Self>, LayoutError> {
        let malformed = || LayoutError::ArchiveKey(key.chars().take(300).collect());
        let parts: Vec<&str> = key.split('/').collect();
        let ["findings", class, region, account, day, name] = parts.as_slice() else {
            return Err(malformed());
        };
        let part = |raw: &str, name: &'static str| -> Result<String, LayoutError> {
            raw.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
                .ok_or_else(malformed)
        };
        let refused = |part: &'static str, reason: String| LayoutError::ArchivePart {
            key: key.chars().take(300).collect(),
            part,
            reason,
        };
        if !name.ends_with(".json.gz") {
            return Err(malformed());
        }
        let class_uid: u32 = part(class, "classUid")?
            .parse()
            .map_err(|e| refused("classUid", format!("{e}")))?;
        let Some(class) = ExportClass::from_class_uid(class_uid) else {
            return Ok(None);
        };
        let region = Region::parse(&part(region, "region")?)
            .map_err(|e| refused("region", e.to_string()))?;
        let account = AccountId::parse(&part(account, "accountId")?)
            .map_err(|e| refused("accountId", e.to_string()))?;
        let day_text = part(day, "eventDay")?;
        let day = NaiveDate::parse_from_str(&day_text, "%Y%m%d")
            .ok()
            .filter(|_| day_text.len() == 8)
            .ok_or_else(|| refused("eventDay", "not a YYYYMMDD date".into()))?;
        Ok(Some(Self {
            class,
            region,
            account,
            day,
        }))
    }

    /// The prefix of the class in the archive: `findings/classUid=<uid>/`.
    pub fn archive_class_prefix(class: ExportClass) -> String {
        format!("findings/classUid={}/", class.class_uid())
    }

    /// The export object of the partition:
    /// `<prefix><source>/region=<r>/accountId=<a>/eventDay=<d>/fanin-<class_uid>-<r>-<a>-<d>.parquet`.
    /// One object per partition, named by the partition only: exporting the
    /// day again replaces it, so the partition never holds a version twice.
    pub fn export_key(&self, prefix: &Prefix) -> String {
        let day = self.day.format("%Y%m%d");
        format!(
            "{prefix}{source}/region={region}/accountId={account}/eventDay={day}/fanin-{uid}-{region}-{account}-{day}.parquet",
            prefix = prefix.as_str(),
            source = self.class.source_name(),
            region = self.region,
            account = self.account,
            uid = self.class.class_uid(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "findings/classUid=2004/region=us-east-2/accountId=973743533182/eventDay=20220128/0123abcd.json.gz";

    #[test]
    fn an_archive_key_names_its_export_key() {
        let partition = Partition::from_archive_key(KEY).unwrap().unwrap();
        assert_eq!(partition.class, ExportClass::Detection);
        assert_eq!(
            partition.export_key(&Prefix::default()),
            "ext/fanin-detection/region=us-east-2/accountId=973743533182/eventDay=20220128/fanin-2004-us-east-2-973743533182-20220128.parquet"
        );
    }

    #[test]
    fn refuses_keys_that_could_steer_a_write() {
        for key in [
            "findings/classUid=2002/region=../../x/accountId=973743533182/eventDay=20220128/a.json.gz",
            "findings/classUid=2002/region=us-east-2/accountId=97374353318/eventDay=20220128/a.json.gz",
            "findings/classUid=2002/region=us-east-2/accountId=973743533182/eventDay=2022012/a.json.gz",
            "findings/classUid=2002/region=us-east-2/accountId=973743533182/eventDay=20221328/a.json.gz",
            "findings/classUid=2002/region=us-east-2/accountId=973743533182/eventDay=20220128/x/a.json.gz",
            "findings/classUid=2002/region=us-east-2/accountId=973743533182/eventDay=20220128/a.parquet",
            "quarantine/reason=x/eventDay=20220128/a.json",
        ] {
            assert!(Partition::from_archive_key(key).is_err(), "{key}");
        }
        assert_eq!(
            Partition::from_archive_key(&KEY.replace("2004", "2003")),
            Ok(None),
            "compliance findings have no export source"
        );
    }

    #[test]
    fn prefixes_are_plain_folders() {
        for good in ["ext/", "lake/ext/", "a.b-c_d/"] {
            assert!(Prefix::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "", "ext", "/ext/", "../ext/", "ext//", "ext/./", "ext /", "ext/\n/",
        ] {
            assert!(Prefix::parse(bad).is_err(), "{bad:?}");
        }
    }
}
