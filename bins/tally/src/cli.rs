//! The operator's commands (`tally keys …`, `users …`, `orgs …`, `erase …`, `usage export`).
//!
//! They talk to a running Tally over its admin API (`--url`, default the configured listen
//! address; `--admin-key`, default `ADMIN_KEY`), not to the database: the server is the one
//! place that validates input, meters, closes sessions and tells their subscribers, and it
//! works the same on either store. Output is a table by default and the API's JSON with
//! `--json`; an API error prints its message and exits with status 1 (2 for usage errors,
//! 3 when the server cannot be reached).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use awc::http::Method;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};

/// Where the admin API is and how to call it.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The server's base URL (default: `http://<http.host>:<http.port>` of the configuration).
    #[arg(long, env = "TALLY_URL", global = true)]
    pub url: Option<String>,
    /// The admin key (default: `ADMIN_KEY` of the configuration).
    #[arg(long, global = true, hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The operator's commands, each a client of the admin API.
#[derive(Debug, Subcommand)]
pub enum Operation {
    /// API keys (over the admin API of a running server).
    #[command(subcommand)]
    Keys(Keys),
    /// Users and their tokens.
    #[command(subcommand)]
    Users(Users),
    /// Organisations.
    #[command(subcommand)]
    Orgs(Orgs),
    /// Erase a key's or a user's personal data (GDPR).
    #[command(subcommand)]
    Erase(Erase),
    /// Usage export.
    #[command(subcommand)]
    Usage(Usage),
}

/// Runs one operation against `c`.
///
/// # Errors
/// [`CliError`].
pub async fn operate(c: &Client, operation: Operation, as_json: bool) -> Result<(), CliError> {
    match operation {
        Operation::Keys(cmd) => keys(c, cmd, as_json).await,
        Operation::Users(cmd) => users(c, cmd, as_json).await,
        Operation::Orgs(cmd) => orgs(c, cmd, as_json).await,
        Operation::Erase(cmd) => erase(c, cmd, as_json).await,
        Operation::Usage(cmd) => usage(c, cmd).await,
    }
}

/// `tally keys …`
#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Create a key; its secret is printed once.
    Create(KeyFields),
    /// List keys (optionally of one user or organisation).
    List {
        /// Only the keys bound to this user (UUID).
        #[arg(long)]
        user_id: Option<String>,
        /// Only the keys of this organisation.
        #[arg(long)]
        org_id: Option<String>,
    },
    /// One key with its usage.
    Show {
        /// The key id.
        id: i64,
    },
    /// Change a key's name, owner, email, limits or expiry (counters never reset).
    Update {
        /// The key id.
        id: i64,
        /// What to change.
        #[command(flatten)]
        fields: KeyFields,
    },
    /// Revoke a key: its sessions end, its tokens die, verify answers REVOKED.
    Revoke {
        /// The key id.
        id: i64,
    },
    /// Delete a key with its history (cannot be undone).
    Delete {
        /// The key id.
        id: i64,
    },
}

/// The fields of a key that `create` and `update` take.
#[derive(Debug, Args)]
pub struct KeyFields {
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Owner.
    #[arg(long)]
    pub owner: Option<String>,
    /// Contact email.
    #[arg(long)]
    pub email: Option<String>,
    /// Bind to this user (UUID; create only).
    #[arg(long)]
    pub user_id: Option<String>,
    /// Daily limit (`none` = unlimited).
    #[arg(long)]
    pub daily_limit: Option<Limit>,
    /// Lifetime limit (`none` = unlimited).
    #[arg(long)]
    pub lifetime_limit: Option<Limit>,
    /// Expiry: RFC 3339 or YYYY-MM-DD (`none` = never).
    #[arg(long)]
    pub expires_at: Option<String>,
}

/// A limit argument: a non-negative number or `none`.
#[derive(Debug, Clone, Copy)]
pub struct Limit(Option<u64>);

impl std::str::FromStr for Limit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Self(None));
        }
        s.parse::<u64>()
            .map(|n| Self(Some(n)))
            .map_err(|_| format!("{s:?} is not a non-negative number or `none`"))
    }
}

