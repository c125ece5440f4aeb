//! `UsageQuery`: the one aggregation question every analytics surface asks, answered from
//! hourly rollups, so its cost grows with the buckets returned, not with the events recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime, Time};

use super::rollup::{hour_floor, RollupKey, Totals};
use crate::key::KeyId;
use crate::origin::Domain;
use crate::tenancy::{InvalidValue, OrgId, UserId};

/// The width of a result bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// UTC hours.
    Hour,
    /// UTC days.
    Day,
    /// UTC calendar months.
    Month,
}

impl Granularity {
    /// Parses the wire form.
    ///
    /// # Errors
    /// Anything but `hour`, `day` or `month`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "month" => Ok(Self::Month),
            _ => Err(InvalidValue::new("granularity must be hour, day or month")),
        }
    }

    /// The wire form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    /// The longest range a query at this granularity may span: 400 days of hours or days,
    /// a century of months (a query's cost follows the buckets it returns).
    #[must_use]
    pub fn max_span(self) -> Duration {
        match self {
            Self::Hour | Self::Day => MAX_QUERY_SPAN,
            Self::Month => MAX_MONTHLY_SPAN,
        }
    }

    /// The start of the bucket containing `t`.
    #[must_use]
    pub fn bucket_start(self, t: OffsetDateTime) -> OffsetDateTime {
        let t = hour_floor(t);
        match self {
            Self::Hour => t,
            Self::Day => t.date().with_time(Time::MIDNIGHT).assume_utc(),
            Self::Month => Date::from_calendar_date(t.year(), t.month(), 1)
                .unwrap_or(t.date())
                .with_time(Time::MIDNIGHT)
                .assume_utc(),
        }
    }
}

/// A dimension results can be grouped and filtered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Organisation.
    Org,
    /// User.
    User,
    /// API key.
    Key,
    /// Model.
    Model,
    /// API name.
    ApiName,
    /// Language.
    Language,
    /// Site domain.
    Domain,
    /// Success flag.
    Success,
    /// Whether the event was an API call (had an HTTP method).
    ApiCall,
    /// HTTP status class (`2xx`, `4xx`, …).
    StatusClass,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Self; 10] = [
        Self::Org,
        Self::User,
        Self::Key,
        Self::Model,
        Self::ApiName,
        Self::Language,
        Self::Domain,
        Self::Success,
        Self::ApiCall,
        Self::StatusClass,
    ];

    /// The wire name (`org`, `user`, `key`, `model`, `api_name`, `language`, `domain`,
    /// `success`, `api_call`, `status_class`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Org => "org",
            Self::User => "user",
            Self::Key => "key",
            Self::Model => "model",
            Self::ApiName => "api_name",
            Self::Language => "language",
            Self::Domain => "domain",
            Self::Success => "success",
            Self::ApiCall => "api_call",
            Self::StatusClass => "status_class",
        }
    }

    /// Parses the wire name.
    ///
    /// # Errors
    /// An unknown dimension (the message lists the known ones).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL.into_iter().find(|d| d.as_str() == s).ok_or_else(|| {
            InvalidValue(format!(
                "unknown group_by dimension {s:?}; use org, user, key, model, api_name, language, domain, success, api_call or status_class"
            ))
        })
    }

    /// This dimension's value in a rollup row.
    #[must_use]
    pub fn value_of(self, k: &RollupKey) -> DimValue {
        let text = |s: &Option<String>| s.clone().map_or(DimValue::Null, DimValue::Text);
        match self {
            Self::Org => DimValue::Text(k.org_id.as_str().to_owned()),
            Self::User => k
                .user_id
                .map_or(DimValue::Null, |u| DimValue::Text(u.to_string())),
            Self::Key => k.key_id.map_or(DimValue::Null, |id| DimValue::Int(id.0)),
            Self::Model => text(&k.model),
            Self::ApiName => text(&k.api_name),
            Self::Language => text(&k.language),
            Self::Domain => k
                .domain
                .as_ref()
                .map_or(DimValue::Null, |d| DimValue::Text(d.to_string())),
            Self::Success => DimValue::Bool(k.success),
            Self::ApiCall => DimValue::Bool(k.api_call),
            Self::StatusClass => k
                .status_class
                .map_or(DimValue::Null, |c| DimValue::Text(format!("{c}xx"))),
        }
    }
}

