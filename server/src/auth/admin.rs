//! Administration: users with roles, grants, and role definitions. The
//! command line calls these; an admin API is to call the same.
//!
//! Role and permission names follow the core's grammar
//! ([`edgeauth_core::check_role_name`], [`edgeauth_core::check_permission_name`]),
//! so that every role defined or granted here can be required by a route
//! rule; on top of it the server keeps its storage bound (ASCII letters,
//! digits and `_-.:`, `*` in permissions, at most 128 bytes).

use core::fmt;

use edgeauth_core::{NameError, check_permission_name, check_role_name};

use crate::{
    secret::SecretString,
    store::{RoleDef, Store, StoreError, User},
};

use super::{
    AuthError,
    accounts::Accounts,
    normalize,
    roles::{self, Grants},
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
            Self::Account(e @ (AuthError::Store(_) | AuthError::Internal(_))) => write!(f, "{e}"),
            Self::Account(e) => write!(f, "{}: {e}", e.code()),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for AdminError {}

impl AdminError {
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

/// Creates a user (through the same checks as a registration) and grants
/// `roles`, each checked before anything is written.
pub(crate) async fn create_user(
    accounts: &Accounts,
    store: &dyn Store,
    email: &str,
    password: &SecretString,
    name: Option<String>,
    roles: &[String],
    now: u64,
) -> Result<User, AdminError> {
    for role in roles {
        check_role(role)?;
    }
    let user = accounts
        .register(email, password, name, now)
        .await
        .map_err(AdminError::Account)?;
    for role in roles {
        store.grant_role(&user.id, role).await?;
    }
    Ok(user)
}

/// Grants `role` to the user with `email`; tells whether it is new.
pub(crate) async fn grant_role(
    store: &dyn Store,
    email: &str,
    role: &str,
) -> Result<(User, bool), AdminError> {
    check_role(role)?;
    let user = user(store, email).await?;
    let new = store.grant_role(&user.id, role).await?;
    Ok((user, new))
}

/// Revokes `role` from the user with `email`; tells whether they had it.
/// The name is not checked: a grant made under an older grammar can still
/// be taken back.
pub(crate) async fn revoke_role(
    store: &dyn Store,
    email: &str,
    role: &str,
) -> Result<(User, bool), AdminError> {
    let user = user(store, email).await?;
    let had = store.revoke_role(&user.id, role).await?;
    Ok((user, had))
}

/// Defines (or redefines) a role: every name checked, every inherited role
/// defined, no cycle. Returns what the role now grants.
pub(crate) async fn define_role(
    store: &dyn Store,
    def: RoleDef,
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
    store.define_role(&def, now).await?;
    defs.retain(|d| d.name != def.name);
    let name = def.name.clone();
    defs.push(def);
    Ok(roles::expand(core::slice::from_ref(&name), &defs))
}

/// Every defined role.
pub(crate) async fn roles(store: &dyn Store) -> Result<Vec<RoleDef>, AdminError> {
    Ok(store.role_definitions().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
