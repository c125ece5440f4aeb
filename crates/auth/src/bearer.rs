//! Telling a JWT from an API key in an `Authorization: Bearer` value.

/// Whether `bearer` has the shape of a compact JWS: three non-empty base64url segments
/// separated by dots, the first of which encodes a JSON object (so starts with `eyJ`, the
/// encoding of `{"`). Anything else is treated as an API key. The header check keeps a custom
/// API key that happens to contain two dots from being mistaken for a token.
#[must_use]
pub fn looks_like_jwt(bearer: &str) -> bool {
    let mut parts = bearer.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    header.starts_with("eyJ") && [header, payload, signature].iter().all(|p| is_base64url(p))
}

fn is_base64url(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_jwt_looks_like_one() {
        let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJhYmMifQ.\
                     dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(looks_like_jwt(token));
    }

    #[test]
    fn api_keys_and_junk_do_not() {
        for s in [
            "tk_0123456789abcdefghijABCDEFGHIJ01",
            "",
            "a.b",
            "eyJa.b",
            "eyJa.b.c.d",
            "eyJa..c",
            "eyJa.b.",
            "abc.def.ghi",
            "eyJa.b=.c",
            "eyJa.b c.d",
            "eyJa.b+/.c",
        ] {
            assert!(!looks_like_jwt(s), "{s:?}");
        }
    }
}
