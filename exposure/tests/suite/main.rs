//! The unused-exposure functions' tests, one binary (each file a module):
//! `cargo test -p fanin-exposure --test suite ingest::` runs one file's tests.

mod evaluate;
mod ingest;
