//! Roles: their definitions ([`RoleDef`]) and the roles granted to users.

use async_trait::async_trait;

use super::StoreError;

/// A role: what it inherits and the permissions it grants directly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleDef {
    /// Role name.
    pub name: String,
    /// Roles whose roles and permissions this one includes.
    pub inherits: Vec<String>,
    /// Permissions, `resource.action` with `*` wildcards.
    pub perms: Vec<String>,
}

/// Role definitions and the roles granted to users.
#[async_trait]
pub trait RoleStore: Send + Sync + 'static {
    /// The roles granted directly to a user.
    async fn user_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError>;
    /// Grants a role; false if the user already had it.
    async fn grant_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError>;
    /// Revokes a role; false if the user did not have it.
    async fn revoke_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError>;
    /// Every defined role.
    async fn role_definitions(&self) -> Result<Vec<RoleDef>, StoreError>;
    /// Defines or redefines a role (replaces its inherits and perms).
    async fn define_role(&self, role: &RoleDef, now: u64) -> Result<(), StoreError>;
}
