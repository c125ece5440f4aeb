use std::time::Duration;

use time::macros::datetime;
use time::OffsetDateTime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);
const TTL: Duration = Duration::from_secs(7200);

fn keys() -> JwtKeys {
    JwtKeys::from_secret(b"a test secret of reasonable length")
}

fn the_session() -> SessionRef {
    SessionRef::new(
        OrgId::parse("org_acme").unwrap(),
        SessionId::parse("0123456789abcdef").unwrap(),
    )
}

fn session() -> SessionClaims {
    SessionClaims::new(the_session(), KeyId(42), Uuid::from_u128(7), NOW, TTL)
}

fn user() -> UserClaims {
    UserClaims::new(
        UserId(Uuid::from_u128(9)),
        Role::Admin,
        OrgId::default_org(),
        Uuid::from_u128(8),
        NOW,
        TTL,
    )
}

fn payload(token: &str) -> serde_json::Value {
    let mut insecure = Validation::new(Algorithm::HS256);
    insecure.insecure_disable_signature_validation();
    insecure.validate_exp = false;
    insecure.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_secret(b""), &insecure)
        .unwrap()
        .claims
}

#[test]
fn session_token_round_trips_with_its_wire_claims() {
    let claims = session();
    assert_eq!(
        (claims.iat, claims.exp),
        (NOW.unix_timestamp(), NOW.unix_timestamp() + 7200)
    );
    let token = keys().issue(claims.clone()).unwrap();
    assert!(crate::looks_like_jwt(&token));
    assert_eq!(keys().verify_session(&token, NOW).unwrap(), claims);
    let wire = payload(&token);
    assert_eq!(wire["typ"], "session");
    assert_eq!(wire["sid"], "0123456789abcdef");
    assert_eq!(wire["org"], "org_acme");
    assert_eq!(wire["kid"], 42);
    assert_eq!(wire["jti"], Uuid::from_u128(7).to_string());
    let mut names: Vec<_> = wire.as_object().unwrap().keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["exp", "iat", "jti", "kid", "org", "sid", "typ"]);
}

#[test]
fn user_token_round_trips_with_its_wire_claims() {
    let claims = user();
    let token = keys().issue(claims.clone()).unwrap();
    assert_eq!(keys().verify_user(&token, NOW).unwrap(), claims);
    let wire = payload(&token);
    assert_eq!(wire["typ"], "user");
    assert_eq!(wire["sub"], Uuid::from_u128(9).to_string());
    assert_eq!(wire["role"], "admin");
    assert_eq!(wire["org"], "org_default");
}

#[test]
fn expiry_is_exact_with_zero_leeway() {
    let token = keys().issue(session()).unwrap();
    let exp = NOW + time::Duration::seconds(7200);
    assert!(keys()
        .verify(&token, exp - time::Duration::seconds(1))
        .is_ok());
    assert!(keys()
        .verify(&token, exp - time::Duration::milliseconds(1))
        .is_ok());
    assert_eq!(keys().verify(&token, exp), Err(VerifyError::Expired));
    assert_eq!(
        keys().verify(&token, exp + time::Duration::days(1)),
        Err(VerifyError::Expired)
    );
}

#[test]
fn sub_second_ttl_rounds_up_to_a_whole_second() {
    let c = SessionClaims::new(
        the_session(),
        KeyId(1),
        Uuid::nil(),
        NOW,
        Duration::from_millis(1),
    );
    assert_eq!(c.exp - c.iat, 1);
    let c = SessionClaims::new(the_session(), KeyId(1), Uuid::nil(), NOW, Duration::ZERO);
    assert_eq!(c.exp, c.iat);
    let token = keys().issue(c).unwrap();
    assert_eq!(keys().verify(&token, NOW), Err(VerifyError::Expired));
}

#[test]
fn another_secret_is_a_bad_signature() {
    let token = keys().issue(session()).unwrap();
    let other = JwtKeys::from_secret(b"another secret");
    assert_eq!(other.verify(&token, NOW), Err(VerifyError::BadSignature));
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let token = keys().issue(session()).unwrap();
    let forged = keys()
        .issue(SessionClaims {
            kid: KeyId(43),
            ..session()
        })
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let forged_parts: Vec<&str> = forged.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], forged_parts[1], parts[2]);
    assert_eq!(keys().verify(&spliced, NOW), Err(VerifyError::BadSignature));
}

