//! The domain ports, implemented on [`crate::PgStore`].

mod api_keys;
pub(crate) mod ledger;
pub(crate) mod metrics;
mod organisations;
mod projects;
