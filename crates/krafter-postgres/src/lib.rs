#![doc = include_str!("../README.md")]

pub mod local_cluster;
mod migrations;
mod pool_metrics;
mod repos;
mod rows;
mod schema;
pub mod seed;
mod store;

pub use migrations::{pending_migrations, revert_all_migrations, run_migrations};
pub use repos::operator::ReportRecord;
pub use store::{PgStore, PoolSettings};
