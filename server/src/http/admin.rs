//! `/admin/v1/...`: users, their sessions and roles, role definitions and
//! signing keys, for operators' automation (docs/admin-api.md). Every
//! route is guarded by [`Admin`]: an access token (Bearer, or the access
//! cookie with an allowed Origin for unsafe methods) whose permissions
//! grant the route's, decided by the core's authorization
//! ([`edgeauth_core::Requirement`]), the gate's decision point.

use core::marker::PhantomData;

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequestParts, Path, Query, State},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use edgeauth_core::{AccessError, Requirement};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    account::{SessionView, rfc3339},
    audit::Audit,
    extract::{self, Authenticated},
};
use crate::{
    KeyInfo, KeyState,
    auth::{
        admin::{self, Credential, NewUser, UserInfo, UserPatch},
        audit::AuditContext,
    },
    error::AppError,
    secret::SecretString,
    state::AppState,
    store::RoleDef,
};

/// A permission an admin route requires.
pub(crate) trait Permission: Send + Sync + 'static {
    /// Its name, e.g. `admin.users.read`.
    const NAME: &'static str;
}

macro_rules! permissions {
    ($($ty:ident = $name:literal),* $(,)?) => {$(
        #[doc = concat!("The permission `", $name, "`.")]
        #[derive(Debug)]
        pub(crate) struct $ty;
        impl Permission for $ty {
            const NAME: &'static str = $name;
        }
    )*};
}

permissions! {
    UsersRead = "admin.users.read",
    UsersWrite = "admin.users.write",
    SessionsRead = "admin.sessions.read",
    SessionsWrite = "admin.sessions.write",
    RolesRead = "admin.roles.read",
    RolesWrite = "admin.roles.write",
    KeysRead = "admin.keys.read",
    KeysWrite = "admin.keys.write",
    AuditRead = "admin.audit.read",
}

/// A caller whose access token grants `P` (`admin.*` and `*` included, by
/// the core's wildcard rules). No token: 401 `missing_token`; a token
/// without `P`: 403 `insufficient_permission`.
#[derive(Debug)]
pub(crate) struct Admin<P> {
    pub(crate) auth: Authenticated,
    permission: PhantomData<P>,
}

impl<P> Admin<P> {
    /// The audit context of this caller's request.
    fn acting(&self, audit: &Audit) -> AuditContext {
        audit.0.acted_by(&self.auth.claims.sub)
    }
}

impl<P: Permission> FromRequestParts<AppState> for Admin<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let auth = match Authenticated::from_request_parts(parts, state).await {
            Err(AppError::MissingToken) => return Err(AppError::Access(AccessError::MissingToken)),
            other => other?,
        };
        Requirement::new()
            .perms([P::NAME])
            .map_err(|e| AppError::internal(format!("{}: {e:?}", P::NAME)))?
            .check(&auth.claims)
            .map_err(AppError::Access)?;
        Ok(Self {
            auth,
            permission: PhantomData,
        })
    }
}

/// An RFC 9457 problem document, as every error is answered.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProblemDoc {
    /// `urn:edgeauth:error:<code>`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    kind: String,
    /// The status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// A human-readable explanation.
    detail: String,
    /// The stable error code (docs/codes.md).
    code: String,
}

/// The error answers of every route.
#[derive(Debug, IntoResponses)]
#[allow(dead_code, reason = "describes responses; never built")]
pub(crate) enum Problems {
    /// A client error; `code` says which.
    #[response(status = "4XX", content_type = "application/problem+json")]
    Client(ProblemDoc),
    /// A server error (`internal_error`, `database_unavailable`,
    /// `server_busy`).
    #[response(status = "5XX", content_type = "application/problem+json")]
    Server(ProblemDoc),
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(user_sessions, revoke_user_sessions))
        .routes(routes!(set_user_roles))
        .routes(routes!(list_roles))
        .routes(routes!(define_role, delete_role))
        .routes(routes!(list_keys))
        .routes(routes!(rotate_key))
}

/// A user, as the admin API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminUser {
    id: String,
    email: String,
    name: Option<String>,
    /// Whether the current email address was verified (by a mailed link).
    email_verified: bool,
    disabled: bool,
    /// The roles granted directly.
    roles: Vec<String>,
    /// The permissions those roles grant, the hierarchy expanded.
    perms: Vec<String>,
    /// RFC 3339.
    created_at: String,
}

