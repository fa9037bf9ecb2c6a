//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated
//! by utoipa from the handlers' `#[utoipa::path]` and their types. Every
//! area's router is an `OpenApiRouter` whose routes come from those same
//! annotations (`routes!`), so a route cannot be served without being
//! documented; the API tests compare the two as well.

use std::sync::OnceLock;

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::admin::ProblemDoc;
use crate::state::AppState;

/// The document's fixed parts: info, the error schema and the security
/// schemes (`bearer`: an access token in `Authorization`; `cookie`: the
/// access cookie, whose unsafe requests need an allowed Origin).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "edgeauth",
        description = "The edgeauth issuing server: accounts, tokens, sessions, keys, \
                       and the admin API. Errors are application/problem+json (RFC 9457).",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(schemas(ProblemDoc)),
    modifiers(&SecuritySchemes),
)]
pub(crate) struct Base;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("edgeauth_session"))),
        );
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi))
}

/// The document, built once: the routes of [`super::routes`] over
/// [`Base`].
pub(crate) fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, doc) = super::routes(|r| r).split_for_parts();
        doc.to_pretty_json().unwrap_or_default()
    })
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
async fn openapi() -> Response {
    let mut response = document().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    /// Every router is built from annotated handlers (`routes!`), never
    /// with a bare axum route call, which would serve a path the document
    /// lacks.
    #[test]
    fn no_route_bypasses_the_document() {
        let sources = [
            include_str!("account.rs"),
            include_str!("admin.rs"),
            include_str!("audit.rs"),
            include_str!("auth.rs"),
            include_str!("meta.rs"),
            include_str!("mod.rs"),
            include_str!("openapi.rs"),
            include_str!("revocations.rs"),
        ];
        let bare = concat!(".rou", "te(");
        for source in sources {
            assert!(!source.contains(bare), "a router uses a bare route");
        }
    }
}
