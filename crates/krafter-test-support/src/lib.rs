//! Test support shared by the Krafter crates. Dev-only: no production crate depends on it.

pub mod app;
pub mod cluster;
pub mod db;
pub mod smtp;
pub mod vectors;

pub use app::{TableLock, Tenant, TestApp};
pub use db::TestDatabase;
