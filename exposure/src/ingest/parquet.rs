//! Parquet objects. Parquet's footer is at the end of the file and its
//! column chunks are read by offset, so the body is spooled to a file in
//! the function's ephemeral storage (`/tmp`, 512 MB by default, up to
//! 10 GB; flow-log Parquet files are far smaller than their text), never
//! held in memory. The arrow reader then decodes one row group at a time
//! (only that row group's column chunks are read), in batches of
//! [`BATCH_ROWS`] rows; each row is rendered into the text line of the
//! file's own column order and parsed by the same parser as text objects,
//! so both encodings are validated alike. The spool file is removed
//! whatever happens.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use fanin::flowlogs::aggregate::Aggregator;
use fanin::flowlogs::classify::NetworkMap;
use fanin::flowlogs::fields::{Column, Format};
use fanin::flowlogs::parse::parse_record;
use fanin::ports::CallError;
use futures::StreamExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::io::AsyncWriteExt;

use super::ports::ObjectBody;
use super::{MalformedLines, ObjectAggregation, ObjectError};

/// Rows decoded at once.
pub const BATCH_ROWS: usize = 8192;

/// Removes the spool file when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Spools, then reads and aggregates one Parquet object.
pub async fn aggregate(
    body: ObjectBody,
    map: Arc<NetworkMap>,
    spool_dir: &Path,
    object_id: &str,
) -> Result<ObjectAggregation, ObjectError> {
    let spool = Spool(spool_dir.join(format!(
        "fanin-flowlogs-{object_id}-{}.parquet",
        std::process::id()
    )));
    let local =
        |e: std::io::Error| ObjectError::Call(CallError::transient("Spool", "io", e.to_string()));
    let mut file = tokio::fs::File::create(&spool.0).await.map_err(local)?;
    let mut chunks = body.chunks;
    while let Some(chunk) = chunks.next().await {
        file.write_all(&chunk?).await.map_err(local)?;
    }
    file.flush().await.map_err(local)?;
    drop(file);
    let path = spool.0.clone();
    let read = tokio::task::spawn_blocking(move || read(&path, map))
        .await
        .map_err(|e| ObjectError::Unreadable(format!("the reader failed: {e}")))?;
    drop(spool);
    read
}

/// The blocking half.
pub fn read(path: &Path, map: Arc<NetworkMap>) -> Result<ObjectAggregation, ObjectError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        ObjectError::Unreadable(format!("not a readable Parquet object: {e}"))
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| unreadable(&e))?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let format = Format::from_names(names.iter().map(String::as_str))
        .map_err(|e| ObjectError::Unreadable(e.to_string()))?;
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| unreadable(&e))?;
    let mut aggregator = Aggregator::new(map);
    let mut malformed = MalformedLines::default();
    let mut line = String::with_capacity(512);
    let mut row_number: u64 = 0;
    for batch in reader {
        let batch = batch.map_err(|e| unreadable(&e))?;
        for row in 0..batch.num_rows() {
            row_number += 1;
            render_row(&batch, &format, row, &mut line);
            match parse_record(&format, line.as_bytes()) {
                Ok(record) => aggregator.add(&record),
                Err(reason) => malformed.push(row_number, &reason.to_string(), line.as_bytes()),
            }
        }
    }
    Ok(ObjectAggregation {
        aggregator,
        malformed,
        unknown_fields: format.unknown_names().map(str::to_owned).collect(),
        headerless: false,
    })
}

/// One row as a text line in the file's column order: null as `-`, an
/// unknown column as `-`, a known field of a type flow logs never use as
/// `?` (which then fails that field's parse, a malformed row).
fn render_row(batch: &RecordBatch, format: &Format, row: usize, line: &mut String) {
    line.clear();
    for (index, column) in format.columns().iter().enumerate() {
        if index > 0 {
            line.push(' ');
        }
        let array = batch.column(index);
        if matches!(column, Column::Unknown(_)) || array.is_null(row) {
            line.push('-');
            continue;
        }
        let _ = match array.data_type() {
            DataType::Utf8 => write!(line, "{}", array.as_string::<i32>().value(row)),
            DataType::LargeUtf8 => write!(line, "{}", array.as_string::<i64>().value(row)),
            DataType::Utf8View => write!(line, "{}", array.as_string_view().value(row)),
            DataType::Int8 => write!(line, "{}", array.as_primitive::<Int8Type>().value(row)),
            DataType::Int16 => write!(line, "{}", array.as_primitive::<Int16Type>().value(row)),
            DataType::Int32 => write!(line, "{}", array.as_primitive::<Int32Type>().value(row)),
            DataType::Int64 => write!(line, "{}", array.as_primitive::<Int64Type>().value(row)),
            DataType::UInt8 => write!(line, "{}", array.as_primitive::<UInt8Type>().value(row)),
            DataType::UInt16 => write!(line, "{}", array.as_primitive::<UInt16Type>().value(row)),
            DataType::UInt32 => write!(line, "{}", array.as_primitive::<UInt32Type>().value(row)),
            DataType::UInt64 => write!(line, "{}", array.as_primitive::<UInt64Type>().value(row)),
            _ => write!(line, "?"),
        };
    }
}
