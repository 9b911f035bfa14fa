//! Test support shared by the Krafter crates. Dev-only: no production crate depends on it.

pub mod vectors;
