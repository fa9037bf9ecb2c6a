//! Administration: users (create, import, list, change, disable, delete),
//! their roles and sessions, role definitions, and reading the audit log.
//! The command line and the admin API (`http/admin.rs`) call these same
//! functions; each change is written with its audit event in one
//! transaction ([`crate::store::AdminStore::apply`]).
//!
//! Role and permission names follow the core's grammar
//! ([`edgeauth_core::check_role_name`], [`edgeauth_core::check_permission_name`]),
//! so that every role defined or granted here can be required by a route
//! rule; on top of it the server keeps its storage bound (ASCII letters,
//! digits and `_-.:`, `*` in permissions, at most 128 bytes).

use core::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use edgeauth_core::{NameError, check_permission_name, check_role_name};
use serde_json::{Value, json};

use crate::{
    secret::{SecretString, hmac_sha256},
    store::{
        AdminChange, AuditEvent, AuditQuery, ChangeOutcome, LoggedEvent, RoleDef, Store,
        StoreError, User,
    },
};

use super::{
    AuthError,
    accounts::{self, Accounts},
    audit::{self, AuditContext, EventType},
    imported, normalize,
    roles::{self, Grants},
    sessions::Sessions,
};

/// Why an administrative change was refused.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum AdminError {
    /// A role name outside the grammar.
    InvalidRole(String, Option<NameError>),
    /// A permission name outside the grammar.
    InvalidPermission(String, Option<NameError>),
    /// A role inherits one that is not defined.
    UndefinedRole(String),
    /// A role would inherit itself.
    Cycle(String),
    /// No user has this email.
    NoSuchUser(String),
    /// No user has this id (`user_not_found`).
    UserNotFound,
    /// No role has this name (`role_not_found`).
    RoleNotFound,
    /// The role is granted or inherited (`role_in_use`).
    RoleInUse,
    /// An imported password hash is malformed (`invalid_password_hash`).
    InvalidPasswordHash(imported::InvalidHash),
    /// A list's `limit` or `cursor` is not acceptable (`invalid_request`).
    InvalidPage(&'static str),
    /// Creating the account failed (the reasons a registration fails).
    Account(AuthError),
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRole(name, Some(e)) | Self::InvalidPermission(name, Some(e)) => {
                write!(f, "invalid {} \"{name}\": {e}", self.what())
            }
            Self::InvalidRole(name, None) => write!(
                f,
                "invalid role \"{name}\": use letters, digits and _-.: (at most 128)"
            ),
            Self::InvalidPermission(name, None) => write!(
                f,
                "invalid permission \"{name}\": use letters, digits and _-.:* (at most 128)"
            ),
            Self::UndefinedRole(role) => write!(f, "role {role} is not defined; define it first"),
            Self::Cycle(role) => write!(f, "{role} would inherit itself"),
            Self::NoSuchUser(email) => write!(f, "no user with email {email}"),
            Self::UserNotFound => f.write_str("no user with this id"),
            Self::RoleNotFound => f.write_str("no role with this name"),
            Self::RoleInUse => f.write_str("the role is granted to a user or inherited by a role"),
            Self::InvalidPasswordHash(e) => write!(f, "{e}"),
            Self::InvalidPage(what) => f.write_str(what),
            Self::Account(e @ (AuthError::Store(_) | AuthError::Internal(_))) => write!(f, "{e}"),
            Self::Account(e) => write!(f, "{}: {e}", e.code()),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for AdminError {}

impl AdminError {
    /// The stable code (the same as the HTTP answer's).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::InvalidRole(..)
            | Self::InvalidPermission(..)
            | Self::UndefinedRole(_)
            | Self::Cycle(_) => "invalid_body",
            Self::NoSuchUser(_) | Self::UserNotFound => "user_not_found",
            Self::RoleNotFound => "role_not_found",
            Self::RoleInUse => "role_in_use",
            Self::InvalidPasswordHash(_) => "invalid_password_hash",
            Self::InvalidPage(_) => "invalid_request",
            Self::Account(e) => e.code(),
            Self::Store(StoreError::Unavailable(_)) => "database_unavailable",
            Self::Store(_) => "internal_error",
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Self::InvalidPermission(..) => "permission",
            _ => "role",
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The server's storage bound on names, beside the core's grammar.
fn within_bound(name: &str, wildcard: bool) -> bool {
    name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b) || (wildcard && b == b'*'))
}

