//! The storage ports. Synchronous, `Send + Sync`, object-safe, used as `Arc<dyn Port>`.
//!
//! Each method that must be atomic is one method: an adapter runs it in one transaction (or
//! under one lock) and the domain never sees a transaction. The contract suites in
//! `tally_testkit` are the executable definition of every method documented here.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::audit::AuthEvent;
use crate::erasure::{ErasureOutcome, ErasureReceipt};
use crate::import::{Copies, ImportCount, ImportedKey, KeyImport};
use crate::key::{ApiKey, KeyFilter, KeyId, KeyPatch, KeyRejection, NewApiKey, SecretHash};
use crate::limits::{KeyUsage, LimitExceeded, Limits, Units};
use crate::mic::{ClientId, MicAction};
use crate::origin::Domain;
use crate::session::{
    CaptionError, DeliveryOutcome, EndReason, OpenSession, Session, SessionId, SessionPatch,
    SessionRecord, SessionRef, ViewerDay, ViewerKey,
};
use crate::session_filter::SessionFilter;
use crate::tenancy::{EmailHash, Org, OrgId, User, UserId, Username};
use crate::usage::{
    DomainCounters, DomainRollupKey, DomainUsageQuery, DomainUsageRow, EventPatch, LogPage,
    LogQuery, NewUsageEvent, RetentionPolicy, RetentionReport, UsageEvent, UsageQuery, UsageRow,
};

/// A failure of the storage backend itself (not of the request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached right now (database down, pool exhausted). Callers
    /// answer 503 and retry later; the adapter recovers by itself.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or corrupt data. Callers answer 500 and log the cause.
    #[error("store fault: {0}")]
    Internal(String),
}

/// Errors of [`TenantStore::create_org`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateOrgError {
    /// An organisation with this id exists.
    #[error("an organisation with this id already exists")]
    Duplicate,
    /// Backend failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Errors of [`TenantStore::create_user`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateUserError {
    /// The username is taken.
    #[error("username already taken")]
    DuplicateUsername,
    /// The organisation does not exist.
    #[error("unknown organisation")]
    UnknownOrg,
    /// Backend failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Organisations and users.
pub trait TenantStore: Send + Sync {
    /// Stores a new organisation.
    ///
    /// # Errors
    /// [`CreateOrgError::Duplicate`] when the id is taken; [`CreateOrgError::Store`] on a
    /// backend failure. Nothing is written on error.
    fn create_org(&self, org: Org) -> Result<Org, CreateOrgError>;

    /// The organisation with this id. The default organisation always exists.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn get_org(&self, id: &OrgId) -> Result<Option<Org>, StoreError>;

    /// All organisations, ordered by id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_orgs(&self) -> Result<Vec<Org>, StoreError>;

    /// Stores a new user and gives it the next number of the user sequence (increasing,
    /// never reused, even after a failed creation or an erasure); the returned user carries it.
    ///
    /// # Errors
    /// [`CreateUserError::DuplicateUsername`] when the username is taken (case-sensitive),
    /// [`CreateUserError::UnknownOrg`] when its organisation does not exist.
    fn create_user(&self, user: User) -> Result<User, CreateUserError>;

    /// The user with this id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with this username.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError>;

    /// The user with this number ([`User::number`]).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn find_user_by_number(&self, number: u64) -> Result<Option<User>, StoreError>;

    /// Users, optionally of one organisation, ordered by creation then id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_users(&self, org: Option<&OrgId>) -> Result<Vec<User>, StoreError>;
}

/// Errors of [`KeyStore::create_key`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateKeyError {
    /// A key with the same secret exists.
    #[error("a key with this secret already exists")]
    DuplicateSecret,
    /// The organisation does not exist.
    #[error("unknown organisation")]
    UnknownOrg,
    /// `email_must_be_new` was set and the e-mail's hash is known.
    #[error("a key already exists for this email")]
    EmailKnown,
    /// Backend failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// API keys, their counters and their auth events.
