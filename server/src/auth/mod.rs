//! Authentication logic over the store, independent of HTTP: accounts,
//! sign-in, token issue and refresh.

pub(crate) mod limiter;
pub(crate) mod password;
pub(crate) mod refresh;
pub(crate) mod roles;
pub(crate) mod session_cache;
pub(crate) mod tokens;

use edgeauth_core::Claims;

use crate::{
    error::AppError,
    secret::{SecretString, b64, random},
    state::AppState,
    store::{StoreError, User},
};
use refresh::{Granted, RefreshToken};

/// An access token with its refresh token and session.
#[derive(Debug)]
pub(crate) struct TokenPair {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) granted: Granted,
}

/// Normalises an email (trim, lowercase) and checks its shape.
pub(crate) fn normalize_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let invalid = || AppError::Unprocessable {
        code: "invalid_email",
        detail: "the email address is not valid".into(),
    };
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let ok = email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !local.contains('@')
        && email
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != ',' && c != ';');
    if ok { Ok(email) } else { Err(invalid()) }
}

fn normalize_name(name: Option<String>) -> Result<Option<String>, AppError> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::Unprocessable {
            code: "invalid_name",
            detail: "the name must be at most 200 characters, without control characters".into(),
        });
    }
    Ok(Some(name.to_owned()))
}

/// Creates an account (register, and `users create`).
pub(crate) async fn register(
    state: &AppState,
    email: &str,
    password: &SecretString,
    name: Option<String>,
    now: u64,
) -> Result<User, AppError> {
    let email = normalize_email(email)?;
    let name = normalize_name(name)?;
    let normalized = state
        .policy
        .check(password, &email)
        .map_err(AppError::WeakPassword)?;
    let slot = state.hasher.slot().await?;
    if state.store.user_by_email(&email).await?.is_some() {
        return Err(AppError::EmailTaken);
    }
    let password_hash = state.hasher.hash(slot, normalized).await?;
    let id = uuid::Builder::from_random_bytes(random()?)
        .into_uuid()
        .to_string();
    let user = User {
        id,
        email,
        name,
        password_hash,
        created_at: now,
    };
    match state.store.create_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict) => Err(AppError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// Signs in with email and password: the same answer, and the same argon2
/// work, whether the email is unknown or the password wrong.
pub(crate) async fn login(
    state: &AppState,
    email: &str,
    password: &SecretString,
    user_agent: Option<String>,
    now: u64,
) -> Result<TokenPair, AppError> {
    // The hashing slot first: a flood is shed before it costs a lookup.
    let slot = state.hasher.slot().await?;
    let had_failures = state.limiter.check(&*state.store, email, now).await?;
    let user = match normalize_email(email) {
        Ok(email) => state.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let verified = state
        .hasher
        .verify(
            slot,
            password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let Some(user) = user.filter(|_| verified.ok) else {
        state.limiter.failed(&*state.store, email, now).await?;
        return Err(AppError::InvalidCredentials);
    };
    if had_failures {
        state.limiter.succeeded(&*state.store, email).await?;
    }
    if let Some(hash) = verified.rehash {
        state.store.set_password_hash(&user.id, &hash).await?;
        tracing::info!(user_id = %user.id, "password rehashed with the current argon2 parameters");
    }
    let granted = refresh::start(
        &*state.store,
        &state.sessions,
        state.session_policy(),
        &user.id,
        user_agent,
        vec!["pwd".into()],
        now,
    )
    .await?;
    pair(state, granted, now).await
}

/// Rotates a refresh token into a new pair.
pub(crate) async fn refresh(
    state: &AppState,
    token: &RefreshToken,
    now: u64,
) -> Result<TokenPair, AppError> {
    let granted = refresh::rotate(
        &*state.store,
        &state.sessions,
        &state.successor,
        state.session_policy(),
        token,
        now,
    )
    .await?;
    pair(state, granted, now).await
}

async fn pair(state: &AppState, mut granted: Granted, now: u64) -> Result<TokenPair, AppError> {
    let direct = match granted.roles.take() {
        Some(roles) => roles,
        None => state.store.user_roles(&granted.user_id).await?,
    };
    let access_token =
        access_token(state, &granted.user_id, &granted.session_id, direct, now).await?;
    Ok(TokenPair {
        access_token,
        expires_in: state.config.sessions.access_ttl,
        granted,
    })
}

/// Mints an access token with the effective roles and permissions of the
/// user's `direct` roles.
async fn access_token(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    direct: Vec<String>,
    now: u64,
) -> Result<String, AppError> {
    let grants = if direct.is_empty() {
        roles::Grants::default()
    } else {
        roles::expand(&direct, &state.store.role_definitions().await?)
    };
    let jti: [u8; 16] = random()?;
    let claims = Claims {
        iss: state.config.server.issuer.clone(),
        aud: vec![state.config.server.audience.clone()],
        sub: user_id.to_owned(),
        sid: session_id.to_owned(),
        jti: b64(&jti),
        iat: now,
        nbf: now,
        exp: now.saturating_add(state.config.sessions.access_ttl),
        roles: grants.roles,
        perms: grants.perms,
        tid: None,
        amr: Some(vec!["pwd".to_owned()]),
    };
    state.keys.mint(&claims)
}