/// Checks a role name: the core's grammar, then the storage bound.
pub(crate) fn check_role(name: &str) -> Result<(), AdminError> {
    check_role_name(name).map_err(|e| AdminError::InvalidRole(name.to_owned(), Some(e)))?;
    if within_bound(name, false) {
        Ok(())
    } else {
        Err(AdminError::InvalidRole(name.to_owned(), None))
    }
}

/// Checks a permission name: the core's grammar, then the storage bound.
pub(crate) fn check_permission(name: &str) -> Result<(), AdminError> {
    check_permission_name(name)
        .map_err(|e| AdminError::InvalidPermission(name.to_owned(), Some(e)))?;
    if within_bound(name, true) {
        Ok(())
    } else {
        Err(AdminError::InvalidPermission(name.to_owned(), None))
    }
}

/// The user with this email.
pub(crate) async fn user(store: &dyn Store, email: &str) -> Result<User, AdminError> {
    let normalized = normalize::email(email).map_err(AdminError::Account)?;
    store
        .user_by_email(&normalized)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(email.to_owned()))
}

/// A user as administrators see it: the row, its direct roles, and the
/// permissions those roles grant (hierarchy expanded).
#[derive(Debug, Clone)]
pub(crate) struct UserInfo {
    pub(crate) user: User,
    pub(crate) roles: Vec<String>,
    pub(crate) perms: Vec<String>,
}

impl UserInfo {
    fn new(user: User, roles: Vec<String>, defs: &[RoleDef]) -> Self {
        let perms = roles::expand(&roles, defs).perms;
        Self { user, roles, perms }
    }
}

/// How a new user proves who they are: a password (checked by the
/// policy, hashed with argon2id) or a hash imported from another system.
#[derive(Debug)]
pub(crate) enum Credential {
    Password(SecretString),
    Hash(SecretString),
}

/// A user to create (`POST /admin/v1/users`, `users create`, `users
/// import`).
#[derive(Debug)]
pub(crate) struct NewUser {
    pub(crate) email: String,
    pub(crate) name: Option<String>,
    pub(crate) credential: Credential,
    pub(crate) roles: Vec<String>,
}

/// Checks and builds a new user's row (the password hashed, or the
/// imported hash checked), without writing anything.
pub(crate) async fn prepare_user(
    accounts: &Accounts,
    store: &dyn Store,
    new: &NewUser,
    now: u64,
) -> Result<User, AdminError> {
    for role in &new.roles {
        check_role(role)?;
    }
    match &new.credential {
        Credential::Password(password) => accounts
            .prepare(&new.email, password, new.name.clone(), now)
            .await
            .map_err(AdminError::Account),
        Credential::Hash(hash) => {
            let email = normalize::email(&new.email).map_err(AdminError::Account)?;
            let name = normalize::name(new.name.clone()).map_err(AdminError::Account)?;
            imported::check(hash.expose()).map_err(AdminError::InvalidPasswordHash)?;
            if store.user_by_email(&email).await?.is_some() {
                return Err(AdminError::Account(AuthError::EmailTaken));
            }
            accounts::new_user(email, name, hash.expose().to_owned(), now)
                .map_err(AdminError::Account)
        }
    }
}

/// The `user.created` event of a prepared user.
fn created_event(
    ctx: &AuditContext,
    user: &User,
    new: &NewUser,
    now: u64,
) -> Result<AuditEvent, AdminError> {
    let imported = matches!(new.credential, Credential::Hash(_));
    ctx.event(
        EventType::UserCreated,
        Some(&user.id),
        json!({ "roles": new.roles, "imported_hash": imported }),
        now,
    )
    .map_err(AdminError::Account)
}

/// Creates a user with its roles and its `user.created` event.
pub(crate) async fn create_user(
    accounts: &Accounts,
    store: &dyn Store,
    new: NewUser,
    ctx: &AuditContext,
    now: u64,
) -> Result<UserInfo, AdminError> {
    let user = prepare_user(accounts, store, &new, now).await?;
    let event = created_event(ctx, &user, &new, now)?;
    let user = accounts::insert_user(store, user, new.roles.clone(), Vec::new(), &event)
        .await
        .map_err(AdminError::Account)?;
    Ok(UserInfo::new(
        user,
        new.roles,
        &store.role_definitions().await?,
    ))
}

