//! meetbot's product blocks of `/v1/users/me/analytics` — `bots`, `recordings`,
//! `transcriptions`, `webhooks` — computed from the period's rollup rows by fixed conventions
//! on the event model (docs/API.md, "meetbot"):
//!
//! - a **bot** is an event with `api_name` [`BOTS`]; its `model` names the meeting platform,
//!   its `success` its final status (`DONE` or `FATAL`);
//! - a **recording** is an event with `api_name` [`RECORDINGS`]; its `duration_ms` is the
//!   recording's length and its `units` the megabytes stored;
//! - a **transcription** is any event with a `language`; its `duration_ms` is the audio's;
//! - a **webhook delivery** is an event with `api_name` [`WEBHOOKS`]; `success` says whether
//!   the receiver accepted it and `duration_ms` is its response time.
//!
//! Tally records usage as it happens, not a bot's live state, so `active` and `IN_CALL` are 0.
//! Every field is always present, zero when there is no such usage.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tally_domain::usage::{DimValue, Totals, UsageRow};
use time::{Date, Duration};
use utoipa::ToSchema;

use crate::rollups::{dim_key, seconds};
use crate::wire::ymd;

/// `api_name` of bot events.
pub const BOTS: &str = "bots";
/// `api_name` of recording events.
pub const RECORDINGS: &str = "recordings";
/// `api_name` of webhook deliveries.
pub const WEBHOOKS: &str = "webhooks";

/// The platforms and bot statuses meetbot documents: always listed, zero when unused.
const PLATFORMS: [&str; 3] = ["google", "zoom", "teams"];
const STATUSES: [&str; 3] = ["DONE", "IN_CALL", "FATAL"];

/// One day of a daily series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayCount {
    /// The UTC day.
    #[schema(format = Date, example = "2026-11-22")]
    pub date: String,
    /// Its count (0 when nothing happened).
    pub count: i64,
}

/// The `bots` block.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotsBlock {
    /// Bot events of the period.
    pub created: i64,
    /// Always 0: Tally records usage, not a bot's live state.
    pub active: i64,
    /// Bots per meeting platform (`model`); `google`, `zoom` and `teams` are always listed.
    pub platform_breakdown: BTreeMap<String, i64>,
    /// `DONE` (successful), `IN_CALL` (always 0) and `FATAL` (failed).
    pub status_breakdown: BTreeMap<String, i64>,
    /// Bots per day, every day of the period.
    pub daily_created: Vec<DayCount>,
}

/// The `recordings` block.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingsBlock {
    /// Recording events of the period.
    pub total: i64,
    /// Their duration in seconds (an integer when whole).
    #[schema(value_type = f64)]
    pub total_duration_seconds: Value,
    /// Their units: megabytes stored.
    pub storage_used_mb: i64,
}

/// The `transcriptions` block.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptionsBlock {
    /// Events with a language in the period.
    pub total: i64,
    /// Their audio in minutes, one decimal.
    pub total_minutes: f64,
}

/// The `webhooks` block.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhooksBlock {
    /// Deliveries in the period.
    pub total_deliveries: i64,
    /// Accepted ÷ all × 100, one decimal (0 without deliveries).
    pub success_rate: f64,
    /// Mean response time, one decimal (0 without deliveries).
    pub avg_response_time_ms: f64,
}

/// meetbot's four product blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocks {
    /// `bots`.
    pub bots: BotsBlock,
    /// `recordings`.
    pub recordings: RecordingsBlock,
    /// `transcriptions`.
    pub transcriptions: TranscriptionsBlock,
    /// `webhooks`.
    pub webhooks: WebhooksBlock,
}

/// The positions of the grouping dimensions in the rows these blocks read.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    /// `api_name`.
    pub api_name: usize,
    /// `model`.
    pub model: usize,
    /// `language`.
    pub language: usize,
    /// `success`.
    pub success: usize,
}

impl Dims {
    fn api_is(self, r: &UsageRow, name: &str) -> bool {
        matches!(r.dims.get(self.api_name), Some(DimValue::Text(t)) if t == name)
    }

    fn succeeded(self, r: &UsageRow) -> bool {
        matches!(r.dims.get(self.success), Some(DimValue::Bool(true)))
    }
}

fn sum<'a>(rows: impl IntoIterator<Item = &'a UsageRow>) -> Totals {
    let mut t = Totals::default();
    for r in rows {
        t += r.totals;
    }
    t
}

/// `num / den`, rounded to one decimal; 0 when `den` is 0.
#[must_use]
pub fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        (num / den * 10.0).round() / 10.0
    }
}

