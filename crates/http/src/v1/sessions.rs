//! `/v1/sessions`: the open caption sessions a caller may see, listed (`GET /v1/sessions`) and
//! followed live (`GET /v1/sessions/events`, SSE; the stream itself is [`watch`]).
//!
//! Who sees what: admins every session (optionally one organisation's or one site's); a user
//! token only the sessions of keys bound to that user; keys and session tokens are refused
//! (403) — a session's own client already has `GET /live` and `GET /events`.

pub mod watch;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::origin::Domain;
use tally_domain::session::Session;
use tally_domain::session_filter::{SessionFilter, SessionLimit};
use tally_domain::tenancy::{OrgId, UserId};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// Query of `GET /v1/sessions` and `GET /v1/sessions/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListSessionsQuery {
    /// Only sessions of this organisation (admins; for a user it narrows their own).
    #[param(example = "org_acme")]
    org_id: Option<String>,
    /// Only sessions opened from this site, normalised as in `POST /live`.
    #[param(example = "https://studio.example")]
    domain: Option<String>,
    /// At most this many sessions, the most recently started first (default 100).
    // Read as text so that a non-number is refused naming the parameter.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// What a caller's listing is: the filter, its bound, and the user to re-check on a stream.
#[derive(Debug, Clone)]
pub struct Visible {
    filter: SessionFilter,
    limit: SessionLimit,
    /// The user behind a user token (checked again while a stream is open).
    user: Option<UserId>,
}

impl Visible {
    /// The sessions `p` may see, narrowed by the query.
    ///
    /// # Errors
    /// 403 for a key or a session token; 400 for a bad `org_id`, `domain` or `limit`.
    pub fn of(p: &Principal, q: &ListSessionsQuery) -> Result<Self, ApiError> {
        let user = match p {
            Principal::Admin => None,
            Principal::User(u) => Some(u.id),
            Principal::Key(_) | Principal::Session { .. } => {
                return Err(ApiError::Forbidden(
                    "Open sessions are listed for admins and user tokens".to_owned(),
                ))
            }
        };
        let bad = |field: &str, e: tally_domain::tenancy::InvalidValue| {
            ApiError::BadRequest(format!("{field}: {}", e.0))
        };
        let filter = SessionFilter {
            org_id: q
                .org_id
                .as_deref()
                .map(OrgId::parse)
                .transpose()
                .map_err(|e| bad("org_id", e))?,
            // An admin-role user sees everything, as on every v1 route.
            user_id: if p.is_admin() { None } else { user },
            key_id: None,
            domain: q
                .domain
                .as_deref()
                .map(Domain::parse)
                .transpose()
                .map_err(|e| bad("domain", e))?,
        };
        let limit = q
            .limit
            .as_deref()
            .map(|raw| {
                raw.trim()
                    .parse::<i64>()
                    .map_err(|_| {
                        tally_domain::tenancy::InvalidValue("limit must be a number".to_owned())
                    })
                    .and_then(SessionLimit::new)
            })
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.0))?
            .unwrap_or_default();
        Ok(Self {
            filter,
            limit,
            user,
        })
    }

    /// The visible sessions (at most the limit) and whether more were cut off.
    ///
    /// # Errors
    /// 503 when the store is down.
    pub async fn load(&self, state: &AppState) -> Result<(Vec<Session>, bool), ApiError> {
        let sessions = state.ports.stores.sessions.clone();
        let (filter, limit) = (self.filter.clone(), self.limit.get());
        let mut list = run_blocking(move || sessions.list_sessions(&filter, limit + 1)).await?;
        let more = list.len() > limit as usize;
        list.truncate(limit as usize);
        Ok((list, more))
    }
}

/// An open session as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The session's id (16 hex characters).
    pub session_id: String,
    /// Its key.
    pub key_id: i64,
    /// The key's organisation.
    pub org_id: String,
    /// The site it was opened from (normalised origin).
    pub domain: String,
    /// When it started (UTC).
    pub started_at: String,
    /// Its last authenticated request or open `GET /events` stream (UTC).
    pub last_activity_at: String,
    /// The client holding the mic, `null` when free.
    pub mic_holder: Option<String>,
    /// +1 per accepted caption request.
    pub sequence: u64,
    /// Captions delivered.
    pub captions_sent: u64,
    /// Captions whose delivery failed.
    pub captions_failed: u64,
}

impl From<&Session> for SessionResponse {
    fn from(s: &Session) -> Self {
        Self {
            session_id: s.id.as_str().to_owned(),
            key_id: s.key_id.0,
            org_id: s.org_id.as_str().to_owned(),
            domain: s.domain.as_str().to_owned(),
            started_at: iso(s.started_at),
            last_activity_at: iso(s.last_activity_at),
            mic_holder: s.mic_holder.as_ref().map(|c| c.as_str().to_owned()),
            sequence: s.sequence,
            captions_sent: s.captions_sent,
            captions_failed: s.captions_failed,
        }
    }
}

/// The body of a listing (also the stream's `snapshot` frame).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListSessionsResponse {
    /// The visible open sessions, most recently started first, at most `limit`.
    pub sessions: Vec<SessionResponse>,
    /// Whether more sessions matched than `limit` (only the newest are listed).
    pub has_more: bool,
}

impl ListSessionsResponse {
    /// The listing of `list`.
    #[must_use]
    pub fn of(list: &[Session], more: bool) -> Self {
        Self {
            sessions: list.iter().map(SessionResponse::from).collect(),
            has_more: more,
        }
    }
}

/// `GET /v1/sessions`: the caller's visible open sessions, most recently started first.
///
/// # Errors
/// 400, 401, 403, 503.
#[utoipa::path(
    get,
    path = "/v1/sessions",
    tag = "v1",
    operation_id = "v1_list_sessions",
    summary = "Open sessions the caller may see",
    description = "Admins see every open session; a user token of role user only the sessions \
        of keys bound to that user. API keys and session tokens are 403.",
    params(ListSessionsQuery),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The visible open sessions.", body = ListSessionsResponse),
    )
)]
pub async fn list(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ListSessionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let visible = Visible::of(&p, &q)?;
    let (list, more) = visible.load(&state).await?;
    Ok(HttpResponse::Ok().json(ListSessionsResponse::of(&list, more)))
}