#[test]
fn garbage_and_foreign_tokens_are_malformed() {
    for token in ["", "abc", "a.b.c", "a.b", "eyJ!.e30.x"] {
        assert_eq!(
            keys().verify(token, NOW),
            Err(VerifyError::Malformed),
            "{token}"
        );
    }
    // Well-formed but unsigned by us: the signature is checked before the claims are read.
    assert_eq!(
        keys().verify("eyJhbGciOiJIUzI1NiJ9.e30.x", NOW),
        Err(VerifyError::BadSignature)
    );
    // Correctly signed, but not our claims: typ missing.
    let foreign = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"sub": "x", "exp": NOW.unix_timestamp() + 60}),
        &EncodingKey::from_secret(b"a test secret of reasonable length"),
    )
    .unwrap();
    assert_eq!(keys().verify(&foreign, NOW), Err(VerifyError::Malformed));
}

#[test]
fn unsigned_and_other_algorithms_are_rejected() {
    // alg "none" header with our payload.
    let token = keys().issue(session()).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    assert!(keys().verify(&none, NOW).is_err());
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &Claims::from(session()),
        &EncodingKey::from_secret(b"a test secret of reasonable length"),
    )
    .unwrap();
    assert_eq!(keys().verify(&hs512, NOW), Err(VerifyError::BadSignature));
}

#[test]
fn the_kinds_are_not_interchangeable() {
    let s = keys().issue(session()).unwrap();
    let u = keys().issue(user()).unwrap();
    assert_eq!(keys().verify_user(&s, NOW), Err(VerifyError::WrongType));
    assert_eq!(keys().verify_session(&u, NOW), Err(VerifyError::WrongType));
}

#[test]
fn random_secrets_differ_and_make_working_keys() {
    assert_ne!(random_secret(), random_secret());
    let k = JwtKeys::random();
    let token = k.issue(session()).unwrap();
    assert!(k.verify(&token, NOW).is_ok());
    assert_eq!(
        JwtKeys::random().verify(&token, NOW),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(format!("{k:?}"), "JwtKeys(<redacted>)");
}

#[test]
fn session_tokens_carry_the_lifetime_they_were_issued_in() {
    let started = datetime!(2026-03-01 11:59:30.125 UTC);
    let claims = session().in_lifetime(started);
    assert_eq!(claims.sst, Some(1_772_366_370_125));
    let token = keys().issue(claims).unwrap();
    let back = keys().verify_session(&token, NOW).unwrap();
    assert_eq!(back.lifetime_start(), Some(started));
    assert_eq!(payload(&token)["sst"], 1_772_366_370_125_i64);
    // A token issued without one says so (the HTTP layer refuses it).
    let bare = keys().issue(session()).unwrap();
    assert_eq!(
        keys().verify_session(&bare, NOW).unwrap().lifetime_start(),
        None
    );
    assert!(payload(&bare).get("sst").is_none());
}

#[test]
fn a_token_from_before_the_org_claim_still_verifies_and_names_no_org() {
    // The shape `POST /live` issued before tokens carried `org`.
    let mut old = session();
    old.org = None;
    let token = keys().issue(old).unwrap();
    assert!(payload(&token).get("org").is_none());
    let back = keys().verify_session(&token, NOW).unwrap();
    let named = back.session();
    assert_eq!(
        (named.org, named.id.as_str(), named.key_id),
        (None, "0123456789abcdef", KeyId(42))
    );
    let new = session().session();
    assert_eq!(new.org, Some(OrgId::parse("org_acme").unwrap()));
}

#[test]
fn a_remembered_token_is_still_checked_for_expiry_and_others_still_verified() {
    let keys = keys();
    let token = keys.issue(session()).unwrap();
    assert!(keys.verify_session(&token, NOW).is_ok());
    // Now from the cache: the same answer, and expiry still applies.
    assert_eq!(keys.verify_session(&token, NOW).unwrap(), session());
    let at_exp = NOW + time::Duration::seconds(7200);
    assert_eq!(keys.verify(&token, at_exp), Err(VerifyError::Expired));
    // A token differing in one character of its signature is verified, and refused.
    let at = token.len() - 10;
    let swap = if &token[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swap}{}", &token[..at], &token[at + 1..]);
    assert_eq!(keys.verify(&forged, NOW), Err(VerifyError::BadSignature));
    // Other keys never see this cache.
    assert_eq!(
        JwtKeys::from_secret(b"another secret").verify(&token, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn the_verified_tokens_stay_bounded() {
    let keys = keys();
    for n in 0..(VERIFIED_CAPACITY as u128 + 10) {
        let claims = SessionClaims::new(the_session(), KeyId(42), Uuid::from_u128(n), NOW, TTL);
        let token = keys.issue(claims).unwrap();
        assert!(keys.verify(&token, NOW).is_ok());
    }
    assert!(keys.verified().len() <= VERIFIED_CAPACITY);
}
