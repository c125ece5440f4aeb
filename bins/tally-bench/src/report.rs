//! Markdown tables of results.

use crate::stats::{ms, Summary};

/// The header of a load table.
pub const HEADER: &str =
    "| scenario | store | conns | req/s (median) | p50 ms | p90 ms | p99 ms | \
max ms | errors | runs (req/s) | server peak RSS MiB |\n\
|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|";

/// One table row: the median of `runs`, each run's rate, and the server's peak RSS.
#[must_use]
pub fn row(
    name: &str,
    store: &str,
    conns: usize,
    runs: &[Summary],
    rss_kib: Option<u64>,
) -> String {
    let m = Summary::median(runs);
    let each = runs
        .iter()
        .map(|r| format!("{:.0}", r.rps))
        .collect::<Vec<_>>()
        .join(" / ");
    format!(
        "| {name} | {store} | {conns} | {:.0} | {} | {} | {} | {} | {} | {each} | {} |",
        m.rps,
        ms(m.p50),
        ms(m.p90),
        ms(m.p99),
        ms(m.max),
        m.errors_text(),
        mib(rss_kib)
    )
}

/// KiB as MiB, or `n/a`.
#[must_use]
pub fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0))
}

/// A scenario's Markdown and the figures other sections compare against.
#[derive(Debug, Default)]
pub struct Section {
    /// The Markdown.
    pub text: String,
    /// Named figures (`verify.many.rps`, `pgbench.many.tps`, …).
    pub figures: Vec<(String, f64)>,
}

/// The ratios of the server's Postgres rates to pgbench's, for figures of one invocation.
#[must_use]
pub fn ratios(figures: &[(String, f64)]) -> Option<String> {
    let get = |name: &str| figures.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let pairs = [
        ("verify, 10,000 keys", "verify.many.rps", "pgbench.many.tps"),
        ("verify, 1 hot key", "verify.hot.rps", "pgbench.hot.tps"),
        (
            "captions vs its own statements (captions.sql)",
            "captions.rps",
            "pgbench.captions.tps",
        ),
        (
            "captions vs one verify's statements",
            "captions.rps",
            "pgbench.many.tps",
        ),
        (
            "verify, 10,000 keys vs batched",
            "verify.many.rps",
            "pgbench.batched.many.mps",
        ),
        (
            "verify, 1 hot key vs batched",
            "verify.hot.rps",
            "pgbench.batched.hot.mps",
        ),
        (
            "verify, 10,000 keys vs bare INSERT",
            "verify.many.rps",
            "pgbench.insert.tps",
        ),
        (
            "verify, 1 hot key vs bare INSERT",
            "verify.hot.rps",
            "pgbench.insert.tps",
        ),
        (
            "captions vs bare INSERT",
            "captions.rps",
            "pgbench.insert.tps",
        ),
    ];
    let lines: Vec<String> = pairs
        .iter()
        .filter_map(|(label, server, db)| {
            let (s, d) = (get(server)?, get(db)?);
            Some(format!(
                "| {label} | {s:.0} | {d:.0} | {:.0} % |",
                100.0 * s / d.max(1e-9)
            ))
        })
        .collect();
    let paired: Vec<String> = [
        ("verify, 10,000 keys", "verify.many"),
        ("verify, 1 hot key", "verify.hot"),
        ("captions", "captions"),
    ]
    .iter()
    .filter_map(|(label, name)| {
        let ratio = get(&format!("{name}.paired"))?;
        Some(format!(
            "| {label} | {:.0} | {:.0} | {:.0} % |",
            get(&format!("{name}.rps"))?,
            get(&format!("{name}.insert.tps"))?,
            100.0 * ratio
        ))
    })
    .collect();
    let mut tables = Vec::new();
    if !lines.is_empty() {
        tables.push(format!(
            "### Postgres: server rate as a share of the database's own ceiling (same run)\n\n\
             pgbench figure: the best of its client counts for the same key shape — one meter \
             per transaction (tx/s), the batched form (meters/s), or the bare durable INSERT \
             (tx/s).\n\n\
             | workload | server req/s | pgbench | ratio |\n|---|---:|---:|---:|\n{}",
            lines.join("\n")
        ));
    }
    if !paired.is_empty() {
        tables.push(format!(
            "### Postgres: server rate ÷ the bare INSERT run right before it\n\n\
             `--paired-insert`: each measured run follows one pgbench run of the bare durable \
             INSERT (10 clients, same duration, the server idle); the ratio is the median of \
             the run-by-run ratios, the rates the medians of each side's runs.\n\n\
             | workload | server req/s | bare INSERT tx/s | ratio |\n|---|---:|---:|---:|\n{}",
            paired.join("\n")
        ));
    }
    (!tables.is_empty()).then(|| tables.join("\n\n"))
}
