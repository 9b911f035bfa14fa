# Krafter Reports. `just --list` shows the recipes.

# Serve the API on 127.0.0.1:8080 (with its own PostgreSQL unless DATABASE_URL is set); extra arguments go to `krafter`
run *args:
    cargo run --release -- {{args}}

# The test suite (against DATABASE_URL, or a throwaway PostgreSQL cluster per test binary)
test:
    cargo test --workspace

# Formatting, clippy, and the domain's independence from infrastructure crates
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    bash .ci/domain-purity

# Benchmarks (see docs/benchmarks.md): the summary and remediation through HTTP at 10,000 and
# 1,000,000 findings and for an organisation of 1,000 projects, the ledger's write rate with and
# without the remediation totals, exports and SARIF imports through `krafter serve`, and the PDF renderer
bench:
    cargo bench -p krafter-server --bench summary
    cargo bench -p krafter-server --bench writes
    cargo bench -p krafter-server --bench export
    cargo bench -p krafter-server --bench imports
    cargo bench -p krafter-render --bench pdf

# The summary under load (wrk -t2 -c64) at 1,000,000 findings, next to /healthz and pgbench on the
# summary's query (see docs/benchmarks.md); needs wrk and pgbench
load:
    bash crates/krafter-server/benches/load.sh

# Everything CI runs, including the smoke test with the local cluster
ci:
    bash .ci/run