impl From<UserInfo> for AdminUser {
    fn from(info: UserInfo) -> Self {
        let user = info.user;
        Self {
            email_verified: user.email_verified_at.is_some(),
            disabled: user.disabled_at.is_some(),
            id: user.id,
            email: user.email,
            name: user.name,
            roles: info.roles,
            perms: info.perms,
            created_at: rfc3339(user.created_at),
        }
    }
}

/// `{"user": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserBody {
    user: AdminUser,
}

fn user_body(info: UserInfo) -> Json<UserBody> {
    Json(UserBody { user: info.into() })
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserList {
    users: Vec<AdminUser>,
    /// The next page's cursor; null on the last page.
    next_cursor: Option<String>,
}

/// The user list's query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserParams {
    /// Only the user with this email (normalised, exact).
    email: Option<String>,
    /// A `next_cursor` of an earlier page.
    cursor: Option<String>,
    /// 1 to 100, default 50.
    limit: Option<String>,
}

/// Users in creation order.
#[utoipa::path(get, path = "/admin/v1/users", tag = "admin", params(UserParams),
    security(("bearer" = ["admin.users.read"]), ("cookie" = ["admin.users.read"])),
    responses((status = 200, description = "a page of users", body = UserList), Problems))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    _: Admin<UsersRead>,
    Query(params): Query<UserParams>,
) -> Result<Json<UserList>, AppError> {
    let limit = admin::limit(params.limit.as_deref())?;
    let page = admin::list_users(
        &*state.store,
        &state.cursors,
        params.email.as_deref(),
        params.cursor.as_deref(),
        limit,
    )
    .await?;
    Ok(Json(UserList {
        users: page.items.into_iter().map(AdminUser::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A user to create: exactly one of `password` and `password_hash`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUserBody {
    email: String,
    #[serde(default)]
    name: Option<String>,
    /// Checked by the password policy, hashed with argon2id.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
    /// A PHC string from another system: argon2id, argon2i, bcrypt,
    /// scrypt or pbkdf2-sha256; replaced by argon2id at the first login.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    password_hash: Option<SecretString>,
}

impl CreateUserBody {
    /// The new user, or 422 `invalid_body` unless exactly one credential
    /// is given.
    pub(crate) fn into_new_user(self) -> Result<NewUser, AppError> {
        let credential = match (self.password, self.password_hash) {
            (Some(password), None) => Credential::Password(password),
            (None, Some(hash)) => Credential::Hash(hash),
            _ => {
                return Err(AppError::Unprocessable {
                    code: "invalid_body",
                    detail: "give exactly one of password and password_hash".into(),
                });
            }
        };
        Ok(NewUser {
            email: self.email,
            name: self.name,
            credential,
            roles: Vec::new(),
        })
    }
}

/// Creates a user, with a password or an imported hash.
#[utoipa::path(post, path = "/admin/v1/users", tag = "admin", request_body = CreateUserBody,
    security(("bearer" = ["admin.users.write"]), ("cookie" = ["admin.users.write"])),
    responses((status = 201, description = "created", body = UserBody), Problems))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Admin<UsersWrite>,
    audit: Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body: CreateUserBody = extract::json(&headers, &body)?;
    let info = admin::create_user(
        &state.accounts,
        &*state.store,
        body.into_new_user()?,
        &caller.acting(&audit),
        caller.auth.now,
    )
    .await?;
    Ok((StatusCode::CREATED, user_body(info)).into_response())
}

/// One user.
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "the user id")),
    security(("bearer" = ["admin.users.read"]), ("cookie" = ["admin.users.read"])),
    responses((status = 200, description = "the user", body = UserBody), Problems))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    _: Admin<UsersRead>,
    Path(id): Path<String>,
) -> Result<Json<UserBody>, AppError> {
    Ok(user_body(admin::user_info(&*state.store, &id).await?))
}

/// `null` kept apart from absent: `Some(None)` clears.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What to change; any of the fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchUserBody {
    #[serde(default)]
    email: Option<String>,
    /// null clears the name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    /// true disables the account and revokes every session.
    #[serde(default)]
    disabled: Option<bool>,
}

