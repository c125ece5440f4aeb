//! Meter throughput of the Postgres store: operations per second and latency with 1, 8 and
//! 32 concurrent callers, on a fresh database cloned from the test template.
//!
//! ```sh
//! cargo run --release -p tally_store_pg --example meter_bench [seconds per run, default 5]
//! ```
//!
//! Two shapes per concurrency: every caller on its own key (the usual case: many keys), and
//! every caller on one hot key (serialised by the key's row lock).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: failing loudly is the point"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tally_domain::key::ApiKey;
use tally_domain::limits::{Limits, Units};
use tally_domain::ports::MeterRequest;
use tally_domain::usage::{EventKind, NewUsageEvent};
use tally_domain::{KeyStore, UsageStore};
use tally_store_pg::testing::TestDb;
use tally_store_pg::{PgOptions, PgStore};
use tally_testkit::new_key;
use time::OffsetDateTime;
use uuid::Uuid;

fn request(key: &ApiKey, n: u64) -> MeterRequest {
    let now = tally_domain::clock::truncate_to_micros(OffsetDateTime::now_utc());
    let mut event = NewUsageEvent::new(key.org_id.clone(), EventKind::Request, now);
    event.method = Some("POST".into());
    event.path = Some("/v1/verify".into());
    event.status_code = Some(200);
    MeterRequest {
        event_id: Uuid::from_u128((u128::from(n) << 64) | 0x4000_8000_0000_0000_u128),
        key: key.id.into(),
        units: Units::ONE,
        event,
        session: None,
        session_lifetime: None,
        now,
    }
}

fn run(store: &PgStore, keys: &[ApiKey], callers: usize, secs: u64) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let stop = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = thread::scope(|scope| {
        let handles: Vec<_> = (0..callers)
            .map(|i| {
                let key = &keys[i % keys.len()];
                scope.spawn(move || {
                    let mut lat = Vec::new();
                    while Instant::now() < stop {
                        let req = request(key, NEXT.fetch_add(1, Ordering::Relaxed));
                        let t = Instant::now();
                        store.meter(req).expect("meter");
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i].as_secs_f64() * 1_000.0
    };
    println!(
        "{callers:>3} callers, {:>9}: {:>7.0} meters/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} ops)",
        if keys.len() == 1 {
            "one key"
        } else {
            "own keys"
        },
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        latencies.len()
    );
}

fn main() {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let db = TestDb::create().expect("a reachable Postgres (TALLY_TEST_DATABASE_URL)");
    // For experiments: SQL run on the fresh database first (e.g. dropping an index).
    if let Ok(sql) = std::env::var("BENCH_SETUP_SQL") {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut conn = diesel::PgConnection::establish(db.url()).unwrap();
        conn.batch_execute(&sql).unwrap();
    }
    for callers in [1usize, 8, 32] {
        let options = PgOptions {
            max_connections: u32::try_from(callers).unwrap(),
            ..PgOptions::default()
        };
        let store = db.store_with(options);
        let keys: Vec<ApiKey> = (0..callers)
            .map(|i| {
                let secret = format!("bench-{callers}-{i}-key");
                store
                    .create_key(new_key(&secret, Limits::default()))
                    .unwrap()
            })
            .collect();
        run(&store, &keys, callers, secs);
        if callers > 1 {
            run(&store, &keys[..1], callers, secs);
        }
    }
}
