//! What the tests of the `krafter` binary share (each test file is a crate of its own and
//! includes this module with `mod support;`).

use std::process::Output;

use krafter_test_support::TestDatabase;

/// A one-off `krafter` command against `db`: its single line of output; fails the test when the
/// command fails.
pub fn krafter(db: &TestDatabase, args: &[&str]) -> String {
    let output: Output = std::process::Command::new(env!("CARGO_BIN_EXE_krafter"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("krafter runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