/// A dimension value in a result row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DimValue {
    /// Not set.
    Null,
    /// A boolean (success).
    Bool(bool),
    /// A number (key id).
    Int(i64),
    /// Text.
    Text(String),
}

/// A metric a query can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Events.
    Count,
    /// Units.
    Units,
    /// Cost (USD on the wire).
    CostUsd,
    /// Tokens.
    Tokens,
    /// Quota.
    Quota,
    /// Duration.
    DurationMs,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Self; 6] = [
        Self::Count,
        Self::Units,
        Self::CostUsd,
        Self::Tokens,
        Self::Quota,
        Self::DurationMs,
    ];

    /// Parses the wire name.
    ///
    /// # Errors
    /// An unknown metric.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "count" => Ok(Self::Count),
            "units" => Ok(Self::Units),
            "cost_usd" => Ok(Self::CostUsd),
            "tokens" => Ok(Self::Tokens),
            "quota" => Ok(Self::Quota),
            "duration_ms" => Ok(Self::DurationMs),
            _ => Err(InvalidValue(format!(
                "unknown metric {s:?}; use count, units, cost_usd, tokens, quota or duration_ms"
            ))),
        }
    }
}

/// Equality filters; every set filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilters {
    /// Organisation.
    pub org_id: Option<OrgId>,
    /// User.
    pub user_id: Option<UserId>,
    /// Key.
    pub key_id: Option<KeyId>,
    /// Model.
    pub model: Option<String>,
    /// API name.
    pub api_name: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Domain.
    pub domain: Option<Domain>,
    /// Success flag.
    pub success: Option<bool>,
    /// API calls only (`true`) or non-calls only (`false`).
    pub api_call: Option<bool>,
    /// Status class (`2` for 2xx …).
    pub status_class: Option<u16>,
}

impl UsageFilters {
    /// Whether a rollup row passes every filter.
    #[must_use]
    pub fn matches(&self, k: &RollupKey) -> bool {
        fn eq<T: PartialEq>(f: Option<&T>, v: &T) -> bool {
            f.is_none_or(|f| f == v)
        }
        eq(self.org_id.as_ref(), &k.org_id)
            && self.user_id.is_none_or(|u| k.user_id == Some(u))
            && self.key_id.is_none_or(|id| k.key_id == Some(id))
            && self
                .model
                .as_ref()
                .is_none_or(|m| k.model.as_ref() == Some(m))
            && self
                .api_name
                .as_ref()
                .is_none_or(|m| k.api_name.as_ref() == Some(m))
            && self
                .language
                .as_ref()
                .is_none_or(|m| k.language.as_ref() == Some(m))
            && self
                .domain
                .as_ref()
                .is_none_or(|m| k.domain.as_ref() == Some(m))
            && eq(self.success.as_ref(), &k.success)
            && eq(self.api_call.as_ref(), &k.api_call)
            && self.status_class.is_none_or(|c| k.status_class == Some(c))
    }
}

/// The longest range an hourly or daily query may span.
pub const MAX_QUERY_SPAN: Duration = Duration::days(400);

/// The longest range a monthly query may span (about a century: "all time").
pub const MAX_MONTHLY_SPAN: Duration = Duration::days(36_525);

/// An aggregation over `[from, to)`, at hour precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    from: OffsetDateTime,
    to: OffsetDateTime,
    granularity: Granularity,
    group_by: Vec<Dimension>,
    filters: UsageFilters,
    metrics: Vec<Metric>,
}