/// Creates every user of a batch (`users import`), all or none: each is
/// checked first (the first failure's index and error are returned and
/// nothing is written), then all are inserted, each with its
/// `user.created` event, in one transaction.
pub(crate) async fn import_users(
    accounts: &Accounts,
    store: &dyn Store,
    batch: Vec<NewUser>,
    ctx: &AuditContext,
    now: u64,
) -> Result<Vec<User>, (usize, AdminError)> {
    let mut changes = Vec::with_capacity(batch.len());
    let mut users = Vec::with_capacity(batch.len());
    let mut emails = std::collections::HashSet::new();
    for (index, new) in batch.iter().enumerate() {
        let user = prepare_user(accounts, store, new, now)
            .await
            .map_err(|e| (index, e))?;
        if !emails.insert(user.email.clone()) {
            return Err((index, AdminError::Account(AuthError::EmailTaken)));
        }
        let event = created_event(ctx, &user, new, now).map_err(|e| (index, e))?;
        users.push(user.clone());
        let change = AdminChange::CreateUser {
            user,
            roles: new.roles.clone(),
            mails: Vec::new(),
        };
        changes.push((change, event));
    }
    match store.apply_all(&changes).await {
        Ok(()) => {}
        // An email taken between the checks and the transaction: report
        // the first line whose email now exists.
        Err(StoreError::Conflict) => {
            let mut index = 0;
            for (i, user) in users.iter().enumerate() {
                if store
                    .user_by_email(&user.email)
                    .await
                    .map_err(|e| (i, e.into()))?
                    .is_some()
                {
                    index = i;
                    break;
                }
            }
            return Err((index, AdminError::Account(AuthError::EmailTaken)));
        }
        Err(e) => return Err((0, e.into())),
    }
    for (_, event) in &changes {
        audit::log(event);
    }
    Ok(users)
}

/// A user by id, with roles and permissions.
pub(crate) async fn user_info(store: &dyn Store, id: &str) -> Result<UserInfo, AdminError> {
    let user = store
        .user_by_id(id)
        .await?
        .ok_or(AdminError::UserNotFound)?;
    let roles = store.user_roles(id).await?;
    Ok(UserInfo::new(user, roles, &store.role_definitions().await?))
}

/// The most a list returns at once, and its default.
pub(crate) const MAX_LIMIT: u32 = 100;
const DEFAULT_LIMIT: u32 = 50;

/// A list's `limit`: 1..=100, default 50.
pub(crate) fn limit(given: Option<&str>) -> Result<u32, AdminError> {
    match given {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or(AdminError::InvalidPage("limit must be between 1 and 100")),
    }
}

/// Opaque cursors: the position, and an HMAC under a key derived from the
/// master key, so that a cursor this server (or one sharing its master
/// key) did not issue is refused.
#[derive(Clone)]
pub(crate) struct CursorKey([u8; 32]);

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn tag(&self, kind: &str, position: &str) -> [u8; 32] {
        hmac_sha256(&self.0, &[kind.as_bytes(), b"\0", position.as_bytes()])
    }

    /// A cursor for `position` in the list `kind`.
    pub(crate) fn encode(&self, kind: &str, position: &str) -> String {
        let tag = self.tag(kind, position);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(position),
            URL_SAFE_NO_PAD.encode(tag.get(..16).unwrap_or_default())
        )
    }

    /// The position of a cursor of the list `kind` that this key issued.
    pub(crate) fn decode(&self, kind: &str, cursor: &str) -> Result<String, AdminError> {
        let (position, tag) = cursor.split_once('.').ok_or_else(bad_cursor)?;
        let position = URL_SAFE_NO_PAD
            .decode(position)
            .ok()
            .and_then(|p| String::from_utf8(p).ok())
            .ok_or_else(bad_cursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad_cursor())?;
        let expected = self.tag(kind, &position);
        let matches = tag.len() == 16
            && expected
                .iter()
                .zip(&tag)
                .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if matches {
            Ok(position)
        } else {
            Err(bad_cursor())
        }
    }
}

fn bad_cursor() -> AdminError {
    AdminError::InvalidPage("the cursor is not one this server issued")
}

/// A page of a list and the cursor of the next one.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next_cursor: Option<String>,
}

const USERS: &str = "users";
const AUDIT: &str = "audit";

