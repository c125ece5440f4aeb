//! Site domains: the normalised origin form that sessions and analytics are keyed by, and the
//! `ALLOWED_DOMAINS` allowlist.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::tenancy::InvalidValue;

/// A site origin in normalised form: `scheme://host[:port]`, lower-case, `https` when no
/// scheme was given, loopback forms (`127.0.0.1`, `::1`, `localhost`) written `localhost`,
/// trailing slashes and any path dropped. `https://A.com/` and `a.com` are the same domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain {
    origin: String,
    host_start: usize,
}

impl Domain {
    /// Normalises a domain as sent by a client.
    ///
    /// # Errors
    /// Empty, longer than 255 characters, with whitespace, or without a host.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let bad =
            || InvalidValue::new("domain must be a host or an origin like https://host[:port]");
        let s = raw.trim();
        if s.is_empty() || s.len() > 255 || s.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("https".to_owned(), s),
        };
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+')
        {
            return Err(bad());
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let (host, port) = split_host_port(&authority).ok_or_else(bad)?;
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
        {
            return Err(bad());
        }
        let host = if is_loopback(host) { "localhost" } else { host };
        let prefix = format!("{scheme}://");
        let origin = match port {
            Some(p) => format!("{prefix}{host}:{p}"),
            None => format!("{prefix}{host}"),
        };
        Ok(Self {
            host_start: prefix.len(),
            origin,
        })
    }

    /// The normalised origin string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// `host[:port]` without the scheme: what the allowlist compares.
    #[must_use]
    pub fn host_port(&self) -> &str {
        &self.origin[self.host_start..]
    }

    /// Whether two domains are the same site for allowlists and CORS: the same `host[:port]`
    /// whatever the scheme, and any two loopback domains (a dev server's port varies).
    #[must_use]
    pub fn same_site(&self, other: &Self) -> bool {
        self.host_port() == other.host_port() || (self.is_loopback() && other.is_loopback())
    }

    /// Whether the host is `localhost` (after loopback normalisation).
    #[must_use]
    pub fn is_loopback(&self) -> bool {
        let hp = self.host_port();
        hp == "localhost" || hp.starts_with("localhost:")
    }
}

fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => Some((authority, None)),
        None => Some((authority, None)),
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

impl TryFrom<String> for Domain {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Domain> for String {
    fn from(d: Domain) -> Self {
        d.origin
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

/// The `ALLOWED_DOMAINS` allowlist: `*` (any) or a list of domains. Matching ignores the
/// scheme; a loopback domain matches a loopback entry on any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedDomains {
    /// Every domain is allowed.
    Any,
    /// Only these.
    Only(Vec<Domain>),
}

impl AllowedDomains {
    /// Parses a comma-separated list; `*` anywhere in it allows any domain.
    ///
    /// # Errors
    /// When an entry is not a valid domain.
    pub fn parse(list: &str) -> Result<Self, InvalidValue> {
        let entries: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.contains(&"*") {
            return Ok(Self::Any);
        }
        let domains = entries
            .into_iter()
            .map(|e| {
                Domain::parse(e).map_err(|_| {
                    InvalidValue(format!("ALLOWED_DOMAINS entry {e:?} is not a domain"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::Only(domains))
    }

    /// Whether `domain` is allowed.
    #[must_use]
    pub fn allows(&self, domain: &Domain) -> bool {
        match self {
            Self::Any => true,
            Self::Only(list) => list.iter().any(|entry| {
                entry.host_port() == domain.host_port()
                    || (entry.is_loopback() && domain.is_loopback())
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        Domain::parse(s).unwrap().as_str().to_owned()
    }

    #[test]
    fn normalisation() {
        assert_eq!(d("a.example"), "https://a.example");
        assert_eq!(d("https://A.Example/"), "https://a.example");
        assert_eq!(d("https://a.example///"), "https://a.example");
        assert_eq!(d("http://a.example:8080/path?q"), "http://a.example:8080");
        assert_eq!(d("http://127.0.0.1:5173"), "http://localhost:5173");
        assert_eq!(d("[::1]:3000"), "https://localhost:3000");
        assert_eq!(d("LOCALHOST"), "https://localhost");
        assert_eq!(
            Domain::parse("https://a.example").unwrap().host_port(),
            "a.example"
        );
    }

    #[test]
    fn invalid_domains() {
        for bad in [
            "",
            "  ",
            "a b",
            "https://",
            "a.example:99999",
            "ht tp://x",
            "a$b.com",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowlist_ignores_scheme_and_loopback_port() {
        let allowed = AllowedDomains::parse("lcyt.fi, www.lcyt.fi,localhost").unwrap();
        assert!(allowed.allows(&Domain::parse("https://lcyt.fi").unwrap()));
        assert!(allowed.allows(&Domain::parse("http://LCYT.fi/").unwrap()));
        assert!(allowed.allows(&Domain::parse("http://127.0.0.1:5173").unwrap()));
        assert!(!allowed.allows(&Domain::parse("https://lcyt.fi:8443").unwrap()));
        assert!(!allowed.allows(&Domain::parse("https://evil.example").unwrap()));
        assert!(AllowedDomains::parse("a.com,*")
            .unwrap()
            .allows(&Domain::parse("x.y").unwrap()));
        assert!(AllowedDomains::parse("a.com,bad host").is_err());
    }
}
