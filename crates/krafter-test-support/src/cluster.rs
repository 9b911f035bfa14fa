//! Which PostgreSQL server tests use.

/// `DATABASE_URL` when it is set; otherwise a throwaway cluster started once for this process.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL (the throwaway cluster is not wired up yet)")
}
