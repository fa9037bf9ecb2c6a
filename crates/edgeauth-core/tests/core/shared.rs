//! The decisions the server, the gate and the npm package take from the
//! core instead of making their own: names, token extraction, the reuse
//! window of a verified token, the key-set refresh schedule and the HTTP
//! rendering of failures. Through the public API only.

use edgeauth_core::{
    AccessError, Challenge, DEFAULT_ACCESS_COOKIE, Extension, KeyRefresh, KeyRefreshPolicy,
    NameError, Need, Plan, Problem, Requirement, RoutePolicy, TokenSource, VerifyError,
    access_token, check_permission_name, check_role_name,
};

use crate::support::{token_case, token_verifier, vector_file};

#[test]
fn a_name_the_grammar_refuses_cannot_appear_in_a_rule() {
    for role in ["adm*", ""] {
        assert!(check_role_name(role).is_err(), "{role}");
        assert!(Requirement::new().any_roles([role]).is_err(), "{role}");
        let rules = format!(r#"[{{"path":"/","require":{{"any_roles":["{role}"]}}}}]"#);
        assert!(RoutePolicy::from_json(&rules).is_err(), "{role}");
    }
    for role in ["admin", "org:owner"] {
        assert_eq!(check_role_name(role), Ok(()));
        assert!(Requirement::new().all_roles([role]).is_ok());
    }
    assert_eq!(
        check_permission_name("a.*.b"),
        Err(NameError::MisplacedWildcard)
    );
    assert!(Requirement::new().perms(["a.*.b"]).is_err());
    assert!(Requirement::new().perms(["a.b.*"]).is_ok());
}

#[test]
fn tokens_come_from_bearer_or_the_named_cookie() {
    assert_eq!(DEFAULT_ACCESS_COOKIE, "edgeauth_session");
    let cookies = ["x=1; at=c.o.okie"];
    assert_eq!(
        access_token(Some("Bearer b.e.arer"), cookies, "at"),
        Some(("b.e.arer", TokenSource::Bearer))
    );
    assert_eq!(
        access_token(None, cookies, "at"),
        Some(("c.o.okie", TokenSource::Cookie))
    );
    assert_eq!(access_token(None, cookies, DEFAULT_ACCESS_COOKIE), None);
}

#[test]
fn a_verified_token_is_reused_exactly_while_it_would_verify_again() {
    let tokens = vector_file("tokens.json");
    let verifier = token_verifier(&tokens);
    let case = token_case(&tokens, "valid");
    let token = case["token"].as_str().unwrap();
    let now = case["now"].as_u64().unwrap();
    let claims = verifier.verify(token, now).unwrap();
    let window = verifier.reuse_window(&claims);
    assert!(window.from() <= now && now < window.until());
    for at in [
        window.from().saturating_sub(1),
        window.from(),
        now,
        window.until() - 1,
        window.until(),
    ] {
        let fresh = verifier.verify(token, at).map(|_| ());
        assert_eq!(window.check(at), fresh, "at {at}");
        assert_eq!(verifier.check_times(&claims, at), fresh, "at {at}");
    }
}

#[test]
fn one_refresh_schedule() {
    let policy = KeyRefreshPolicy::DEFAULT;
    assert_eq!(
        (
            policy.min_ttl_ms,
            policy.default_ttl_ms,
            policy.max_ttl_ms,
            policy.refetch_interval_ms
        ),
        (60_000, 300_000, 3_600_000, 60_000)
    );
    assert_eq!(policy.ttl_ms(Some("max-age=600, s-maxage=120")), 120_000);
    let mut refresh = KeyRefresh::new(policy);
    let t0 = 1_767_225_600_000;
    assert_eq!(refresh.plan(Need::UnknownKey, t0), Plan::Start);
    let ticket = refresh.started(t0);
    assert_eq!(refresh.plan(Need::UnknownKey, t0 + 1), Plan::Wait);
    refresh.succeeded(ticket, t0 + 10, Some("max-age=600"));
    assert_eq!(refresh.plan(Need::UnknownKey, t0 + 59_999), Plan::Skip);
    assert_eq!(refresh.plan(Need::UnknownKey, t0 + 60_000), Plan::Start);
    assert_eq!(refresh.plan(Need::Stale, t0 + 600_009), Plan::Skip);
    assert_eq!(refresh.plan(Need::Stale, t0 + 600_010), Plan::Start);
}

#[test]
fn failures_render_one_way() {
    for e in VerifyError::ALL {
        let json: serde_json::Value = serde_json::from_str(
            &Problem::new(e.code(), e.http_status(), &e.to_string()).to_json(),
        )
        .unwrap();
        assert_eq!(json["type"], format!("urn:edgeauth:error:{}", e.code()));
        assert_eq!(json["title"], "Unauthorized");
        assert_eq!(json["status"], 401);
        assert_eq!(json["code"], e.code());
        let challenge = Challenge::for_verify(e).header_value();
        assert!(
            challenge.starts_with(r#"Bearer realm="edgeauth", error="invalid_token""#),
            "{challenge}"
        );
    }
    for e in AccessError::ALL {
        let body = Problem::new(e.code(), e.http_status(), "x")
            .to_json_with(&[("error", Extension::Str("invalid_request"))]);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], e.http_status());
        assert_eq!(json["error"], "invalid_request");
    }
    assert_eq!(
        Challenge::for_access(AccessError::MissingToken).map(|c| c.header_value()),
        Some(r#"Bearer realm="edgeauth""#.to_owned())
    );
}