pub trait KeyStore: Send + Sync {
    /// Stores a new key: id assigned (increasing), `active`, counters at zero, email hash
    /// computed from the e-mail.
    ///
    /// # Errors
    /// [`CreateKeyError::DuplicateSecret`] when the secret hash is taken (erased and revoked
    /// keys included); [`CreateKeyError::UnknownOrg`]; [`CreateKeyError::EmailKnown`] when
    /// `email_must_be_new` is set and [`Self::email_hash_known`] holds — decided atomically,
    /// so two concurrent requests for one e-mail create one key; nothing written on error.
    fn create_key(&self, key: NewApiKey) -> Result<ApiKey, CreateKeyError>;

    /// The key with this id (revoked and erased keys included).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn get_key(&self, id: KeyId) -> Result<Option<ApiKey>, StoreError>;

    /// The key with this id in organisation `org` (revoked and erased keys included); `None`
    /// when there is no such key in that organisation, even if another organisation has a
    /// key with that id. Unlike [`Self::get_key`] it names the organisation, so it can be
    /// routed to that organisation's rows only.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn get_key_in(&self, org: &OrgId, id: KeyId) -> Result<Option<ApiKey>, StoreError>;

    /// The key whose secret hashes to `hash`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn find_key(&self, hash: &SecretHash) -> Result<Option<ApiKey>, StoreError>;

    /// Keys passing the filter, ordered by id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<ApiKey>, StoreError>;

    /// Applies a patch; counters are never touched. `None` when there is no such key.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn update_key(&self, id: KeyId, patch: &KeyPatch) -> Result<Option<ApiKey>, StoreError>;

    /// Deactivates the key and sets `revoked_at` (refreshed when repeated). `None` when there
    /// is no such key. Open sessions are ended by the caller.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn revoke_key(&self, id: KeyId, now: OffsetDateTime) -> Result<Option<ApiKey>, StoreError>;

    /// Hard-deletes the key and everything keyed to it (open sessions, session records,
    /// caption errors, auth events, usage events, daily counters, idempotency records), in
    /// one transaction. Its rollup contributions move to the anonymous bucket so organisation
    /// totals stay right. Returns the sessions it closed, or `None` when there is no such key.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing is deleted then.
    fn delete_key(&self, id: KeyId) -> Result<Option<Vec<SessionId>>, StoreError>;

    /// Whether any key (erased ones included) has or had an e-mail with this hash.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn email_hash_known(&self, hash: &EmailHash) -> Result<bool, StoreError>;

    /// The key's lifetime counter and its counter for UTC date `day`. `None` for no such key.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn key_usage(&self, id: KeyId, day: Date) -> Result<Option<KeyUsage>, StoreError>;

    /// Appends an auth event.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn record_auth_event(&self, event: AuthEvent) -> Result<(), StoreError>;

    /// The key's auth events, newest first (ties: latest recorded first), at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_auth_events(&self, key: KeyId, limit: u32) -> Result<Vec<AuthEvent>, StoreError>;
}

/// The result of [`SessionStore::open_session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedSession {
    /// The session after opening or joining.
    pub session: Session,
    /// True when it was created, false when an open one was joined.
    pub created: bool,
}

/// The result of a delivery, reported to [`SessionStore::record_delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The session.
    pub session_id: SessionId,
    /// Its key.
    pub key_id: KeyId,
    /// The key's (and so the session's) organisation: with `session_id` it names the session,
    /// so recording a delivery touches one organisation's rows only.
    pub org_id: OrgId,
    /// The session's site.
    pub domain: Domain,
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// When.
    pub at: OffsetDateTime,
}

