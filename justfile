# Tally's developer entry points. `.ci/run` runs the same commands.

# List the recipes.
default:
    @just --list

# Serve on 127.0.0.1:8080 (in-memory store unless DATABASE_URL is set).
run *ARGS:
    cargo run --release -p tally -- {{ARGS}}

# Run every test (Postgres tests need 127.0.0.1:5432; see README).
test:
    cargo test --workspace

# Formatting and lints; warnings are errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# API docs of every crate; rustdoc warnings are errors (as in CI).
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Check the dependency rule (docs/ARCHITECTURE.md).
deps-check:
    scripts/deps-check.sh

# Everything CI checks, installing what is missing.
ci:
    .ci/run

# Benchmarks: the standard set on both stores (~10 min); rewrites docs/BENCHMARKS.md.
bench:
    scripts/bench.sh

# The embedding benchmark: the example product's route with and without the metering
# middleware and through POST /v1/verify, both stores (~1 min; prints Markdown).
bench-embed *ARGS:
    scripts/bench-embed.sh {{ARGS}}

# The API fuzzer, longer than CI's run: schemathesis over /openapi.json on both stores, as
# admin, user and session, with stateful links (~15 min; docs/OPERATIONS.md).
fuzz *ARGS:
    scripts/fuzz.sh --examples 200 --time 150 {{ARGS}}

# Crash proof: kill -9 tally and restart Postgres under load, then check nothing acknowledged
# was lost or duplicated (~1 min; restarts the local Postgres; see docs/OPERATIONS.md).
crash-test:
    scripts/crash-test.sh