/// `tally users …`
#[derive(Debug, Subcommand)]
pub enum Users {
    /// Create a user.
    Create {
        /// Unique username.
        #[arg(long)]
        username: String,
        /// Email.
        #[arg(long)]
        email: Option<String>,
        /// `user` (default) or `admin`.
        #[arg(long)]
        role: Option<String>,
        /// Organisation (default `org_default`).
        #[arg(long)]
        org_id: Option<String>,
    },
    /// List users.
    List {
        /// Only this organisation's users.
        #[arg(long)]
        org_id: Option<String>,
    },
    /// Issue a user token (a Bearer credential for every surface).
    Token {
        /// The user id (UUID).
        id: String,
        /// Lifetime in seconds (default one day).
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
}

/// `tally orgs …`
#[derive(Debug, Subcommand)]
pub enum Orgs {
    /// Create an organisation.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Id (`org_…`; default a random one).
        #[arg(long)]
        id: Option<String>,
    },
    /// List organisations.
    List,
}

/// `tally erase …` (GDPR): anonymise and delete a subject's data.
#[derive(Debug, Subcommand)]
pub enum Erase {
    /// One key.
    Key {
        /// The key id.
        id: i64,
    },
    /// A user and every key bound to them.
    User {
        /// The user id (UUID).
        id: String,
    },
}

/// `tally usage …`
#[derive(Debug, Subcommand)]
pub enum Usage {
    /// Export usage rows (`/v1/analytics`) day by day, as CSV or JSON lines, to stdout.
    Export {
        /// First day (YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: Date0,
        /// Last day (YYYY-MM-DD), inclusive.
        #[arg(long)]
        to: Date0,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Bucket size.
        #[arg(long, value_enum, default_value_t = Grain::Day)]
        granularity: Grain,
        /// Dimensions (comma list: org,user,key,model,api_name,language,domain,success,api_call,status_class).
        #[arg(long, default_value = "key")]
        group_by: String,
    },
}

/// A `YYYY-MM-DD` argument.
#[derive(Debug, Clone, Copy)]
pub struct Date0(Date);

impl std::str::FromStr for Date0 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(s, &format)
            .map(Self)
            .map_err(|_| format!("{s:?} is not a YYYY-MM-DD date"))
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Export bucket sizes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Grain {
    /// Hourly rows.
    Hour,
    /// Daily rows.
    Day,
}

/// Why a command failed, with its exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an error.
    #[error("{status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The problem's message.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach {url}: {cause}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        cause: String,
    },
    /// The command cannot run as asked.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// The process exit status for this failure.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Api { .. } => 1,
            Self::Usage(_) => 2,
            Self::Unreachable { .. } => 3,
        }
    }
}

/// An admin API client.
pub struct Client {
    base: String,
    admin_key: String,
    http: awc::Client,
}

impl Client {
    /// A client of `base` with `admin_key`.
    ///
    /// # Errors
    /// [`CliError::Usage`] without an admin key.
    pub fn new(base: String, admin_key: Option<String>) -> Result<Self, CliError> {
        let admin_key = admin_key.ok_or_else(|| {
            CliError::Usage("no admin key: pass --admin-key or set ADMIN_KEY".to_owned())
        })?;
        let http = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            admin_key,
            http,
        })
    }

    /// One call: the JSON answer of a 2xx, else the problem's message.
    ///
    /// # Errors
    /// [`CliError::Api`], [`CliError::Unreachable`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let req = self
            .http
            .request(method, &url)
            .insert_header(("X-Admin-Key", self.admin_key.as_str()));
        let sent = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        };
        let mut res = sent.map_err(|e| CliError::Unreachable {
            url: url.clone(),
            cause: e.to_string(),
        })?;
        let bytes =
            res.body()
                .limit(256 * 1024 * 1024)
                .await
                .map_err(|e| CliError::Unreachable {
                    url,
                    cause: e.to_string(),
                })?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let status = res.status().as_u16();
        if res.status().is_success() {
            return Ok(value);
        }
        let message = value["detail"]
            .as_str()
            .or_else(|| value["error"].as_str())
            .or_else(|| value["message"].as_str())
            .map_or_else(
                || String::from_utf8_lossy(&bytes).into_owned(),
                str::to_owned,
            );
        Err(CliError::Api { status, message })
    }
}

fn key_body(f: &KeyFields, create: bool) -> Value {
    let mut body = Map::new();
    for (name, value) in [("name", &f.name), ("owner", &f.owner), ("email", &f.email)] {
        if let Some(v) = value {
            body.insert(name.to_owned(), json!(v));
        }
    }
    if create {
        if let Some(u) = &f.user_id {
            body.insert("user_id".to_owned(), json!(u));
        }
    }
    for (name, limit) in [
        ("daily_limit", f.daily_limit),
        ("lifetime_limit", f.lifetime_limit),
    ] {
        if let Some(Limit(n)) = limit {
            body.insert(name.to_owned(), json!(n));
        }
    }
    if let Some(e) = &f.expires_at {
        let v = if e.eq_ignore_ascii_case("none") {
            Value::Null
        } else {
            json!(e)
        };
        body.insert("expires_at".to_owned(), v);
    }
    Value::Object(body)
}

