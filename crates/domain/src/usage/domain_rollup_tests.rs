use super::*;
use time::macros::{date, datetime};

fn d(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

#[test]
fn captions_count_per_caption_and_batches_only_above_one() {
    let mut c = DomainCounters::default();
    c.apply(DomainActivity::Delivered { batch_size: 2 });
    c.apply(DomainActivity::Delivered { batch_size: 1 });
    c.apply(DomainActivity::Failed { batch_size: 5 });
    assert_eq!(
        (c.captions_sent, c.batches_sent, c.captions_failed),
        (3, 1, 5)
    );
}

#[test]
fn peak_is_the_largest_concurrency_seen() {
    let mut c = DomainCounters::default();
    for open in [1, 3, 2] {
        c.apply(DomainActivity::SessionStarted {
            open_sessions: open,
        });
    }
    c.apply(DomainActivity::SessionEnded { duration_ms: 500 });
    assert_eq!(
        (
            c.sessions_started,
            c.peak_sessions,
            c.sessions_ended,
            c.total_duration_ms
        ),
        (3, 3, 1, 500)
    );
}

#[test]
fn rows_land_in_the_utc_hour() {
    let k = DomainRollupKey::at(d("a.example"), datetime!(2026-01-01 23:59:59 UTC));
    assert_eq!((k.date, k.hour), (date!(2026 - 01 - 01), 23));
    let k = DomainRollupKey::at(d("a.example"), datetime!(2026-01-02 0:00 UTC));
    assert_eq!((k.date, k.hour), (date!(2026 - 01 - 02), 0));
}

#[test]
fn day_rows_sum_and_keep_max_peak() {
    let org = OrgId::default_org();
    let a = d("a.example");
    let rows = [
        (
            DomainRollupKey {
                date: date!(2026 - 01 - 01),
                hour: 1,
                domain: a.clone(),
            },
            DomainCounters {
                captions_sent: 2,
                peak_sessions: 4,
                ..DomainCounters::default()
            },
        ),
        (
            DomainRollupKey {
                date: date!(2026 - 01 - 01),
                hour: 5,
                domain: a.clone(),
            },
            DomainCounters {
                captions_sent: 3,
                peak_sessions: 2,
                ..DomainCounters::default()
            },
        ),
        (
            DomainRollupKey {
                date: date!(2026 - 01 - 03),
                hour: 5,
                domain: a.clone(),
            },
            DomainCounters {
                captions_sent: 9,
                ..DomainCounters::default()
            },
        ),
        (
            DomainRollupKey {
                date: date!(2026 - 01 - 01),
                hour: 5,
                domain: d("b.example"),
            },
            DomainCounters {
                captions_sent: 1,
                ..DomainCounters::default()
            },
        ),
    ];
    let q = DomainUsageQuery::new(
        date!(2026 - 01 - 01),
        date!(2026 - 01 - 02),
        false,
        None,
        Some(vec![d("http://a.example")]),
    )
    .unwrap();
    let out = q.evaluate(rows.iter().map(|(k, v)| (&org, k, v)));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (
            out[0].counters.captions_sent,
            out[0].counters.peak_sessions,
            out[0].hour
        ),
        (5, 4, None)
    );
    let q = DomainUsageQuery::new(
        date!(2026 - 01 - 01),
        date!(2026 - 01 - 03),
        true,
        Some(a),
        None,
    )
    .unwrap();
    assert_eq!(q.evaluate(rows.iter().map(|(k, v)| (&org, k, v))).len(), 3);
}

#[test]
fn range_rules() {
    assert!(DomainUsageQuery::new(
        date!(2026 - 01 - 02),
        date!(2026 - 01 - 01),
        false,
        None,
        None
    )
    .is_err());
    assert!(DomainUsageQuery::new(
        date!(2025 - 01 - 01),
        date!(2026 - 01 - 01),
        false,
        None,
        None
    )
    .is_ok());
    assert!(DomainUsageQuery::new(
        date!(2024 - 01 - 01),
        date!(2024 - 12 - 31),
        false,
        None,
        None
    )
    .is_ok());
    assert!(DomainUsageQuery::new(
        date!(2024 - 01 - 01),
        date!(2025 - 01 - 01),
        false,
        None,
        None
    )
    .is_err());
}

#[test]
fn organisations_merge_across_and_stay_apart_within() {
    let (one, two) = (OrgId::default_org(), OrgId::parse("org_two").unwrap());
    let k = DomainRollupKey::at(d("a.example"), datetime!(2026-01-01 10:00 UTC));
    let c = |sent, peak| DomainCounters {
        captions_sent: sent,
        peak_sessions: peak,
        ..DomainCounters::default()
    };
    let rows = [(one.clone(), k.clone(), c(2, 3)), (two.clone(), k, c(5, 1))];
    let rows = || rows.iter().map(|(o, k, v)| (o, k, v));
    let q = DomainUsageQuery::new(
        date!(2026 - 01 - 01),
        date!(2026 - 01 - 01),
        true,
        None,
        None,
    )
    .unwrap();
    assert_eq!(q.org(), None);
    let all = q.evaluate(rows());
    assert_eq!(
        all.iter().map(|r| r.counters).collect::<Vec<_>>(),
        [c(7, 3)]
    );
    let within = q.clone().within(two.clone());
    assert_eq!(within.org(), Some(&two));
    let theirs = within.evaluate(rows());
    assert_eq!(
        theirs.iter().map(|r| r.counters).collect::<Vec<_>>(),
        [c(5, 1)]
    );
    let none = q
        .within(OrgId::parse("org_three").unwrap())
        .evaluate(rows());
    assert!(none.is_empty());
}
