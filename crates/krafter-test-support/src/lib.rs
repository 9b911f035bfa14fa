//! Test support shared by the Krafter crates. Dev-only: no production crate depends on it.

pub mod app;
pub mod cluster;
pub mod db;
pub mod moto;
pub mod remediation;
pub mod smtp;
// The vectors live with the domain crate's tests, which must carry their own data.
#[path = "../../krafter-domain/tests/support/vectors.rs"]
pub mod vectors;

pub use app::{Tenant, TestApp};
pub use db::{TableLock, TestDatabase};
