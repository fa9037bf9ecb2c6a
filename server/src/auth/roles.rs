//! The role hierarchy: a user's direct roles expanded, through `inherits`,
//! into the effective roles and permissions written into access tokens.

use std::collections::{BTreeSet, HashMap};

use crate::store::RoleDef;

/// Effective roles and permissions, sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    pub(crate) roles: Vec<String>,
    pub(crate) perms: Vec<String>,
}

/// Expands `direct` roles through the definitions. Cycles are harmless
/// (each role is visited once); undefined roles carry only their name.
pub(crate) fn expand(direct: &[String], defs: &[RoleDef]) -> Grants {
    let by_name: HashMap<&str, &RoleDef> = defs.iter().map(|d| (d.name.as_str(), d)).collect();
    let mut roles = BTreeSet::new();
    let mut perms = BTreeSet::new();
    let mut stack: Vec<&str> = direct.iter().map(String::as_str).collect();
    while let Some(role) = stack.pop() {
        if !roles.insert(role.to_owned()) {
            continue;
        }
        if let Some(def) = by_name.get(role) {
            perms.extend(def.perms.iter().cloned());
            stack.extend(def.inherits.iter().map(String::as_str));
        }
    }
    Grants {
        roles: roles.into_iter().collect(),
        perms: perms.into_iter().collect(),
    }
}

/// Whether defining `role` as inheriting `inherits` would create a cycle.
pub(crate) fn creates_cycle(role: &str, inherits: &[String], defs: &[RoleDef]) -> bool {
    let others: Vec<RoleDef> = defs.iter().filter(|d| d.name != role).cloned().collect();
    expand(inherits, &others).roles.iter().any(|r| r == role)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, inherits: &[&str], perms: &[&str]) -> RoleDef {
        RoleDef {
            name: name.into(),
            inherits: inherits.iter().map(|s| (*s).into()).collect(),
            perms: perms.iter().map(|s| (*s).into()).collect(),
        }
    }

    #[test]
    fn hierarchy_expands_transitively() {
        let defs = [
            def("viewer", &[], &["articles.read"]),
            def("editor", &["viewer"], &["articles.write"]),
            def("admin", &["editor"], &["users.*"]),
        ];
        let g = expand(&["admin".into(), "beta".into()], &defs);
        assert_eq!(g.roles, ["admin", "beta", "editor", "viewer"]);
        assert_eq!(g.perms, ["articles.read", "articles.write", "users.*"]);
    }

    #[test]
    fn cycles_are_detected_and_harmless() {
        let defs = [def("a", &["b"], &["x.y"]), def("b", &["a"], &[])];
        assert_eq!(expand(&["a".into()], &defs).roles, ["a", "b"]);
        let defs = [def("a", &["b"], &[]), def("b", &[], &[])];
        assert!(creates_cycle("b", &["a".into()], &defs));
        assert!(!creates_cycle("c", &["a".into()], &defs));
    }
}
