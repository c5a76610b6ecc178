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

/// Asks the processor to bring `value`'s cache line in ahead of its use: a
/// hint, never a fault. x86-64 only (`safe_arch`); on other targets, such
/// as the arm64 Lambdas, a no-op (AArch64's hint is `unsafe` to call).
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    safe_arch::prefetch_t0(value);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = value;
}