/// Changes a user's email, name, or disabled state.
#[utoipa::path(patch, path = "/admin/v1/users/{id}", tag = "admin", request_body = PatchUserBody,
    params(("id" = String, Path, description = "the user id")),
    security(("bearer" = ["admin.users.write"]), ("cookie" = ["admin.users.write"])),
    responses((status = 200, description = "the user", body = UserBody), Problems))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Admin<UsersWrite>,
    audit: Audit,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UserBody>, AppError> {
    let body: PatchUserBody = extract::json(&headers, &body)?;
    let patch = UserPatch {
        email: body.email,
        name: body.name,
        disabled: body.disabled,
    };
    let info = admin::update_user(
        &*state.store,
        &state.sessions,
        &id,
        patch,
        &caller.acting(&audit),
        caller.auth.now,
    )
    .await?;
    Ok(user_body(info))
}

/// Deletes a user with its sessions.
#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "the user id")),
    security(("bearer" = ["admin.users.write"]), ("cookie" = ["admin.users.write"])),
    responses((status = 204, description = "deleted"), Problems))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    caller: Admin<UsersWrite>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    admin::delete_user(
        &*state.store,
        &state.sessions,
        &id,
        &caller.acting(&audit),
        caller.auth.now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"sessions": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionList {
    sessions: Vec<SessionView>,
}

/// A user's live sessions, most recently used first.
#[utoipa::path(get, path = "/admin/v1/users/{id}/sessions", tag = "admin",
    params(("id" = String, Path, description = "the user id")),
    security(("bearer" = ["admin.sessions.read"]), ("cookie" = ["admin.sessions.read"])),
    responses((status = 200, description = "the sessions", body = SessionList), Problems))]
pub(crate) async fn user_sessions(
    State(state): State<AppState>,
    caller: Admin<SessionsRead>,
    Path(id): Path<String>,
) -> Result<Json<SessionList>, AppError> {
    admin::user_info(&*state.store, &id).await?;
    let sessions = state
        .sessions
        .list(&id, caller.auth.now)
        .await?
        .into_iter()
        .map(|s| SessionView::new(s, &caller.auth.claims.sid))
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Revokes every session of a user.
#[utoipa::path(delete, path = "/admin/v1/users/{id}/sessions", tag = "admin",
    params(("id" = String, Path, description = "the user id")),
    security(("bearer" = ["admin.sessions.write"]), ("cookie" = ["admin.sessions.write"])),
    responses((status = 204, description = "revoked"), Problems))]
pub(crate) async fn revoke_user_sessions(
    State(state): State<AppState>,
    caller: Admin<SessionsWrite>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    admin::revoke_sessions(
        &*state.store,
        &state.sessions,
        &id,
        &caller.acting(&audit),
        caller.auth.now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"roles": [...]}`: the user's direct roles.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolesBody {
    roles: Vec<String>,
}

/// Replaces a user's direct roles.
#[utoipa::path(put, path = "/admin/v1/users/{id}/roles", tag = "admin", request_body = RolesBody,
    params(("id" = String, Path, description = "the user id")),
    security(("bearer" = ["admin.roles.write"]), ("cookie" = ["admin.roles.write"])),
    responses((status = 200, description = "the user", body = UserBody), Problems))]
pub(crate) async fn set_user_roles(
    State(state): State<AppState>,
    caller: Admin<RolesWrite>,
    audit: Audit,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UserBody>, AppError> {
    let body: RolesBody = extract::json(&headers, &body)?;
    let info = admin::set_roles(
        &*state.store,
        &id,
        body.roles,
        &caller.acting(&audit),
        caller.auth.now,
    )
    .await?;
    Ok(user_body(info))
}

/// A role definition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleView {
    name: String,
    /// The permissions it grants directly.
    permissions: Vec<String>,
    /// The roles whose roles and permissions it includes.
    inherits: Vec<String>,
}

impl From<RoleDef> for RoleView {
    fn from(def: RoleDef) -> Self {
        Self {
            name: def.name,
            permissions: def.perms,
            inherits: def.inherits,
        }
    }
}

/// `{"roles": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleList {
    roles: Vec<RoleView>,
}

/// Every defined role.
#[utoipa::path(get, path = "/admin/v1/roles", tag = "admin",
    security(("bearer" = ["admin.roles.read"]), ("cookie" = ["admin.roles.read"])),
    responses((status = 200, description = "the roles", body = RoleList), Problems))]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    _: Admin<RolesRead>,
) -> Result<Json<RoleList>, AppError> {
    let roles = admin::roles(&*state.store).await?;
    Ok(Json(RoleList {
        roles: roles.into_iter().map(RoleView::from).collect(),
    }))
}