/// The four blocks from the period's rows (day buckets from `first` to `last`).
#[must_use]
pub fn blocks(rows: &[UsageRow], d: Dims, first: Date, last: Date) -> Blocks {
    let bots: Vec<UsageRow> = rows.iter().filter(|r| d.api_is(r, BOTS)).cloned().collect();
    let mut platforms: BTreeMap<String, i64> =
        PLATFORMS.iter().map(|p| ((*p).to_owned(), 0)).collect();
    let mut statuses: BTreeMap<String, i64> =
        STATUSES.iter().map(|s| ((*s).to_owned(), 0)).collect();
    for r in &bots {
        if let Some(p) = r.dims.get(d.model).and_then(dim_key) {
            *platforms.entry(p).or_insert(0) += r.totals.count;
        }
        let status = if d.succeeded(r) { "DONE" } else { "FATAL" };
        *statuses.entry(status.to_owned()).or_insert(0) += r.totals.count;
    }

    let recordings = sum(rows.iter().filter(|r| d.api_is(r, RECORDINGS)));
    let transcriptions = sum(rows
        .iter()
        .filter(|r| r.dims.get(d.language).is_some_and(|l| *l != DimValue::Null)));
    let hooks: Vec<&UsageRow> = rows.iter().filter(|r| d.api_is(r, WEBHOOKS)).collect();
    let delivered = sum(hooks.iter().copied());
    let accepted = sum(hooks.iter().copied().filter(|r| d.succeeded(r)));

    Blocks {
        bots: BotsBlock {
            created: sum(&bots).count,
            active: 0,
            platform_breakdown: platforms,
            status_breakdown: statuses,
            daily_created: daily_series(first, last, &bots),
        },
        recordings: RecordingsBlock {
            total: recordings.count,
            total_duration_seconds: seconds(recordings.duration_ms),
            storage_used_mb: recordings.units,
        },
        transcriptions: TranscriptionsBlock {
            total: transcriptions.count,
            total_minutes: ratio(transcriptions.duration_ms as f64, 60_000.0),
        },
        webhooks: WebhooksBlock {
            total_deliveries: delivered.count,
            success_rate: ratio(accepted.count as f64 * 100.0, delivered.count as f64),
            avg_response_time_ms: ratio(delivered.duration_ms as f64, delivered.count as f64),
        },
    }
}

/// Every day from `first` to `last` with its count (the sum of its rows in `rows`, 0 when
/// it has none).
#[must_use]
pub fn daily_series(first: Date, last: Date, rows: &[UsageRow]) -> Vec<DayCount> {
    let mut counts: BTreeMap<Date, i64> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.bucket.date()).or_insert(0) += r.totals.count;
    }
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        out.push(DayCount {
            date: ymd(d),
            count: counts.get(&d).copied().unwrap_or(0),
        });
        d += Duration::DAY;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollups::day_start;
    use serde_json::json;
    use time::macros::date;

    fn v<T: Serialize>(t: &T) -> Value {
        serde_json::to_value(t).unwrap()
    }

    const D: Dims = Dims {
        api_name: 0,
        model: 1,
        language: 2,
        success: 3,
    };

    fn row(
        day: Date,
        api: Option<&str>,
        model: Option<&str>,
        lang: Option<&str>,
        ok: bool,
        t: Totals,
    ) -> UsageRow {
        let text = |v: Option<&str>| v.map_or(DimValue::Null, |s| DimValue::Text(s.into()));
        UsageRow {
            bucket: day_start(day),
            dims: vec![text(api), text(model), text(lang), DimValue::Bool(ok)],
            totals: t,
        }
    }

    fn t(count: i64, units: i64, duration_ms: i64) -> Totals {
        Totals {
            count,
            units,
            duration_ms,
            ..Totals::default()
        }
    }

    #[test]
    fn blocks_follow_the_conventions() {
        let (d1, d2) = (date!(2026 - 01 - 01), date!(2026 - 01 - 02));
        let rows = [
            row(d1, Some("bots"), Some("zoom"), None, true, t(2, 2, 0)),
            row(d2, Some("bots"), Some("webex"), None, false, t(1, 1, 0)),
            row(d2, Some("recordings"), None, None, true, t(2, 300, 90_000)),
            row(d2, Some("chat"), None, Some("fi"), true, t(3, 3, 90_000)),
            row(d1, Some("webhooks"), None, None, true, t(3, 3, 300)),
            row(d2, Some("webhooks"), None, None, false, t(1, 1, 101)),
        ];
        let b = blocks(&rows, D, d1, d2);
        assert_eq!(
            v(&b.bots),
            json!({"created": 3, "active": 0,
                "platformBreakdown": {"google": 0, "zoom": 2, "teams": 0, "webex": 1},
                "statusBreakdown": {"DONE": 2, "IN_CALL": 0, "FATAL": 1},
                "dailyCreated": [{"date": "2026-01-01", "count": 2}, {"date": "2026-01-02", "count": 1}]})
        );
        assert_eq!(
            v(&b.recordings),
            json!({"total": 2, "totalDurationSeconds": 90, "storageUsedMb": 300})
        );
        assert_eq!(
            v(&b.transcriptions),
            json!({"total": 3, "totalMinutes": 1.5})
        );
        assert_eq!(
            v(&b.webhooks),
            json!({"totalDeliveries": 4, "successRate": 75.0, "avgResponseTimeMs": 100.3})
        );
    }

    #[test]
    fn nothing_recorded_is_zeros_of_every_field() {
        let b = blocks(&[], D, date!(2026 - 01 - 01), date!(2026 - 01 - 01));
        assert_eq!(
            v(&b.webhooks),
            json!({"totalDeliveries": 0, "successRate": 0.0, "avgResponseTimeMs": 0.0})
        );
        assert_eq!(
            v(&b.transcriptions),
            json!({"total": 0, "totalMinutes": 0.0})
        );
        assert_eq!(
            v(&b.bots.daily_created),
            json!([{"date": "2026-01-01", "count": 0}])
        );
        assert_eq!(b.bots.status_breakdown["IN_CALL"], 0);
    }
}
