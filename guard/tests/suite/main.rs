//! The guard's tests, one binary (each file a module): `cargo test -p fanin-
//! guard --test suite contract::` runs one file's tests.

mod contract;
mod handler;
