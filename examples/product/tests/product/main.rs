//! The example product's one test binary: black-box tests of the metered product over real
//! HTTP (memory by default; `TALLY_TEST_STORE=postgres` for a cloned Postgres database per
//! app), and the quota program's own tests on the in-memory store with a fixed clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed expectation is a failed test"
)]

mod helpers;
mod metering;
mod quota;