/// Sessions, their records, caption errors and the domain rollup (kept per organisation and
/// site: two organisations using one site keep separate rows).
///
/// A session is named by its organisation and id ([`SessionRef`]) wherever it is looked up,
/// touched, changed or ended: sessions are keyed `(org, id)`, and a session of another
/// organisation with the same id is another session, never this one. An implementation MUST
/// NOT find, change or end a session through the id alone.
pub trait SessionStore: Send + Sync {
    /// Opens the session `spec.id` of `spec.org_id`, or joins it when it is open. Joining
    /// touches it and replaces its targets when `spec.targets` is set. Opening stores it with
    /// `spec.sequence`, zero counters and no mic holder, and bumps the organisation's domain
    /// rollup of `spec.now`: `sessions_started + 1` and `peak_sessions` raised to the number
    /// of open sessions of that organisation on that domain (itself included). Atomic: two
    /// concurrent opens of one session create it once.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing changes then.
    fn open_session(&self, spec: OpenSession) -> Result<OpenedSession, StoreError>;

    /// The open session `session` (that organisation's session of that id); `None` when it is
    /// not open.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn get_session(&self, session: &SessionRef) -> Result<Option<Session>, StoreError>;

    /// Records activity at `now` (`last_activity_at` never moves backwards) and returns the
    /// session as it is afterwards, in one step; `None` when it is not open.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn touch_session(
        &self,
        session: &SessionRef,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError>;

    /// Applies a validated patch (all of it or nothing) and touches the session. `None` when
    /// it is not open.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn update_session(
        &self,
        session: &SessionRef,
        patch: &SessionPatch,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError>;

    /// Applies a mic action atomically ([`crate::mic::next_holder`]) and touches the session.
    /// Returns the holder after it, or `None` (outer) when the session is not open.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn apply_mic(
        &self,
        session: &SessionRef,
        action: MicAction,
        client: &ClientId,
        now: OffsetDateTime,
    ) -> Result<Option<Option<ClientId>>, StoreError>;

    /// Records a delivery outcome in one transaction: `captions_sent` or `captions_failed`
    /// (+batch size) of the session (`report.org_id`, `report.session_id`) when it is still
    /// open, the organisation's domain rollup of `report.at` (`captions_sent`/`batches_sent`
    /// or `captions_failed`), and for a failure a caption error row.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing changes then.
    fn record_delivery(&self, report: DeliveryReport) -> Result<(), StoreError>;

    /// Ends an open session once. For reasons that leave a record
    /// ([`EndReason::leaves_record`]) it writes the session record and bumps the domain
    /// rollup of `now` (`sessions_ended + 1`, `total_duration_ms + duration`). Returns the
    /// record (also, unstored, for erasure), or `None` when the session was not open — so of
    /// two concurrent ends exactly one gets `Some`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; the session stays open then.
    fn end_session(
        &self,
        session: &SessionRef,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Open sessions, optionally only of one key, ordered by start then id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_open_sessions(&self, key: Option<KeyId>) -> Result<Vec<Session>, StoreError>;

    /// Open sessions passing `filter` ([`SessionFilter::matches`]; `user_id` means the
    /// session's key is bound to that user), most recently started first, then by id
    /// ([`crate::session_filter::listing_order`]), at most `limit` of them. Callers bound
    /// `limit` with [`crate::session_filter::SessionLimit`] (and may ask for one more to learn
    /// whether the listing was cut).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_sessions(&self, filter: &SessionFilter, limit: u32)
        -> Result<Vec<Session>, StoreError>;

    /// Open sessions whose last activity is at or before `cutoff`, each named by its
    /// organisation and id (so ending them is routed like any other session statement),
    /// ordered by last activity, then organisation and id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn idle_sessions(&self, cutoff: OffsetDateTime) -> Result<Vec<SessionRef>, StoreError>;

    /// The key's session records, newest end first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_session_records(
        &self,
        key: KeyId,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// The key's caption errors, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_caption_errors(&self, key: KeyId, limit: u32) -> Result<Vec<CaptionError>, StoreError>;

    /// Answers a `GET /usage` question from the domain rollup (see
    /// [`DomainUsageQuery::evaluate`] for the exact result): a site across organisations
    /// sums their counters and takes the largest of their peaks, unless the query is scoped
    /// to one organisation ([`DomainUsageQuery::within`]), which then sees only its own rows.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn domain_usage(&self, query: &DomainUsageQuery) -> Result<Vec<DomainUsageRow>, StoreError>;

    /// Counts one open of `viewer`'s public stream on `day`, for the key of the open session
    /// whose targets deliver to it (the most recently active one when several do). A viewer
    /// key no open session delivers to counts nothing.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn record_viewer_open(&self, viewer: &ViewerKey, day: Date) -> Result<(), StoreError>;

    /// The key's viewer counts, newest day first, then by viewer key, at most `limit`.
    /// Erasing or deleting the key deletes them.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_viewer_stats(&self, key: KeyId, limit: u32) -> Result<Vec<ViewerDay>, StoreError>;
}

