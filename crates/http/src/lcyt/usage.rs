//! `GET /usage` without a Bearer credential: per-site caption analytics (the lcyt seed).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::limits::utc_day;
use tally_domain::origin::{AllowedDomains, Domain};
use tally_domain::usage::DomainUsageQuery;
use time::Duration;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::principal::check_admin;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{parse_ymd, ymd};

/// Query of `GET /usage` without a Bearer credential (other parameters are ignored).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DomainUsageParams {
    /// First day (UTC), a real calendar date; default 30 days before today. The range may
    /// span at most 366 days and `from` must not be after `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Last day (UTC), inclusive; default today.
    #[param(format = Date)]
    to: Option<String>,
    /// `day` (default) or `hour`.
    #[param(pattern = "^(hour|day)$")]
    granularity: Option<String>,
    /// One site, normalised as in `POST /live`; default all.
    #[param(min_length = 1, max_length = 255)]
    domain: Option<String>,
}

/// The per-site usage answer of `GET /usage` (lcyt's snake_case rows).
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteUsageResponse {
    /// First day of the range.
    #[schema(format = Date)]
    pub from: String,
    /// Last day of the range.
    #[schema(format = Date)]
    pub to: String,
    /// `day` or `hour`.
    #[schema(pattern = "^(hour|day)$")]
    pub granularity: &'static str,
    /// Whether `USAGE_PUBLIC` answered (no credential).
    pub public: bool,
    /// One row per site and day (or hour) with activity: by date, (hour,) then domain.
    pub data: Vec<SiteUsageRow>,
}

/// One row of [`SiteUsageResponse`].
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteUsageRow {
    /// The site, normalised.
    pub domain: String,
    /// The UTC day.
    #[schema(format = Date)]
    pub date: String,
    /// The UTC hour (0-23); only in hourly rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0, maximum = 23)]
    pub hour: Option<u8>,
    /// Sessions opened.
    pub sessions_started: u64,
    /// Sessions ended (erased ones included).
    pub sessions_ended: u64,
    /// Captions delivered.
    pub captions_sent: u64,
    /// Captions whose delivery failed.
    pub captions_failed: u64,
    /// Delivered batches of more than one caption.
    pub batches_sent: u64,
    /// Summed duration of the ended sessions, in ms.
    pub total_duration_ms: u64,
    /// The most sessions of the site open at once (day rows: the largest hourly peak).
    pub peak_sessions: u64,
}

/// `GET /usage?from&to&granularity&domain`: admin key, or nobody when `USAGE_PUBLIC` is set
/// (then CORS answers only origins on `ALLOWED_DOMAINS`, and only their rows are returned).
///
/// # Errors
/// 400 for bad dates, ranges or granularity; the admin checks; 503.
pub async fn domain_usage(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<DomainUsageParams>,
) -> Result<HttpResponse, ApiError> {
    let public = state.settings.usage_public;
    if !public {
        if state.settings.admin_key.is_none() {
            return Err(ApiError::NotConfigured(
                "Usage stats are not publicly available. Set USAGE_PUBLIC or ADMIN_KEY.".to_owned(),
            ));
        }
        check_admin(&req, &state)?;
    }
    let today = utc_day(state.ports.clock.now());
    let p = params.into_inner();
    let to =
        p.to.as_deref()
            .map(|s| parse_ymd("to", s))
            .transpose()?
            .unwrap_or(today);
    let from = p
        .from
        .as_deref()
        .map(|s| parse_ymd("from", s))
        .transpose()?
        .unwrap_or(today - Duration::days(30));
    let hourly = match p.granularity.as_deref().unwrap_or("day") {
        "day" => false,
        "hour" => true,
        _ => {
            return Err(ApiError::BadRequest(
                "granularity must be hour or day".to_owned(),
            ))
        }
    };
    let domain = p
        .domain
        .as_deref()
        .map(|d| {
            Domain::parse(d)
                .map_err(|_| ApiError::BadRequest("domain is not a valid domain".to_owned()))
        })
        .transpose()?;
    let only = match (&state.settings.allowed_domains, public) {
        (AllowedDomains::Only(list), true) => Some(list.clone()),
        _ => None,
    };
    let query = DomainUsageQuery::new(from, to, hourly, domain, only)
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let sessions = state.ports.stores.sessions.clone();
    let rows = run_blocking(move || sessions.domain_usage(&query)).await?;
    let data = rows
        .iter()
        .map(|r| {
            let c = r.counters;
            SiteUsageRow {
                domain: r.domain.as_str().to_owned(),
                date: ymd(r.date),
                hour: r.hour,
                sessions_started: c.sessions_started,
                sessions_ended: c.sessions_ended,
                captions_sent: c.captions_sent,
                captions_failed: c.captions_failed,
                batches_sent: c.batches_sent,
                total_duration_ms: c.total_duration_ms,
                peak_sessions: c.peak_sessions,
            }
        })
        .collect();
    let mut res = HttpResponse::Ok();
    // A range that ended before today no longer changes: caches may keep it (lcyt's
    // figures; `private` unless the data is public). Today's rows still move.
    if to < today {
        let scope = if public { "public" } else { "private" };
        res.insert_header((
            header::CACHE_CONTROL,
            format!("{scope}, max-age=1800, stale-while-revalidate=3600"),
        ));
    } else {
        res.insert_header((header::CACHE_CONTROL, "no-store"));
    }
    if public {
        if let Some(origin) = allowed_origin(&req, &state.settings.allowed_domains) {
            res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin));
            res.insert_header((header::VARY, "Origin"));
        }
    }
    Ok(res.json(SiteUsageResponse {
        from: ymd(from),
        to: ymd(to),
        granularity: if hourly { "hour" } else { "day" },
        public,
        data,
    }))
}

/// The request's `Origin` when it is on the allowlist.
#[must_use]
pub fn allowed_origin(req: &HttpRequest, allowed: &AllowedDomains) -> Option<String> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    let domain = Domain::parse(origin).ok()?;
    allowed.allows(&domain).then(|| origin.to_owned())
}
