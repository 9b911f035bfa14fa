//! End-to-end tests of the HTTP API: the real application on port 0 over PostgreSQL.

mod auth;
mod envelope;
mod exports;
mod findings;
mod gaps;
mod golden;
mod helpers;
mod hostile;
mod imports;
mod limits;
mod protocol;
mod remediation;
mod share_email;
mod shares;
mod summary;
mod typescript_client;
