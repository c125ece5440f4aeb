//! lyrcs.ai (seed 003): `GET /api/v1/usage`, organisation totals all time or per period.

use serde_json::{json, Map, Value};
use time::Duration;

use crate::lcyt_client::ADMIN;
use crate::seed_client::{seeded, Ev, World};

fn ymd(d: time::Date) -> String {
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn expected(w: &World, org: &str, period: &str, keep: impl Fn(&Ev) -> bool) -> Value {
    let evs = w.select(|e| e.org == org && keep(e));
    let mut langs = Map::new();
    for e in &evs {
        if let Some(l) = e.language {
            let n = langs.get(l).and_then(Value::as_i64).unwrap_or(0);
            langs.insert(l.to_owned(), json!(n + 1));
        }
    }
    let ms: i64 = evs.iter().map(|e| e.duration_ms).sum();
    let seconds = if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(format!("{}.{:03}", ms / 1000, ms % 1000)
            .trim_end_matches('0')
            .parse::<f64>()
            .unwrap())
    };
    json!({
        "org_id": org,
        "period": period,
        "total_jobs": evs.len(),
        "completed_jobs": evs.iter().filter(|e| e.success).count(),
        "total_duration_seconds": seconds,
        "jobs_by_language": langs,
        "api_calls": evs.iter().filter(|e| e.method.is_some()).count(),
    })
}

#[actix_web::test]
async fn all_time_totals_of_the_callers_organisation() {
    let w = seeded().await;
    let res = w.app.get_as(&w.alice.token, "/api/v1/usage").await;
    assert_eq!(res.status, 200);
    let want = expected(&w, "org_default", "all_time", |_| true);
    assert_eq!(res.json(), want);
    assert_eq!(
        want["total_jobs"], 10,
        "the dataset is what the test thinks"
    );
    // Bob and keys of the organisation see the same organisation totals.
    assert_eq!(
        w.app.get_as(&w.bob.token, "/api/v1/usage").await.json(),
        want
    );
    assert_eq!(
        w.app.get_as(&w.bob.keys[0].1, "/api/v1/usage").await.json(),
        want
    );
    let carol = w
        .app
        .get_as(&w.carol.keys[0].1, "/api/v1/usage")
        .await
        .json();
    assert_eq!(carol, expected(&w, "org_lyr", "all_time", |_| true));
    assert_eq!(carol["total_duration_seconds"], json!(42.345));
}

#[actix_web::test]
async fn from_and_to_narrow_the_period() {
    let w = seeded().await;
    let today = w.now.date();
    let (from, to) = (today - Duration::days(3), today - Duration::days(1));
    let q = format!("/api/v1/usage?from={}&to={}", ymd(from), ymd(to));
    let res = w.app.get_as(&w.alice.token, &q).await;
    assert_eq!(res.status, 200);
    let period = format!("{}..{}", ymd(from), ymd(to));
    let in_range = |e: &Ev| e.at.date() >= from && e.at.date() <= to;
    assert_eq!(res.json(), expected(&w, "org_default", &period, in_range));
    let one_day = format!("/api/v1/usage?from={0}&to={0}", ymd(today));
    let res = w.app.get_as(&w.carol.token, &one_day).await.json();
    let today_only = |e: &Ev| e.at.date() == today;
    let label = format!("{0}..{0}", ymd(today));
    assert_eq!(res, expected(&w, "org_lyr", &label, today_only));
    let year = format!(
        "/api/v1/usage?from={}&to={}",
        ymd(today - Duration::days(365)),
        ymd(today)
    );
    assert_eq!(w.app.get_as(&w.alice.token, &year).await.status, 200);
    for bad in [
        format!("from={}", ymd(today)),
        format!("to={}", ymd(today)),
        format!("from={}&to={}", ymd(today), ymd(from)),
        format!(
            "from={}&to={}",
            ymd(today - Duration::days(366)),
            ymd(today)
        ),
        "from=2026-02-30&to=2026-03-01".to_owned(),
        "from=yesterday&to=today".to_owned(),
    ] {
        let res = w
            .app
            .get_as(&w.alice.token, &format!("/api/v1/usage?{bad}"))
            .await;
        assert_eq!(res.status, 400, "{bad}");
    }
}

#[actix_web::test]
async fn other_organisations_are_not_found() {
    let w = seeded().await;
    let res = w
        .app
        .get_as(&w.alice.token, "/api/v1/usage?org_id=org_lyr")
        .await;
    assert_eq!(res.status, 404, "cross-org access looks like nothing");
    let own = w
        .app
        .get_as(&w.alice.token, "/api/v1/usage?org_id=org_default")
        .await;
    assert_eq!(own.status, 200);
    let admin = |q: &'static str| w.app.call("GET", q, &[("X-Admin-Key", ADMIN)], None);
    let res = admin("/api/v1/usage?org_id=org_lyr").await;
    assert_eq!(res.json(), expected(&w, "org_lyr", "all_time", |_| true));
    assert_eq!(admin("/api/v1/usage").await.json()["org_id"], "org_default");
    assert_eq!(admin("/api/v1/usage?org_id=org_nope").await.status, 404);
    let root = w.app.get_as(&w.root, "/api/v1/usage?org_id=org_lyr").await;
    assert_eq!(
        root.status, 200,
        "an admin-role token may read any organisation"
    );
    assert_eq!(w.app.get("/api/v1/usage").await.status, 401);
    assert_eq!(
        w.app.get_as("wrong-key-123", "/api/v1/usage").await.status,
        401
    );
}
