//! The domain ports, implemented on [`crate::PgStore`].

mod api_keys;
pub(crate) mod deliveries;
pub(crate) mod exports;
mod imports;
pub(crate) mod jobs;
pub(crate) mod ledger;
pub(crate) mod metrics;
pub mod operator;
mod organisations;
mod projects;
pub(crate) mod remediation;
mod report_source;
mod shares;
