//! The edgeauth issuing server: registers users, checks passwords
//! (argon2id), signs short-lived EdDSA access tokens with `edgeauth-core`,
//! rotates opaque refresh tokens with family reuse detection, and publishes
//! its public keys as a JWKS. docs/server-api.md and docs/tokens.md are the contract.
//!
//! [`app`] builds the axum `Router` over an [`AppState`]; the `edgeauth`
//! binary is a thin wrapper around [`cli::run`].

#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core,
    reason = "a std server: the core/alloc path lints exist for the no_std verifier"
)]

mod auth;
pub mod cli;
mod clock;
mod config;
mod error;
mod http;
mod metrics;
mod secret;
mod serve;
mod state;
mod store;

// The public interface.
pub use crate::{
    auth::outbox::Delivered,
    auth::tokens::{KeyInfo, KeyState},
    clock::{Clock, ManualClock, SystemClock},
    config::{
        Argon2Costs, AuditSettings, Backend, Config, ConfigError, CookieSettings, DatabaseSettings,
        DatabaseUrl, KeySettings, MailSettings, Mode, PasswordRules, PasswordSettings, Rate,
        RevocationSettings, ServerSettings, SessionSettings, SmtpUrl, Synchronous,
        ThrottleSettings, parse_duration_ms,
    },
    config::{ConnectionSettings, LogFormat, TelemetrySettings},
    error::{AppError, PROBLEM_JSON},
    http::app,
    secret::{MasterKey, SecretString},
    state::AppState,
    store::{
        AdminChange, AdminStore, AnyStore, AuditEvent, AuditQuery, AuditStore, ChangeOutcome,
        EmailStore, KeyStore, LoggedEvent, MailOutcome, MailTokenRecord, NewMail, NewMailToken,
        NewSession, PgStore, QueuedMail, RefreshRecord, RevocationStore, RoleDef, RoleStore,
        RotateOutcome, Rotation, Session, SessionStore, Spent, SqliteStore, Store, StoreError,
        StoredKey, ThrottleStore, TokenEffect, User, UserPage, UserStore, connect_store,
    },
};
