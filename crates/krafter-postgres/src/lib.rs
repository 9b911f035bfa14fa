#![doc = include_str!("../README.md")]

// libc's kill, geteuid, getpwuid_r and pre_exec: the crate's only unsafe code.
mod keyset;
#[allow(unsafe_code)]
pub mod local_cluster;
mod migrations;
mod pool_metrics;
mod repos;
mod rows;
mod schema;
pub mod seed;
mod snapshot;
mod store;
mod tx;

pub use migrations::{pending_migrations, revert_all_migrations, run_migrations};
pub use repos::operator::ReportRecord;
pub use store::{PgStore, PoolSettings};