impl UsageQuery {
    /// Builds a query. `from` is rounded down and `to` up to whole UTC hours, the precision of
    /// the rollups. Duplicate dimensions are dropped; no metrics means all of them.
    ///
    /// # Errors
    /// `from` not before `to`, or a span above [`Granularity::max_span`].
    pub fn new(
        from: OffsetDateTime,
        to: OffsetDateTime,
        granularity: Granularity,
        group_by: Vec<Dimension>,
        filters: UsageFilters,
        metrics: Vec<Metric>,
    ) -> Result<Self, InvalidValue> {
        if from >= to {
            return Err(InvalidValue::new("from must be before to"));
        }
        if to - from > granularity.max_span() {
            return Err(InvalidValue::new(match granularity {
                Granularity::Month => "a monthly range must not exceed 100 years",
                _ => "the range must not exceed 400 days (use granularity=month for longer)",
            }));
        }
        let from = hour_floor(from);
        let to_floor = hour_floor(to);
        let to = if to_floor == to {
            to
        } else {
            to_floor + Duration::HOUR
        };
        let mut dims = Vec::new();
        for d in group_by {
            if !dims.contains(&d) {
                dims.push(d);
            }
        }
        let metrics = if metrics.is_empty() {
            Metric::ALL.to_vec()
        } else {
            metrics
        };
        Ok(Self {
            from,
            to,
            granularity,
            group_by: dims,
            filters,
            metrics,
        })
    }

    /// Start (inclusive, whole hour).
    #[must_use]
    pub fn from(&self) -> OffsetDateTime {
        self.from
    }
    /// End (exclusive, whole hour).
    #[must_use]
    pub fn to(&self) -> OffsetDateTime {
        self.to
    }
    /// Bucket width.
    #[must_use]
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }
    /// Grouping dimensions, in order.
    #[must_use]
    pub fn group_by(&self) -> &[Dimension] {
        &self.group_by
    }
    /// Filters.
    #[must_use]
    pub fn filters(&self) -> &UsageFilters {
        &self.filters
    }
    /// Requested metrics.
    #[must_use]
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// Whether a rollup row falls inside the range and passes the filters.
    #[must_use]
    pub fn selects(&self, k: &RollupKey) -> bool {
        k.hour >= self.from && k.hour < self.to && self.filters.matches(k)
    }

    /// The reference evaluation over rollup rows: group, sum, drop empty groups, and order by
    /// bucket then group values. Every store must return exactly this.
    pub fn evaluate<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a RollupKey, &'a Totals)>,
    ) -> Vec<UsageRow> {
        let mut groups: BTreeMap<(OffsetDateTime, Vec<DimValue>), Totals> = BTreeMap::new();
        for (k, t) in rows {
            if self.selects(k) {
                let dims = self.group_by.iter().map(|d| d.value_of(k)).collect();
                *groups
                    .entry((self.granularity.bucket_start(k.hour), dims))
                    .or_default() += *t;
            }
        }
        groups
            .into_iter()
            .filter(|(_, t)| !t.is_zero())
            .map(|((bucket, dims), totals)| UsageRow {
                bucket,
                dims,
                totals,
            })
            .collect()
    }
}

/// One result row: a bucket, the group's dimension values (in `group_by` order) and its sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// Start of the bucket.
    pub bucket: OffsetDateTime,
    /// One value per grouping dimension.
    pub dims: Vec<DimValue>,
    /// Sums.
    pub totals: Totals,
}

