#![doc = include_str!("../README.md")]

pub mod access;
pub mod clock;
pub mod export;
pub mod health;
pub mod ids;
pub mod import;
pub mod ledger;
pub mod metrics;
pub mod organisation;
pub mod page;
pub mod project;
pub mod share;
pub mod storage;
pub mod validation;

pub use clock::{Clock, FixedClock, SystemClock};
pub use validation::{FieldError, InvalidParams};
