//! Rebuilds the crate when a migration changes, since they are embedded into it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
