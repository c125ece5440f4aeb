//! `GET /usage` without a Bearer credential: per-site caption analytics (the lcyt seed).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tally_domain::limits::utc_day;
use tally_domain::origin::{AllowedDomains, Domain};
use tally_domain::usage::DomainUsageQuery;
use time::Duration;

use crate::error::ApiError;
use crate::principal::check_admin;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{parse_ymd, ymd};

/// Query of `GET /usage`.
#[derive(Debug, Deserialize)]
pub struct DomainUsageParams {
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
    domain: Option<String>,
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
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            let c = r.counters;
            let mut m = Map::new();
            m.insert("domain".into(), json!(r.domain));
            m.insert("date".into(), json!(ymd(r.date)));
            if let Some(h) = r.hour {
                m.insert("hour".into(), json!(h));
            }
            for (k, v) in [
                ("sessions_started", c.sessions_started),
                ("sessions_ended", c.sessions_ended),
                ("captions_sent", c.captions_sent),
                ("captions_failed", c.captions_failed),
                ("batches_sent", c.batches_sent),
                ("total_duration_ms", c.total_duration_ms),
                ("peak_sessions", c.peak_sessions),
            ] {
                m.insert(k.into(), json!(v));
            }
            Value::Object(m)
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
    Ok(res.json(json!({
        "from": ymd(from),
        "to": ymd(to),
        "granularity": if hourly { "hour" } else { "day" },
        "public": public,
        "data": data,
    })))
}

/// The request's `Origin` when it is on the allowlist.
#[must_use]
pub fn allowed_origin(req: &HttpRequest, allowed: &AllowedDomains) -> Option<String> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    let domain = Domain::parse(origin).ok()?;
    allowed.allows(&domain).then(|| origin.to_owned())
}
