//! The two cookies of browser flows (docs/server-api.md, "Cookies"): the
//! access token (HttpOnly, SameSite=Lax, Path=/) and the refresh token
//! (HttpOnly, SameSite=Strict, Path=/auth), Secure unless configured off.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::state::AppState;

fn set(headers: &mut HeaderMap, cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}

fn build(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: u64,
) -> String {
    let secure = if state.config.cookies.secure {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
    )
}

/// Sets both cookies for a fresh token pair.
pub(crate) fn set_pair(
    headers: &mut HeaderMap,
    state: &AppState,
    access_token: &str,
    refresh_token: &str,
    refresh_max_age: u64,
) {
    let c = &state.config;
    set(
        headers,
        build(
            state,
            &c.cookies.access_name,
            access_token,
            "/",
            "Lax",
            c.sessions.access_ttl,
        ),
    );
    set(
        headers,
        build(
            state,
            &c.cookies.refresh_name,
            refresh_token,
            "/auth",
            "Strict",
            refresh_max_age,
        ),
    );
}

/// Clears both cookies.
pub(crate) fn clear(headers: &mut HeaderMap, state: &AppState) {
    let c = &state.config;
    set(
        headers,
        build(state, &c.cookies.access_name, "", "/", "Lax", 0),
    );
    set(
        headers,
        build(state, &c.cookies.refresh_name, "", "/auth", "Strict", 0),
    );
}