/// Users in creation order (keyset on (created_at, id), stable while
/// users are added), or the one user with `email` (normalised).
pub(crate) async fn list_users(
    store: &dyn Store,
    key: &CursorKey,
    email: Option<&str>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<UserInfo>, AdminError> {
    let defs = store.role_definitions().await?;
    if let Some(email) = email {
        let found = match normalize::email(email) {
            Ok(normalized) => store.user_by_email(&normalized).await?,
            Err(_) => None,
        };
        let mut items = Vec::new();
        if let Some(user) = found {
            let roles = store.user_roles(&user.id).await?;
            items.push(UserInfo::new(user, roles, &defs));
        }
        return Ok(Page {
            items,
            next_cursor: None,
        });
    }
    let after = cursor
        .map(|c| {
            let position = key.decode(USERS, c)?;
            position
                .split_once(':')
                .and_then(|(at, id)| Some((at.parse::<u64>().ok()?, id.to_owned())))
                .ok_or_else(bad_cursor)
        })
        .transpose()?;
    let page = store.list_users(after, limit).await?;
    let next_cursor = (page.len() == usize::try_from(limit).unwrap_or(usize::MAX))
        .then(|| page.last())
        .flatten()
        .map(|(u, _)| key.encode(USERS, &format!("{}:{}", u.created_at, u.id)));
    Ok(Page {
        items: page
            .into_iter()
            .map(|(user, roles)| UserInfo::new(user, roles, &defs))
            .collect(),
        next_cursor,
    })
}

/// Applies a change with its event; logs the event once committed.
async fn apply(
    store: &dyn Store,
    change: &AdminChange,
    event: &AuditEvent,
    missing: AdminError,
) -> Result<Vec<String>, AdminError> {
    match store.apply(change, event).await {
        Ok(ChangeOutcome::Done { sessions, .. }) => {
            audit::log(event);
            Ok(sessions)
        }
        Ok(ChangeOutcome::InUse) => Err(AdminError::RoleInUse),
        Ok(_) => Err(missing),
        Err(StoreError::Conflict) => Err(AdminError::Account(AuthError::EmailTaken)),
        Err(e) => Err(e.into()),
    }
}

fn event(
    ctx: &AuditContext,
    kind: EventType,
    target: &str,
    detail: Value,
    now: u64,
) -> Result<AuditEvent, AdminError> {
    ctx.event(kind, Some(target), detail, now)
        .map_err(AdminError::Account)
}

/// What `PATCH /admin/v1/users/{id}` may change.
#[derive(Debug, Default)]
pub(crate) struct UserPatch {
    pub(crate) email: Option<String>,
    pub(crate) name: Option<Option<String>>,
    pub(crate) disabled: Option<bool>,
}

/// Changes a user: email and name (`user.updated`), then disabled
/// (`user.disabled`, which revokes every session, or `user.enabled`);
/// one event per change made.
pub(crate) async fn update_user(
    store: &dyn Store,
    sessions: &Sessions,
    id: &str,
    patch: UserPatch,
    ctx: &AuditContext,
    now: u64,
) -> Result<UserInfo, AdminError> {
    let current = user_info(store, id).await?;
    let email = patch
        .email
        .map(|e| normalize::email(&e))
        .transpose()
        .map_err(AdminError::Account)?
        .filter(|e| *e != current.user.email);
    let name = patch
        .name
        .map(normalize::name)
        .transpose()
        .map_err(AdminError::Account)?
        .filter(|n| *n != current.user.name);
    if email.is_some() || name.is_some() {
        let mut fields = Vec::new();
        if email.is_some() {
            fields.push("email");
        }
        if name.is_some() {
            fields.push("name");
        }
        let change = AdminChange::UpdateUser {
            id: id.to_owned(),
            email,
            name,
        };
        let event = event(
            ctx,
            EventType::UserUpdated,
            id,
            json!({ "fields": fields }),
            now,
        )?;
        apply(store, &change, &event, AdminError::UserNotFound).await?;
    }
    if let Some(disabled) = patch.disabled
        && disabled != current.user.disabled_at.is_some()
    {
        let (kind, at) = if disabled {
            (EventType::UserDisabled, Some(now))
        } else {
            (EventType::UserEnabled, None)
        };
        let change = AdminChange::SetDisabled {
            id: id.to_owned(),
            at,
        };
        let event = event(ctx, kind, id, json!({}), now)?;
        let ended = apply(store, &change, &event, AdminError::UserNotFound).await?;
        sessions.forget(&ended);
    }
    user_info(store, id).await
}

/// Deletes a user with its sessions and grants (`user.deleted`).
pub(crate) async fn delete_user(
    store: &dyn Store,
    sessions: &Sessions,
    id: &str,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AdminError> {
    let change = AdminChange::DeleteUser {
        id: id.to_owned(),
        now,
    };
    let event = event(ctx, EventType::UserDeleted, id, json!({}), now)?;
    let ended = apply(store, &change, &event, AdminError::UserNotFound).await?;
    sessions.forget(&ended);
    Ok(())
}

/// Revokes every session of a user (`session.revoked`).
pub(crate) async fn revoke_sessions(
    store: &dyn Store,
    sessions: &Sessions,
    user_id: &str,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AdminError> {
    let change = AdminChange::RevokeSessions {
        user_id: user_id.to_owned(),
        now,
    };
    let event = event(
        ctx,
        EventType::SessionRevoked,
        user_id,
        json!({ "all": true }),
        now,
    )?;
    let ended = apply(store, &change, &event, AdminError::UserNotFound).await?;
    sessions.forget(&ended);
    Ok(())
}

/// Replaces a user's direct roles (`roles.changed`).
pub(crate) async fn set_roles(
    store: &dyn Store,
    id: &str,
    roles: Vec<String>,
    ctx: &AuditContext,
    now: u64,
) -> Result<UserInfo, AdminError> {
    for role in &roles {
        check_role(role)?;
    }
    let event = event(
        ctx,
        EventType::RolesChanged,
        id,
        json!({ "roles": roles }),
        now,
    )?;
    let change = AdminChange::SetRoles {
        id: id.to_owned(),
        roles,
    };
    apply(store, &change, &event, AdminError::UserNotFound).await?;
    user_info(store, id).await
}

/// Grants `role` to the user with `email` (`roles.changed`); tells
/// whether it is new.
pub(crate) async fn grant_role(
    store: &dyn Store,
    email: &str,
    role: &str,
    ctx: &AuditContext,
    now: u64,
) -> Result<(User, bool), AdminError> {
    check_role(role)?;
    change_role(store, email, role, true, ctx, now).await
}

/// Revokes `role` from the user with `email` (`roles.changed`); tells
/// whether they had it. The name is not checked: a grant made under an
/// older grammar can still be taken back.
pub(crate) async fn revoke_role(
    store: &dyn Store,
    email: &str,
    role: &str,
    ctx: &AuditContext,
    now: u64,
) -> Result<(User, bool), AdminError> {
    change_role(store, email, role, false, ctx, now).await
}

/// Grants or revokes one role; whether anything changed.
async fn change_role(
    store: &dyn Store,
    email: &str,
    role: &str,
    grant: bool,
    ctx: &AuditContext,
    now: u64,
) -> Result<(User, bool), AdminError> {
    let user = user(store, email).await?;
    let detail = if grant {
        json!({ "granted": role })
    } else {
        json!({ "revoked": role })
    };
    let (id, role) = (user.id.clone(), role.to_owned());
    let change = if grant {
        AdminChange::GrantRole { id, role }
    } else {
        AdminChange::RevokeRole { id, role }
    };
    let event = event(ctx, EventType::RolesChanged, &user.id, detail, now)?;
    let changed = changed(store, &change, &event).await?;
    Ok((user, changed))
}

async fn changed(
    store: &dyn Store,
    change: &AdminChange,
    event: &AuditEvent,
) -> Result<bool, AdminError> {
    match store.apply(change, event).await? {
        ChangeOutcome::Done { changed, .. } => {
            audit::log(event);
            Ok(changed)
        }
        _ => Err(AdminError::UserNotFound),
    }
}

/// Defines (or redefines) a role (`role.defined`): every name checked,
/// every inherited role defined, no cycle. Returns what the role now
/// grants.
pub(crate) async fn define_role(
    store: &dyn Store,
    def: RoleDef,
    ctx: &AuditContext,
    now: u64,
) -> Result<Grants, AdminError> {
    check_role(&def.name)?;
    for name in &def.inherits {
        check_role(name)?;
    }
    for perm in &def.perms {
        check_permission(perm)?;
    }
    let mut defs = store.role_definitions().await?;
    if let Some(missing) = def
        .inherits
        .iter()
        .find(|r| !defs.iter().any(|d| &d.name == *r))
    {
        return Err(AdminError::UndefinedRole(missing.clone()));
    }
    if roles::creates_cycle(&def.name, &def.inherits, &defs) {
        return Err(AdminError::Cycle(def.name));
    }
    let event = event(
        ctx,
        EventType::RoleDefined,
        &def.name,
        json!({ "permissions": def.perms, "inherits": def.inherits }),
        now,
    )?;
    let change = AdminChange::DefineRole {
        def: def.clone(),
        now,
    };
    apply(store, &change, &event, AdminError::RoleNotFound).await?;
    defs.retain(|d| d.name != def.name);
    let name = def.name.clone();
    defs.push(def);
    Ok(roles::expand(core::slice::from_ref(&name), &defs))
}

/// Deletes a role (`role.deleted`); `role_in_use` while it is granted
/// or inherited.
pub(crate) async fn delete_role(
    store: &dyn Store,
    name: &str,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AdminError> {
    let change = AdminChange::DeleteRole {
        name: name.to_owned(),
    };
    let event = event(ctx, EventType::RoleDeleted, name, json!({}), now)?;
    apply(store, &change, &event, AdminError::RoleNotFound).await?;
    Ok(())
}

/// Every defined role.
pub(crate) async fn roles(store: &dyn Store) -> Result<Vec<RoleDef>, AdminError> {
    Ok(store.role_definitions().await?)
}

/// Filters of the audit log.
#[derive(Debug, Default)]
pub(crate) struct AuditFilter {
    pub(crate) kind: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) since: Option<u64>,
}

/// Audit events, oldest first, from `cursor` (or from the start).
pub(crate) async fn audit_events(
    store: &dyn Store,
    key: &CursorKey,
    filter: AuditFilter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<LoggedEvent>, AdminError> {
    if let Some(kind) = &filter.kind
        && EventType::parse(kind).is_none()
    {
        return Err(AdminError::InvalidPage("type is not an audit event type"));
    }
    let after = cursor
        .map(|c| {
            key.decode(AUDIT, c)?
                .parse::<u64>()
                .map_err(|_| bad_cursor())
        })
        .transpose()?;
    let items = store
        .audit_events(&AuditQuery {
            kind: filter.kind,
            user: filter.user,
            since: filter.since,
            after,
            limit,
        })
        .await?;
    Ok(Page {
        next_cursor: audit_cursor(key, &items),
        items,
    })
}

/// The cursor after the last event read: always given, so that a reader
/// (`audit tail --follow`) can wait for what comes next; None only when
/// nothing was read.
pub(crate) fn audit_cursor(key: &CursorKey, items: &[LoggedEvent]) -> Option<String> {
    items.last().map(|e| key.encode(AUDIT, &e.seq.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are those of the HTTP answers they become.
    #[test]
    fn codes_are_pinned() {
        let cases: Vec<(AdminError, &str)> = vec![
            (AdminError::UserNotFound, "user_not_found"),
            (AdminError::NoSuchUser("a@b.c".into()), "user_not_found"),
            (AdminError::RoleNotFound, "role_not_found"),
            (AdminError::RoleInUse, "role_in_use"),
            (
                AdminError::InvalidPasswordHash(imported::check("x").unwrap_err()),
                "invalid_password_hash",
            ),
            (AdminError::InvalidPage("limit"), "invalid_request"),
            (AdminError::InvalidRole("a b".into(), None), "invalid_body"),
            (AdminError::UndefinedRole("r".into()), "invalid_body"),
            (AdminError::Account(AuthError::EmailTaken), "email_taken"),
            (AdminError::Store(StoreError::Conflict), "internal_error"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }

    #[test]
    fn cursors_are_authenticated() {
        let key = CursorKey::new([7; 32]);
        let cursor = key.encode(USERS, "100:abc");
        assert_eq!(key.decode(USERS, &cursor).unwrap(), "100:abc");
        assert!(key.decode(AUDIT, &cursor).is_err());
        assert!(CursorKey::new([8; 32]).decode(USERS, &cursor).is_err());
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode("1:zzz"),
            cursor.split_once('.').unwrap().1
        );
        assert!(key.decode(USERS, &forged).is_err());
        for junk in ["", ".", "abc", "abc.def", "%%%.%%%"] {
            assert!(key.decode(USERS, junk).is_err(), "{junk}");
        }
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "x", ""] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_follow_the_cores_grammar() {
        for role in ["admin", "billing.viewer", "team:42", "a-b_c"] {
            assert!(check_role(role).is_ok(), "{role}");
        }
        let refused = check_role("adm*").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "invalid role \"adm*\": a role name cannot contain '*'"
        );
        assert!(check_role("").is_err());
        assert!(check_role("has space").is_err());
        assert!(check_role(&"r".repeat(129)).is_err());
        for perm in ["*", "articles.*", "articles.read", "a.b.*"] {
            assert!(check_permission(perm).is_ok(), "{perm}");
        }
        for perm in ["", "a..b", "*.read", "art*", "a.*.b"] {
            assert!(check_permission(perm).is_err(), "{perm}");
        }
    }
}
