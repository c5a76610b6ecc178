//! The least-privilege functions' tests, one binary (each file a module):
//! `cargo test -p fanin-privileges --test suite authz::` runs one file's tests.

mod authz;
mod ingest;