/// The first instant of the month after `t`'s (UTC).
#[must_use]
pub fn next_month_start(t: OffsetDateTime) -> OffsetDateTime {
    let start = Granularity::Month.bucket_start(t);
    let (y, m) = match start.month() {
        Month::December => (start.year() + 1, Month::January),
        m => (start.year(), m.next()),
    };
    Date::from_calendar_date(y, m, 1)
        .unwrap_or(start.date())
        .with_time(Time::MIDNIGHT)
        .assume_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key(hour: OffsetDateTime, model: &str, success: bool) -> RollupKey {
        RollupKey {
            hour,
            org_id: OrgId::default_org(),
            user_id: None,
            key_id: Some(KeyId(1)),
            model: Some(model.into()),
            api_name: None,
            language: None,
            domain: None,
            success,
            api_call: false,
            status_class: None,
        }
    }

    fn t(count: i64) -> Totals {
        Totals {
            count,
            units: count * 2,
            ..Totals::default()
        }
    }

    #[test]
    fn buckets() {
        let x = datetime!(2026-02-14 13:45:10 UTC);
        assert_eq!(
            Granularity::Hour.bucket_start(x),
            datetime!(2026-02-14 13:00 UTC)
        );
        assert_eq!(
            Granularity::Day.bucket_start(x),
            datetime!(2026-02-14 0:00 UTC)
        );
        assert_eq!(
            Granularity::Month.bucket_start(x),
            datetime!(2026-02-01 0:00 UTC)
        );
        assert_eq!(
            next_month_start(datetime!(2026-12-31 23:00 UTC)),
            datetime!(2027-01-01 0:00 UTC)
        );
    }

    #[test]
    fn range_is_rounded_to_hours_and_validated() {
        let q = UsageQuery::new(
            datetime!(2026-01-01 10:30 UTC),
            datetime!(2026-01-01 11:10 UTC),
            Granularity::Hour,
            vec![Dimension::Model, Dimension::Model],
            UsageFilters::default(),
            vec![],
        )
        .unwrap();
        assert_eq!(q.from(), datetime!(2026-01-01 10:00 UTC));
        assert_eq!(q.to(), datetime!(2026-01-01 12:00 UTC));
        assert_eq!(q.group_by(), &[Dimension::Model]);
        assert_eq!(q.metrics().len(), 6);
        let same = datetime!(2026-01-01 10:00 UTC);
        assert!(UsageQuery::new(
            same,
            same,
            Granularity::Day,
            vec![],
            UsageFilters::default(),
            vec![]
        )
        .is_err());
        assert!(UsageQuery::new(
            same,
            same + Duration::days(401),
            Granularity::Day,
            vec![],
            UsageFilters::default(),
            vec![]
        )
        .is_err());
        let century = UsageQuery::new(
            same,
            same + Duration::days(30 * 365),
            Granularity::Month,
            vec![],
            UsageFilters::default(),
            vec![],
        );
        assert!(century.is_ok());
        assert!(Dimension::parse("colour").unwrap_err().0.contains("colour"));
    }

    #[test]
    fn evaluation_groups_filters_and_orders() {
        let h = |n: u8| datetime!(2026-01-01 0:00 UTC) + Duration::hours(n.into());
        let rows = [
            (key(h(1), "b", true), t(1)),
            (key(h(2), "a", true), t(2)),
            (key(h(3), "a", false), t(4)),
            (key(h(25), "a", true), t(8)),
            (key(h(50), "a", true), t(16)),
            (key(h(4), "c", true), Totals::default()),
        ];
        let q = UsageQuery::new(
            h(0),
            h(48),
            Granularity::Day,
            vec![Dimension::Model],
            UsageFilters {
                success: Some(true),
                ..UsageFilters::default()
            },
            vec![],
        )
        .unwrap();
        let out = q.evaluate(rows.iter().map(|(k, v)| (k, v)));
        let got: Vec<_> = out
            .iter()
            .map(|r| (r.bucket, r.dims.clone(), r.totals.count))
            .collect();
        assert_eq!(
            got,
            vec![
                (h(0), vec![DimValue::Text("a".into())], 2),
                (h(0), vec![DimValue::Text("b".into())], 1),
                (h(24), vec![DimValue::Text("a".into())], 8),
            ]
        );
    }
}
