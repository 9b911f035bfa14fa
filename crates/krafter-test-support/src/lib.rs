//! Test support shared by the Krafter crates. Dev-only: no production crate depends on it.

pub mod app;
pub mod cluster;
pub mod db;
pub mod moto;
pub mod remediation;
pub mod smtp;
pub mod vectors;

pub use app::{Tenant, TestApp};
pub use db::{TableLock, TestDatabase};