/// How a meter names the key it charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// By id (a session's key, already resolved).
    Id(KeyId),
    /// By organisation and id (a session token that names both): found on the organisation's
    /// shard alone on a distributed schema. A key of another organisation is unknown.
    InOrg(OrgId, KeyId),
    /// By the hash of the presented secret (`POST /v1/verify`): the store finds and locks the
    /// key in the meter itself, so verifying costs one store call.
    Secret(SecretHash),
}

impl From<KeyId> for KeyRef {
    fn from(id: KeyId) -> Self {
        Self::Id(id)
    }
}

/// One metered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterRequest {
    /// The id the event gets when it is recorded.
    pub event_id: Uuid,
    /// The key to charge.
    pub key: KeyRef,
    /// Units to count toward its limits.
    pub units: Units,
    /// The event to record (its `units` are what analytics sum; `key_id`, `org_id` and
    /// `user_id` are set from the key by the store).
    pub event: NewUsageEvent,
    /// For captions: the session being metered. It must be open and belong to the key, else
    /// the meter is refused with [`MeterError::SessionEnded`] and records nothing (checked
    /// after the key, before the limits), so a caption request needs no store call of its
    /// own before its meter. The event takes the session's domain; when admitted, the
    /// session's sequence advances and its activity is recorded; and when the session
    /// delivers to itself ([`Session::delivers_to_itself`]: no targets, so delivery cannot
    /// fail) the batch of `units` captions is recorded as delivered in the same transaction,
    /// exactly as [`SessionStore::record_delivery`] records `Delivered` for it at `now`.
    pub session: Option<SessionId>,
    /// With `session`: the start of the session lifetime the caller's token was issued in. A
    /// session that started at another instant (it was ended and opened again since) is
    /// refused like an ended one ([`Session::in_lifetime`]); `None` skips the check.
    pub session_lifetime: Option<OffsetDateTime>,
    /// Now: decides the UTC day and expiry.
    pub now: OffsetDateTime,
}

/// An admitted metered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metered {
    /// The recorded event (the original one for an idempotent replay).
    pub event: UsageEvent,
    /// The key's counters after it.
    pub usage: KeyUsage,
    /// The key's limits.
    pub limits: Limits,
    /// The session's sequence after it, when a session was given.
    pub sequence: Option<u64>,
    /// The session, as the meter found it (before its own sequence advance), when one was
    /// given.
    pub session: Option<Session>,
    /// True when the idempotency key was seen before: nothing was counted.
    pub replayed: bool,
}

/// Errors of [`UsageStore::meter`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeterError {
    /// The key is unknown, revoked, erased or expired (checked first, in that order).
    #[error("key rejected: {0:?}")]
    Key(KeyRejection),
    /// The request's session is not open, or is another key's; nothing was counted.
    #[error("session has ended")]
    SessionEnded,
    /// Admitting the units would cross a limit; nothing was counted.
    #[error("{exceeded}")]
    Limit {
        /// Which limit.
        exceeded: LimitExceeded,
        /// The counters (unchanged).
        usage: KeyUsage,
        /// The limits.
        limits: Limits,
    },
    /// Backend failure; nothing was counted.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The per-event result of [`UsageStore::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Recorded now.
    Created(UsageEvent),
    /// Its idempotency key was seen before in the organisation: the original record.
    Duplicate(UsageEvent),
}