fn query(pairs: &[(&str, &Option<String>)]) -> String {
    let mut q = String::new();
    for (name, value) in pairs {
        if let Some(v) = value {
            q.push(if q.is_empty() { '?' } else { '&' });
            let _ = write!(q, "{name}={}", urlencode(v));
        }
    }
    q
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `tally keys …`
///
/// # Errors
/// [`CliError`].
pub async fn keys(c: &Client, cmd: Keys, as_json: bool) -> Result<(), CliError> {
    let value = match cmd {
        Keys::Create(f) => {
            let key = c
                .call(Method::POST, "/v1/keys", Some(key_body(&f, true)))
                .await?;
            if !as_json {
                eprintln!("The secret is shown this once; store it now.");
            }
            key
        }
        Keys::List { user_id, org_id } => {
            let q = query(&[("user_id", &user_id), ("org_id", &org_id)]);
            let list = c.call(Method::GET, &format!("/v1/keys{q}"), None).await?;
            if as_json {
                return print_json(&list);
            }
            return print_table(
                list["keys"].as_array().map_or(&[][..], Vec::as_slice),
                &[
                    "id",
                    "alias",
                    "name",
                    "owner",
                    "active",
                    "daily_limit",
                    "lifetime_limit",
                    "lifetime_used",
                    "expires_at",
                ],
            );
        }
        Keys::Show { id } => c.call(Method::GET, &format!("/v1/keys/{id}"), None).await?,
        Keys::Update { id, fields } => {
            if fields.user_id.is_some() {
                return Err(CliError::Usage(
                    "--user-id can only be given on create".to_owned(),
                ));
            }
            let path = format!("/v1/keys/{id}");
            c.call(Method::PATCH, &path, Some(key_body(&fields, false)))
                .await?
        }
        Keys::Revoke { id } => {
            c.call(Method::DELETE, &format!("/v1/keys/{id}"), None)
                .await?
        }
        Keys::Delete { id } => {
            c.call(
                Method::DELETE,
                &format!("/v1/keys/{id}?permanent=true"),
                None,
            )
            .await?
        }
    };
    print_one(&value, as_json)
}

/// `tally users …`
///
/// # Errors
/// [`CliError`].
pub async fn users(c: &Client, cmd: Users, as_json: bool) -> Result<(), CliError> {
    let value = match cmd {
        Users::Create {
            username,
            email,
            role,
            org_id,
        } => {
            let mut body = json!({ "username": username });
            for (name, v) in [("email", email), ("role", role), ("org_id", org_id)] {
                if let Some(v) = v {
                    body[name] = json!(v);
                }
            }
            c.call(Method::POST, "/v1/users", Some(body)).await?
        }
        Users::List { org_id } => {
            let list = c
                .call(
                    Method::GET,
                    &format!("/v1/users{}", query(&[("org_id", &org_id)])),
                    None,
                )
                .await?;
            if as_json {
                return print_json(&list);
            }
            return print_table(
                list["users"].as_array().map_or(&[][..], Vec::as_slice),
                &["id", "username", "email", "role", "org_id", "created_at"],
            );
        }
        Users::Token { id, ttl_secs } => {
            let body = ttl_secs.map(|t| json!({ "ttl_secs": t }));
            let path = format!("/v1/users/{}/tokens", urlencode(&id));
            c.call(Method::POST, &path, Some(body.unwrap_or_else(|| json!({}))))
                .await?
        }
    };
    print_one(&value, as_json)
}

/// `tally orgs …`
///
/// # Errors
/// [`CliError`].
pub async fn orgs(c: &Client, cmd: Orgs, as_json: bool) -> Result<(), CliError> {
    let value = match cmd {
        Orgs::Create { name, id } => {
            let mut body = json!({ "name": name });
            if let Some(id) = id {
                body["id"] = json!(id);
            }
            c.call(Method::POST, "/v1/orgs", Some(body)).await?
        }
        Orgs::List => {
            let list = c.call(Method::GET, "/v1/orgs", None).await?;
            if as_json {
                return print_json(&list);
            }
            return print_table(
                list["orgs"].as_array().map_or(&[][..], Vec::as_slice),
                &["id", "name", "created_at"],
            );
        }
    };
    print_one(&value, as_json)
}

/// `tally erase …`
///
/// # Errors
/// [`CliError`].
pub async fn erase(c: &Client, cmd: Erase, as_json: bool) -> Result<(), CliError> {
    let value = match cmd {
        Erase::Key { id } => {
            c.call(Method::DELETE, &format!("/v1/keys/{id}/data"), None)
                .await?
        }
        Erase::User { id } => {
            let path = format!("/v1/users/{}/data", urlencode(&id));
            c.call(Method::DELETE, &path, None).await?
        }
    };
    print_one(&value, as_json)
}

/// `tally usage export`: one `/v1/analytics` call per day (so memory stays flat however long
/// the range), rows written as they arrive; a progress bar on a terminal's stderr.
///
/// # Errors
/// [`CliError`].
pub async fn usage(c: &Client, cmd: Usage) -> Result<(), CliError> {
    let Usage::Export {
        from,
        to,
        format,
        granularity,
        group_by,
    } = cmd;
    let (Date0(from), Date0(to)) = (from, to);
    if to < from {
        return Err(CliError::Usage("--to must not be before --from".to_owned()));
    }
    let days = u64::try_from((to - from).whole_days() + 1).unwrap_or(1);
    let progress = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(days)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} days {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let dims: Vec<String> = group_by
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    let grain = match granularity {
        Grain::Hour => "hour",
        Grain::Day => "day",
    };
    let mut columns = vec!["bucket".to_owned()];
    columns.extend(dims.iter().cloned());
    columns.extend(
        [
            "count",
            "units",
            "cost_usd",
            "tokens",
            "quota",
            "duration_ms",
        ]
        .map(str::to_owned),
    );
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_err = |e: std::io::Error| CliError::Usage(format!("cannot write the export: {e}"));
    if matches!(format, Format::Csv) {
        writeln!(out, "{}", columns.join(",")).map_err(write_err)?;
    }
    let mut rows = 0_u64;
    let mut day = from;
    loop {
        let start = OffsetDateTime::new_utc(day, Time::MIDNIGHT);
        let end = start + time::Duration::days(1);
        let (s, e) = (
            start.format(&Rfc3339).unwrap_or_default(),
            end.format(&Rfc3339).unwrap_or_default(),
        );
        let path = format!(
            "/v1/analytics?from={}&to={}&granularity={grain}{}",
            urlencode(&s),
            urlencode(&e),
            if dims.is_empty() {
                String::new()
            } else {
                format!("&group_by={}", urlencode(&dims.join(",")))
            }
        );
        let answer = c.call(Method::GET, &path, None).await?;
        for row in answer["rows"].as_array().map_or(&[][..], Vec::as_slice) {
            rows += 1;
            match format {
                Format::Jsonl => writeln!(out, "{row}").map_err(write_err)?,
                Format::Csv => {
                    let line: Vec<String> = columns
                        .iter()
                        .map(|c| csv_field(&row[c.as_str()]))
                        .collect();
                    writeln!(out, "{}", line.join(",")).map_err(write_err)?;
                }
            }
        }
        progress.inc(1);
        progress.set_message(format!("{rows} rows"));
        if day >= to {
            break;
        }
        day = day
            .next_day()
            .ok_or_else(|| CliError::Usage("date out of range".to_owned()))?;
    }
    out.flush().map_err(write_err)?;
    progress.finish_and_clear();
    eprintln!("exported {rows} rows over {days} days");
    Ok(())
}

fn csv_field(v: &Value) -> String {
    let raw = match v {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if raw.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw
    }
}

fn print_json(v: &Value) -> Result<(), CliError> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
    Ok(())
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_one(v: &Value, as_json: bool) -> Result<(), CliError> {
    if as_json {
        return print_json(v);
    }
    match v.as_object() {
        Some(o) => {
            let width = o.keys().map(String::len).max().unwrap_or(0);
            for (k, v) in o {
                println!("{k:width$}  {}", cell(v));
            }
        }
        None => println!("{}", cell(v)),
    }
    Ok(())
}

fn print_table(rows: &[Value], columns: &[&str]) -> Result<(), CliError> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(&r[*c])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<String>| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!(
        "{}",
        line(columns.iter().map(|c| (*c).to_owned()).collect())
    );
    for row in cells {
        println!("{}", line(row));
    }
    if rows.is_empty() {
        eprintln!("(none)");
    }
    Ok(())
}
