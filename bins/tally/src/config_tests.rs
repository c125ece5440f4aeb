use std::path::Path;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn from_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load(&Sources {
        file: None,
        env: env(pairs),
    })
}

/// A TOML file unique to the test, removed on drop.
struct TempToml(PathBuf);

impl TempToml {
    fn new(name: &str, body: &str) -> Self {
        let path = std::env::temp_dir().join(format!("tally-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, body).unwrap();
        Self(path)
    }
}

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn with_file(path: &Path, required: bool, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load(&Sources {
        file: Some((path.to_path_buf(), required)),
        env: env(pairs),
    })
}

#[test]
fn defaults() {
    let c = from_env(&[]).unwrap();
    assert_eq!(c.http.host, "127.0.0.1");
    assert_eq!(c.http.port, 8080);
    assert_eq!(c.http.workers, 0);
    assert_eq!(c.database_url, None);
    assert_eq!(c.admin_key, None);
    assert_eq!(c.jwt_secret, None);
    assert_eq!(
        c.allowed_domains,
        AllowedDomains::parse(DEFAULT_ALLOWED_DOMAINS).unwrap()
    );
    assert!(!c.usage_public);
    assert!(!c.free_apikey_active);
    assert_eq!(c.session_ttl, Duration::from_secs(7200));
    assert_eq!(c.sweep_interval, Duration::from_secs(60));
    assert_eq!(
        c.database,
        DatabaseConfig {
            pool_size: 16,
            statement_timeout: Duration::from_secs(10),
            batch_max: 256,
            batch_wait: Duration::from_micros(200),
            batch_writers: 2,
            batch_optimistic: true,
        }
    );
}

#[test]
fn database_knobs() {
    let c = from_env(&[
        ("TALLY_DATABASE__POOL_SIZE", "32"),
        ("TALLY_DATABASE__STATEMENT_TIMEOUT_MS", "0"),
        ("TALLY_DATABASE__BATCH_MAX", "64"),
        ("TALLY_DATABASE__BATCH_WAIT_US", "300"),
        ("TALLY_DATABASE__BATCH_WRITERS", "4"),
        ("TALLY_DATABASE__BATCH_OPTIMISTIC", "false"),
    ])
    .unwrap();
    assert_eq!(
        c.database,
        DatabaseConfig {
            pool_size: 32,
            statement_timeout: Duration::ZERO,
            batch_max: 64,
            batch_wait: Duration::from_micros(300),
            batch_writers: 4,
            batch_optimistic: false,
        }
    );
    for (name, value) in [
        ("TALLY_DATABASE__POOL_SIZE", "1"),
        ("TALLY_DATABASE__BATCH_MAX", "0"),
        ("TALLY_DATABASE__BATCH_WAIT_US", "1000000"),
        ("TALLY_DATABASE__BATCH_WRITERS", "0"),
    ] {
        let e = from_env(&[(name, value)]).unwrap_err();
        let setting = name
            .trim_start_matches("TALLY_DATABASE__")
            .to_ascii_lowercase();
        assert!(e.to_string().contains(&setting), "{name}: {e}");
    }
}

#[test]
fn layers_override_in_order_file_then_tally_env_then_plain_env() {
    let file = TempToml::new(
        "layers",
        r#"
        admin_key = "from-file"
        allowed_domains = "file.example"
        [http]
        host = "0.0.0.0"
        port = 9000
        [session]
        ttl_secs = 100
        "#,
    );
    let c = with_file(&file.0, true, &[]).unwrap();
    assert_eq!((c.http.host.as_str(), c.http.port), ("0.0.0.0", 9000));
    assert_eq!(c.admin_key.as_deref(), Some("from-file"));
    assert_eq!(c.session_ttl, Duration::from_secs(100));
    assert_eq!(
        c.allowed_domains,
        AllowedDomains::parse("file.example").unwrap()
    );

    let tally_env = [
        ("TALLY_HTTP__PORT", "9100"),
        ("TALLY_ADMIN_KEY", "from-tally-env"),
        ("TALLY_SESSION__TTL_SECS", "200"),
        ("TALLY_SESSION__SWEEP_SECS", "5"),
    ];
    let c = with_file(&file.0, true, &tally_env).unwrap();
    assert_eq!((c.http.host.as_str(), c.http.port), ("0.0.0.0", 9100));
    assert_eq!(c.admin_key.as_deref(), Some("from-tally-env"));
    assert_eq!(c.session_ttl, Duration::from_secs(200));
    assert_eq!(c.sweep_interval, Duration::from_secs(5));

    let mut all = tally_env.to_vec();
    all.extend([
        ("ADMIN_KEY", "from-plain-env"),
        ("SESSION_TTL", "1500"),
        ("CLEANUP_INTERVAL", "250"),
        ("ALLOWED_DOMAINS", "plain.example"),
    ]);
    let c = with_file(&file.0, true, &all).unwrap();
    assert_eq!(c.admin_key.as_deref(), Some("from-plain-env"));
    assert_eq!(c.session_ttl, Duration::from_millis(1500));
    assert_eq!(c.sweep_interval, Duration::from_millis(250));
    assert_eq!(
        c.allowed_domains,
        AllowedDomains::parse("plain.example").unwrap()
    );
}

#[test]
fn plain_variables() {
    let c = from_env(&[
        ("DATABASE_URL", "postgres://postgres@127.0.0.1/tally"),
        ("JWT_SECRET", "jwt-secret"),
        ("ALLOWED_DOMAINS", "*"),
        ("USAGE_PUBLIC", "1"),
        ("FREE_APIKEY_ACTIVE", "1"),
    ])
    .unwrap();
    assert_eq!(
        c.database_url.as_deref(),
        Some("postgres://postgres@127.0.0.1/tally")
    );
    assert_eq!(c.jwt_secret.as_deref(), Some("jwt-secret"));
    assert_eq!(c.allowed_domains, AllowedDomains::Any);
    assert!(c.usage_public);
    assert!(c.free_apikey_active);
}

#[test]
fn empty_values_count_as_unset() {
    let c = from_env(&[
        ("ADMIN_KEY", ""),
        ("JWT_SECRET", "  "),
        ("TALLY_HTTP__PORT", ""),
    ])
    .unwrap();
    assert_eq!(c.admin_key, None);
    assert_eq!(c.jwt_secret, None);
    assert_eq!(c.http.port, 8080);
}

#[test]
fn flags() {
    for (v, public) in [
        ("yes", true),
        ("x", true),
        ("0", false),
        ("false", false),
        ("", false),
    ] {
        assert_eq!(
            from_env(&[("USAGE_PUBLIC", v)]).unwrap().usage_public,
            public,
            "{v}"
        );
    }
    for (v, free) in [("1", true), ("true", true), ("0", false), ("yes", false)] {
        let c = from_env(&[("FREE_APIKEY_ACTIVE", v)]).unwrap();
        assert_eq!(c.free_apikey_active, free, "{v}");
    }
    assert!(
        from_env(&[("TALLY_USAGE_PUBLIC", "true")])
            .unwrap()
            .usage_public
    );
}

#[test]
fn retention_defaults_and_overrides() {
    let c = from_env(&[]).unwrap();
    assert_eq!(
        c.retention.policy,
        RetentionPolicy::new(Some(400), Some(90)).unwrap()
    );
    assert_eq!(c.retention.interval, Duration::from_secs(3600));
    let c = from_env(&[
        ("TALLY_RETENTION__RAW_DAYS", "0"),
        ("TALLY_RETENTION__HOURLY_DAYS", "30"),
        ("TALLY_RETENTION__INTERVAL_SECS", "60"),
    ])
    .unwrap();
    assert_eq!(
        c.retention.policy.raw_days(),
        None,
        "0 keeps raw events for good"
    );
    assert_eq!(c.retention.policy.hourly_days(), Some(30));
    assert_eq!(c.retention.interval, Duration::from_secs(60));
    let e = from_env(&[("TALLY_RETENTION__RAW_DAYS", "-1")]).unwrap_err();
    assert!(e.to_string().contains("raw_days"), "{e}");
    let e = from_env(&[("TALLY_RETENTION__INTERVAL_SECS", "0")]).unwrap_err();
    assert!(e.to_string().contains("interval_secs"), "{e}");
}

#[test]
fn port_zero_means_any_free_port() {
    assert_eq!(from_env(&[("TALLY_HTTP__PORT", "0")]).unwrap().http.port, 0);
}

#[test]
fn bad_values_are_errors_naming_the_setting() {
    let e = from_env(&[("TALLY_HTTP__PORT", "eighty")]).unwrap_err();
    assert!(e.to_string().contains("port"), "{e}");
    let e = from_env(&[("TALLY_HTTP__PORT", "70000")]).unwrap_err();
    assert!(e.to_string().contains("port"), "{e}");
    let e = from_env(&[("SESSION_TTL", "2h")]).unwrap_err();
    assert!(e.to_string().contains("SESSION_TTL"), "{e}");
    let e = from_env(&[("CLEANUP_INTERVAL", "0")]).unwrap_err();
    assert!(e.to_string().contains("CLEANUP_INTERVAL"), "{e}");
    let e = from_env(&[("TALLY_SESSION__TTL_SECS", "0")]).unwrap_err();
    assert!(e.to_string().contains("ttl_secs"), "{e}");
    let e = from_env(&[("ALLOWED_DOMAINS", "ok.example,not a domain")]).unwrap_err();
    assert!(e.to_string().contains("ALLOWED_DOMAINS"), "{e}");
}

#[test]
fn a_missing_file_is_an_error_only_when_asked_for() {
    let missing = std::env::temp_dir().join("tally-does-not-exist.toml");
    assert!(with_file(&missing, false, &[]).is_ok());
    assert!(with_file(&missing, true, &[]).is_err());
}

#[test]
fn a_malformed_file_is_an_error() {
    let file = TempToml::new("malformed", "[http\nport = ");
    assert!(with_file(&file.0, true, &[]).is_err());
}

#[test]
fn debug_output_redacts_secrets() {
    let c = from_env(&[
        ("ADMIN_KEY", "admin-secret"),
        ("JWT_SECRET", "jwt-secret"),
        ("DATABASE_URL", "postgres://u:db-secret@h/d"),
    ])
    .unwrap();
    let shown = format!("{c:?}");
    for secret in ["admin-secret", "jwt-secret", "db-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn youtube_ingestion_url_defaults_to_youtube_and_is_configurable() {
    let c = from_env(&[]).unwrap();
    assert_eq!(
        c.youtube_ingestion_url,
        "http://upload.youtube.com/closedcaption"
    );
    let c = from_env(&[(
        "TALLY_YOUTUBE__INGESTION_URL",
        "http://127.0.0.1:9000/closedcaption",
    )])
    .unwrap();
    assert_eq!(
        c.youtube_ingestion_url,
        "http://127.0.0.1:9000/closedcaption"
    );
    let e = from_env(&[("TALLY_YOUTUBE__INGESTION_URL", "ftp://x/cc")]).unwrap_err();
    assert!(e.to_string().contains("youtube.ingestion_url"), "{e}");
    let e = from_env(&[("TALLY_YOUTUBE__INGESTION_URL", "http://x/cc?cid=1")]).unwrap_err();
    assert!(e.to_string().contains("youtube.ingestion_url"), "{e}");
}