/// Where [`UsageStore::meter_then`] sends a meter's answer.
pub type MeterDone = Box<dyn FnOnce(Result<Metered, MeterError>) + Send>;

/// Usage events, rollups, analytics and erasure.
pub trait UsageStore: Send + Sync {
    /// The atomic meter. In one transaction: reject when the key is missing
    /// ([`KeyRejection::UnknownKey`]) or not usable at `now` ([`crate::key::ApiKey::check_usable`]);
    /// replay when the event's idempotency key was seen in the key's organisation (the
    /// original event, nothing counted); otherwise apply [`crate::limits::admit`] to the
    /// lifetime counter and the counter of `now`'s UTC day — a refusal records an auth event
    /// of the exceeded limit (with the event's domain, at `now`) and nothing else —, then add
    /// the units to both,
    /// record the event (org, user and key taken from the key), update its hourly rollup,
    /// and, for a `session` meter (refused with [`MeterError::SessionEnded`] unless the
    /// session is open, the key's and in `session_lifetime`), advance its sequence by one, touch it, remember that
    /// sequence on the key (`sequence`, `last_caption_at = now`) and record a self-delivered
    /// batch (see [`MeterRequest::session`]).
    ///
    /// Under any concurrency, across processes sharing the backend, a key with
    /// `lifetime_limit = L` admits exactly `L` units.
    ///
    /// # Errors
    /// [`MeterError::Key`], [`MeterError::SessionEnded`], [`MeterError::Limit`] (nothing
    /// counted), [`MeterError::Store`].
    fn meter(&self, request: MeterRequest) -> Result<Metered, MeterError>;

    /// [`UsageStore::meter`], answered through `done` instead of the return value: exactly
    /// once, possibly on another thread and after this call has returned. An adapter that
    /// batches meters (Postgres's group commit) only queues the request here, so an async
    /// caller need not block a thread while the batch commits; the default runs
    /// [`UsageStore::meter`] at once and calls `done` before returning.
    fn meter_then(&self, request: MeterRequest, done: MeterDone) {
        done(self.meter(request));
    }

    /// Records a batch of validated events in one transaction, each with its rollup. An
    /// event whose idempotency key was already seen in its organisation (earlier, or earlier
    /// in the same batch) is not recorded again: its result is the original.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing is written then.
    fn ingest(
        &self,
        events: Vec<(Uuid, NewUsageEvent)>,
        now: OffsetDateTime,
    ) -> Result<Vec<Ingested>, StoreError>;

    /// The event with this id.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn get_event(&self, id: Uuid) -> Result<Option<UsageEvent>, StoreError>;

    /// Corrects an event ([`EventPatch::apply_to`]) and moves its rollup contribution from the
    /// old values to the new ones, in one transaction. `None` when there is no such event.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn update_event(&self, id: Uuid, patch: &EventPatch) -> Result<Option<UsageEvent>, StoreError>;

    /// Deletes an event and removes its rollup contribution. False when there is none.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn delete_event(&self, id: Uuid) -> Result<bool, StoreError>;

    /// A page of raw events with their numbers, counted as [`LogQuery::count`] says (see
    /// [`LogQuery::evaluate`] for the exact result). Events get their number
    /// ([`LogPage::numbers`]) when they are recorded, from one increasing sequence: unique,
    /// never reused, never changed by a correction.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_events(&self, query: &LogQuery) -> Result<LogPage, StoreError>;

    /// Answers a usage query from the hourly rollups (see [`UsageQuery::evaluate`] for the
    /// exact result).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn aggregate(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError>;

    /// Erases keys as [`crate::erasure`] describes, all in one transaction. Unknown ids are
    /// ignored; already-erased keys get no second receipt.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing changes then.
    fn erase_keys(&self, keys: &[KeyId], now: OffsetDateTime)
        -> Result<ErasureOutcome, StoreError>;

