//! fanin's OCSF Parquet export in the Amazon Security Lake custom source
//! layout.
//!
//! The archive (`fanin::archive`) holds every finding version as an OCSF
//! 1.7.0 record in gzip NDJSON; Security Lake takes OCSF up to 1.3 in
//! Parquet. An export reads one archive partition (class, region, account,
//! day) and writes one Parquet object for it:
//!
//! - `layout.rs`: archive keys → validated partitions → export keys;
//! - `translate.rs`: one 1.7.0 record → one 1.3.0 row (pure);
//! - `schema.rs`: the 1.3.0 attributes of each class and their Arrow schema;
//! - `encoder.rs`: rows → Parquet within Security Lake's limits.
//!
//! [`export_partition`] chains them for the lines of one partition; the CLI
//! (`fanin export`) does the S3 reads and writes around it. This crate is
//! apart from `fanin` so that arrow and parquet never reach the Lambdas.

pub mod encoder;
pub mod layout;
pub mod schema;
pub mod translate;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::Schema;

pub use layout::{LayoutError, Partition, Prefix};
pub use translate::{Row, TranslateError};

/// An OCSF class that has a Security Lake source of its own (Security Lake
/// takes one class per custom source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExportClass {
    /// 2002 Vulnerability Finding: Inspector Classic and Inspector2.
    Vulnerability,
    /// 2004 Detection Finding: GuardDuty.
    Detection,
}

impl ExportClass {
    pub const ALL: [ExportClass; 2] = [Self::Vulnerability, Self::Detection];

    pub fn class_uid(self) -> u32 {
        match self {
            Self::Vulnerability => 2002,
            Self::Detection => 2004,
        }
    }

    pub fn from_class_uid(uid: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.class_uid() == uid)
    }

    /// The custom source name (`ext/<source>/`), named by the class rather
    /// than the product: every source fanin adds to a class (Inspector
    /// Classic and Inspector2 both write 2002) lands in the same Security
    /// Lake source and table; the product is in `metadata.product.name`.
    pub fn source_name(self) -> &'static str {
        match self {
            Self::Vulnerability => "fanin-vulnerability",
            Self::Detection => "fanin-detection",
        }
    }

    /// The OCSF 1.3.0 attributes of the class's rows.
    pub fn attributes(self) -> &'static [schema::Attr] {
        match self {
            Self::Vulnerability => schema::VULNERABILITY_FINDING,
            Self::Detection => schema::DETECTION_FINDING,
        }
    }

    pub fn arrow_schema(self) -> Arc<Schema> {
        schema::arrow_schema(self.attributes())
    }
}

/// Why a partition could not be exported. Permanent: exporting the same
/// archive objects fails the same way.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("line {line} of {object}: not JSON: {reason}")]
    NotJson {
        object: String,
        line: usize,
        reason: String,
    },
    #[error("line {line} of {object}: {source}")]
    Record {
        object: String,
        line: usize,
        source: TranslateError,
    },
    #[error(transparent)]
    Encode(#[from] encoder::EncodeError),
}

/// The Parquet object of one partition.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionExport {
    pub key: String,
    pub body: Vec<u8>,
    /// Rows written: one per distinct `metadata.uid`.
    pub rows: usize,
    /// Records read that repeated a version already read.
    pub duplicates: usize,
}

/// Exports the archive objects of `partition`, given as (object key, its
/// NDJSON text). Every version (`metadata.uid`) becomes one row, however
/// many times the archive holds it; the rows are sorted by time.
pub fn export_partition<'a>(
    partition: &Partition,
    prefix: &Prefix,
    objects: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<PartitionExport, ExportError> {
    let mut rows = BTreeMap::new();
    let mut duplicates = 0;
    for (object, ndjson) in objects {
        for (index, line) in ndjson.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: serde_json::Value =
                serde_json::from_str(line).map_err(|e| ExportError::NotJson {
                    object: object.to_owned(),
                    line: index + 1,
                    reason: e.to_string(),
                })?;
            let row = translate::translate(partition.class, &record).map_err(|source| {
                ExportError::Record {
                    object: object.to_owned(),
                    line: index + 1,
                    source,
                }
            })?;
            if rows.insert(row.uid.clone(), row).is_some() {
                duplicates += 1;
            }
        }
    }
    let rows: Vec<Row> = rows.into_values().collect();
    let count = rows.len();
    Ok(PartitionExport {
        key: partition.export_key(prefix),
        body: encoder::encode(&partition.class.arrow_schema(), rows)?,
        rows: count,
        duplicates,
    })
}
