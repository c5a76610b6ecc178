//! Rows → one Parquet object within Amazon Security Lake's limits for
//! custom sources: zstd, data pages up to 1 MB uncompressed, row groups up
//! to 256 MB compressed, rows sorted by `time`.
//!
//! Pages: the writer closes a page once it passes [`DATA_PAGE_BYTES`], and
//! checks every [`WRITE_BATCH_VALUES`] values, so a page exceeds the limit
//! only by at most that many values; with fanin's record caps (strings of at
//! most 16 KiB outside `unmapped` and `resources[].data`) a page stays below
//! 1 MB. Row groups: closed at [`ROW_GROUP_ROWS`] rows, or earlier once the
//! estimated encoded size of the group reaches [`ROW_GROUP_BYTES`] (the
//! writer splits a batch by the average row size before it passes), half of
//! Security Lake's 256 MB, so an estimate that is short still stays below.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::ReaderBuilder;
use arrow_schema::{ArrowError, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterVersion};

use crate::translate::Row;

/// Target size of a data page, uncompressed (Security Lake: at most 1 MB).
pub const DATA_PAGE_BYTES: usize = 512 * 1024;
/// How many values the writer adds between two page-size checks.
pub const WRITE_BATCH_VALUES: usize = 32;
/// Most rows in one row group.
pub const ROW_GROUP_ROWS: usize = 100_000;
/// A row group is closed once its estimated encoded size reaches this
/// (Security Lake: at most 256 MB compressed).
pub const ROW_GROUP_BYTES: usize = 128 * 1024 * 1024;
/// Rows handed to the writer at a time.
pub const ROWS_PER_BATCH: usize = 1024;

/// Why rows could not be encoded. A defect of the export (the rows do not
/// match their schema), never of the data: permanent.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("building Arrow arrays from the rows: {0}")]
    Arrow(#[from] ArrowError),
    #[error("writing Parquet: {0}")]
    Parquet(#[from] ParquetError),
}

/// The writer settings every exported object uses.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        // Format 1.0 data pages: every Parquet reader Security Lake's
        // subscribers use (Athena, Glue, Spark, pyarrow) reads them.
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_data_page_size_limit(DATA_PAGE_BYTES)
        .set_dictionary_page_size_limit(DATA_PAGE_BYTES)
        .set_write_batch_size(WRITE_BATCH_VALUES)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .build()
}

/// Encodes `rows` (sorted here by `time`, then `metadata.uid`) into one
/// Parquet file of `schema`. The same rows give the same bytes.
pub fn encode(schema: &Arc<Schema>, mut rows: Vec<Row>) -> Result<Vec<u8>, EncodeError> {
    rows.sort_by(|a, b| (a.time, &a.uid).cmp(&(b.time, &b.uid)));
    let mut writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(writer_properties()))?;
    for chunk in rows.chunks(ROWS_PER_BATCH) {
        writer.write(&record_batch(schema, chunk)?)?;
    }
    Ok(writer.into_inner()?)
}

fn record_batch(schema: &Arc<Schema>, rows: &[Row]) -> Result<RecordBatch, ArrowError> {
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .with_strict_mode(true)
        .build_decoder()?;
    let values: Vec<&serde_json::Value> = rows.iter().map(|row| &row.value).collect();
    decoder.serialize(&values)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}