    /// Erases a user in one transaction: every key bound to them as [`Self::erase_keys`] does,
    /// their remaining raw usage events (recorded without one of their keys) deleted with
    /// their idempotency records, every rollup row of the user moved to the anonymous bucket,
    /// and the user anonymised ([`crate::erasure::anonymise_user`]). `None` when there is no
    /// such user; erasing an erased user again changes nothing.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing changes then.
    fn erase_user(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<ErasureOutcome>, StoreError>;

    /// Every erasure receipt, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure.
    fn list_erasures(&self) -> Result<Vec<ErasureReceipt>, StoreError>;

    /// The retention policy this store applies ([`RetentionPolicy::KEEP_EVERYTHING`] unless
    /// it was configured with another).
    fn retention(&self) -> RetentionPolicy;

    /// Applies the store's retention policy at `now`: removes every raw event dated before
    /// [`RetentionPolicy::raw_cutoff`] (with its idempotency record, so its key may be used
    /// again) and compacts every hourly rollup row before [`RetentionPolicy::hourly_cutoff`]
    /// into its daily row ([`crate::usage::RollupKey::compacted`]), adding sums, so no
    /// [`UsageQuery`] over whole days changes. Rollups are never removed. Running it again
    /// at the same `now` changes nothing. A store may also prepare storage here (Postgres
    /// creates the coming months' partitions).
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; what was done before it stays done (each step
    /// is whole on its own).
    fn apply_retention(&self, now: OffsetDateTime) -> Result<RetentionReport, StoreError>;

    /// Checks that the backend answers (for `/health`).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    fn ping(&self) -> Result<(), StoreError>;
}

/// Writes history brought over from another system (`tally import`). Every method is one
/// transaction and idempotent: what is already stored is counted as skipped and left as it is,
/// so an import run again (or resumed after a failure) writes everything exactly once.
pub trait ImportStore: Send + Sync {
    /// Stores keys with their counters, in one transaction, in order. A key whose secret hash
    /// is already stored is [`KeyImport::Existing`] and nothing about it changes. A new key is
    /// stored as given — counters, sequence, `active`, `revoked_at`, `erased_at`, created and
    /// expiry instants included, its alias and e-mail hash as in `key` — under `key.id` when
    /// that id is at least 1 and unused, else under a fresh id; ids created later are larger
    /// than every stored one. Its per-day counters are stored with it, so [`KeyStore::key_usage`]
    /// and the meter see them at once.
    ///
    /// # Errors
    /// [`StoreError::Internal`] when a key's organisation does not exist;
    /// [`StoreError`] on a backend failure. Nothing is written on error.
    fn import_keys(&self, keys: &[ImportedKey]) -> Result<Vec<KeyImport>, StoreError>;

    /// Stores session records in one transaction. A record equal in every field to stored
    /// ones is written only as many more times as `count` exceeds the stored copies; the rest
    /// are skipped.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing is written then.
    fn import_session_records(
        &self,
        records: &[Copies<SessionRecord>],
    ) -> Result<ImportCount, StoreError>;

    /// Stores caption errors in one transaction, counting copies as
    /// [`Self::import_session_records`] does.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing is written then.
    fn import_caption_errors(
        &self,
        errors: &[Copies<CaptionError>],
    ) -> Result<ImportCount, StoreError>;

    /// Stores auth events in one transaction, counting copies as
    /// [`Self::import_session_records`] does.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing is written then.
    fn import_auth_events(&self, events: &[Copies<AuthEvent>]) -> Result<ImportCount, StoreError>;

    /// Stores domain rollup rows in one transaction. A row whose `(date, hour, domain)` is
    /// already stored is skipped whole (its counters are not added). Keys must be distinct.
    ///
    /// # Errors
    /// [`StoreError`] on a backend failure; nothing is written then.
    fn import_domain_rollups(
        &self,
        rows: &[(DomainRollupKey, DomainCounters)],
    ) -> Result<ImportCount, StoreError>;
}
