//! VPC Flow Logs: the record fields of versions 2 to 5 (and later ones,
//! skipped), the text and Parquet deliveries' parser, and the hourly
//! aggregation the unused-exposure evaluation reads. Pure: no I/O but
//! `std::io::BufRead`.
//!
//! [`fields`] names the columns of an object (its header line or Parquet
//! schema); [`parse`] reads each line into a borrowed [`parse::Record`];
//! [`classify`] places a record on its interface (direction, initiator,
//! source class) with the account's [`classify::NetworkMap`];
//! [`aggregate`] sums records per key and hour into
//! [`aggregate::AggregateDoc`]s, with [`hll`] counting distinct sources.
pub mod aggregate;
pub mod classify;
pub mod fields;
pub mod hll;
pub mod parse;
