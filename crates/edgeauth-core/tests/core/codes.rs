//! The error codes are wire contract: pinned here, in check order.

use edgeauth_core::{AccessError, KeySetError, PolicyError, VerifyError};

#[test]
fn verify_codes_are_pinned_in_check_order() {
    let codes: Vec<_> = VerifyError::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(
        codes,
        [
            "token_too_large",
            "malformed",
            "unsupported_alg",
            "wrong_type",
            "unknown_key",
            "bad_signature",
            "expired",
            "not_yet_valid",
            "wrong_issuer",
            "wrong_audience",
            "revoked",
        ]
    );
    for e in VerifyError::ALL {
        assert_eq!(VerifyError::from_code(e.code()), Some(e));
        assert_eq!(e.http_status(), 401);
        let shown = e.to_string();
        assert_eq!(shown, shown.to_lowercase(), "Display is lowercase");
    }
}

#[test]
fn access_codes_are_pinned() {
    let codes: Vec<_> = AccessError::ALL
        .iter()
        .map(|e| (e.code(), e.http_status()))
        .collect();
    assert_eq!(
        codes,
        [
            ("missing_token", 401),
            ("route_denied", 403),
            ("insufficient_role", 403),
            ("insufficient_permission", 403),
        ]
    );
    for e in AccessError::ALL {
        assert_eq!(AccessError::from_code(e.code()), Some(e));
    }
}

#[test]
fn loading_codes_are_pinned() {
    assert_eq!(KeySetError::NotJwks("x").code(), "invalid_jwks");
    assert_eq!(PolicyError::Json("x").code(), "invalid_policy");
}

#[test]
fn name_codes_are_pinned() {
    use edgeauth_core::NameError;
    let codes: Vec<_> = NameError::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(
        codes,
        [
            "invalid_role_name",
            "invalid_role_name",
            "invalid_permission_name",
            "invalid_permission_name",
            "invalid_permission_name",
        ]
    );
    for e in NameError::ALL {
        let shown = e.to_string();
        assert_eq!(shown, shown.to_lowercase(), "Display is lowercase");
    }
}

#[test]
fn csrf_code_is_pinned() {
    use edgeauth_core::CsrfError;
    let codes: Vec<_> = CsrfError::ALL
        .iter()
        .map(|e| (e.code(), e.http_status()))
        .collect();
    assert_eq!(codes, [("csrf_rejected", 403)]);
    for e in CsrfError::ALL {
        let shown = e.to_string();
        assert_eq!(shown, shown.to_lowercase(), "Display is lowercase");
    }
}

#[test]
fn assertion_codes_are_pinned_in_check_order() {
    use edgeauth_core::AssertionError;
    let codes: Vec<_> = AssertionError::ALL
        .iter()
        .map(|e| (e.code(), e.http_status()))
        .collect();
    assert_eq!(
        codes,
        [
            ("assertion_missing", 403),
            ("assertion_malformed", 403),
            ("assertion_bad_signature", 403),
            ("assertion_expired", 403),
            ("assertion_mismatch", 403),
            ("invalid_assertion_key", 0),
        ]
    );
    for e in AssertionError::ALL {
        let shown = e.to_string();
        assert_eq!(shown, shown.to_lowercase(), "Display is lowercase");
    }
}
