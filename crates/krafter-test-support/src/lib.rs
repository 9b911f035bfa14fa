//! Test support shared by the Krafter crates. Dev-only: no production crate depends on it.

pub mod cluster;
pub mod db;
pub mod vectors;

pub use db::TestDatabase;