/// A role's definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    inherits: Vec<String>,
}

/// Defines or redefines a role.
#[utoipa::path(put, path = "/admin/v1/roles/{name}", tag = "admin", request_body = RoleBody,
    params(("name" = String, Path, description = "the role")),
    security(("bearer" = ["admin.roles.write"]), ("cookie" = ["admin.roles.write"])),
    responses((status = 200, description = "the role", body = RoleView), Problems))]
pub(crate) async fn define_role(
    State(state): State<AppState>,
    caller: Admin<RolesWrite>,
    audit: Audit,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RoleView>, AppError> {
    let body: RoleBody = extract::json(&headers, &body)?;
    let def = RoleDef {
        name,
        inherits: body.inherits,
        perms: body.permissions,
    };
    admin::define_role(
        &*state.store,
        def.clone(),
        &caller.acting(&audit),
        caller.auth.now,
    )
    .await?;
    Ok(Json(def.into()))
}

/// Deletes a role that no user holds and no role inherits.
#[utoipa::path(delete, path = "/admin/v1/roles/{name}", tag = "admin",
    params(("name" = String, Path, description = "the role")),
    security(("bearer" = ["admin.roles.write"]), ("cookie" = ["admin.roles.write"])),
    responses((status = 204, description = "deleted"), Problems))]
pub(crate) async fn delete_role(
    State(state): State<AppState>,
    caller: Admin<RolesWrite>,
    audit: Audit,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    admin::delete_role(
        &*state.store,
        &name,
        &caller.acting(&audit),
        caller.auth.now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A signing key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyView {
    kid: String,
    /// `next`, `current` or `retired`.
    state: String,
    /// RFC 3339.
    created_at: String,
    /// When it signs (or signed) from.
    activates_at: String,
    /// When it stopped (or stops) signing.
    retired_at: Option<String>,
    /// When it leaves the JWKS.
    published_until: Option<String>,
}

impl From<KeyInfo> for KeyView {
    fn from(key: KeyInfo) -> Self {
        Self {
            state: key.state.as_str().to_owned(),
            kid: key.kid,
            created_at: rfc3339(key.created_at),
            activates_at: rfc3339(key.activates_at),
            retired_at: key.retired_at.map(rfc3339),
            published_until: key.published_until.map(rfc3339),
        }
    }
}

/// `{"keys": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyList {
    keys: Vec<KeyView>,
}

/// The published signing keys and their states.
#[utoipa::path(get, path = "/admin/v1/keys", tag = "admin",
    security(("bearer" = ["admin.keys.read"]), ("cookie" = ["admin.keys.read"])),
    responses((status = 200, description = "the keys", body = KeyList), Problems))]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    _: Admin<KeysRead>,
) -> Result<Json<KeyList>, AppError> {
    let keys = state
        .key_list()
        .await?
        .into_iter()
        .filter(|k| k.state != KeyState::Gone)
        .map(KeyView::from)
        .collect();
    Ok(Json(KeyList { keys }))
}

/// Publishes a new key (`next`), which signs after `KEY_PUBLISH_AHEAD`.
/// When a key already waits to take over, that key is answered with 200.
#[utoipa::path(post, path = "/admin/v1/keys/rotate", tag = "admin",
    security(("bearer" = ["admin.keys.write"]), ("cookie" = ["admin.keys.write"])),
    responses(
        (status = 201, description = "the new key", body = KeyView),
        (status = 200, description = "a key was already waiting: that key", body = KeyView),
        Problems))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    caller: Admin<KeysWrite>,
    audit: Audit,
) -> Result<Response, AppError> {
    let kid = state.rotate_keys_by(&caller.acting(&audit)).await?;
    let keys = state.key_list().await?;
    let (status, key) = match kid {
        Some(kid) => (StatusCode::CREATED, keys.into_iter().find(|k| k.kid == kid)),
        None => (
            StatusCode::OK,
            keys.into_iter().find(|k| k.state == KeyState::Next),
        ),
    };
    let key = key.ok_or_else(|| AppError::internal("the rotated key is not listed"))?;
    Ok((status, Json(KeyView::from(key))).into_response())
}
