//! Authorization: role and permission requirements, and route rules.

use alloc::{
    string::{String, ToString},
    vec::Vec,
};

use crate::{
    claims::Claims,
    error::{AccessError, NameError, PolicyError, PolicyProblem},
    json::{JsonError, Kind, Reader},
    names::{check_permission_name, check_role_name, grants},
    path::{CanonicalPath, canonicalize},
};

/// What a token must hold: any of some roles, all of others, and every
/// listed permission. An empty requirement admits any valid token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    any_roles: Vec<String>,
    all_roles: Vec<String>,
    perms: Vec<String>,
}

static ANY_VALID_TOKEN: Requirement = Requirement {
    any_roles: Vec::new(),
    all_roles: Vec::new(),
    perms: Vec::new(),
};

impl Requirement {
    /// A requirement that admits any valid token; add to it with the
    /// builder methods.
    pub const fn new() -> Self {
        Self {
            any_roles: Vec::new(),
            all_roles: Vec::new(),
            perms: Vec::new(),
        }
    }

    /// Requires at least one of `roles` (in addition to earlier calls).
    pub fn any_roles<S: Into<String>>(
        mut self,
        roles: impl IntoIterator<Item = S>,
    ) -> Result<Self, PolicyProblem> {
        self.any_roles.extend(checked(roles, check_role_name)?);
        Ok(self)
    }

    /// Requires every one of `roles`.
    pub fn all_roles<S: Into<String>>(
        mut self,
        roles: impl IntoIterator<Item = S>,
    ) -> Result<Self, PolicyProblem> {
        self.all_roles.extend(checked(roles, check_role_name)?);
        Ok(self)
    }

    /// Requires every one of `perms` (`resource.action`; a final `*`
    /// segment asks for the whole resource).
    pub fn perms<S: Into<String>>(
        mut self,
        perms: impl IntoIterator<Item = S>,
    ) -> Result<Self, PolicyProblem> {
        self.perms.extend(checked(perms, check_permission_name)?);
        Ok(self)
    }

    /// Parses the JSON form `{"any_roles": [...], "all_roles": [...], "perms": [...]}`;
    /// every key is optional; unknown keys, keys given twice and empty lists
    /// are refused (`{}` admits any valid token).
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let mut reader = Reader::new(json);
        let requirement = Self::read(&mut reader).map_err(|e| e.at(0))?;
        reader.finish()?;
        Ok(requirement)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, Problem> {
        let mut requirement = Self::new();
        let mut seen = Seen::default();
        r.object(|r, key| {
            let (list, name, valid): (_, &'static str, NameCheck) = match &*key {
                "any_roles" => (&mut requirement.any_roles, "any_roles", check_role_name),
                "all_roles" => (&mut requirement.all_roles, "all_roles", check_role_name),
                "perms" => (&mut requirement.perms, "perms", check_permission_name),
                _ => return Err(Problem::from(PolicyProblem::UnknownField(key.into_owned()))),
            };
            seen.first(name).map_err(PolicyProblem::DuplicateField)?;
            let names = r.strings().map_err(|_| PolicyProblem::WrongType(name))?;
            if names.is_empty() {
                return Err(PolicyProblem::EmptyList(name).into());
            }
            list.extend(checked(names, valid)?);
            Ok(())
        })?;
        Ok(requirement)
    }

    /// Checks the requirement against a token's claims.
    pub fn check(&self, claims: &Claims) -> Result<(), AccessError> {
        self.check_grants(&claims.roles, &claims.perms)
    }

    /// Checks the requirement against roles and permissions.
    pub fn check_grants<S: AsRef<str>>(&self, roles: &[S], perms: &[S]) -> Result<(), AccessError> {
        let has_role = |role: &String| roles.iter().any(|r| r.as_ref() == role);
        let any_ok = self.any_roles.is_empty() || self.any_roles.iter().any(has_role);
        if !any_ok || !self.all_roles.iter().all(has_role) {
            return Err(AccessError::InsufficientRole);
        }
        if !self.perms.iter().all(|p| grants(perms, p)) {
            return Err(AccessError::InsufficientPermission);
        }
        Ok(())
    }

    /// Whether this admits any valid token.
    pub fn is_empty(&self) -> bool {
        self.any_roles.is_empty() && self.all_roles.is_empty() && self.perms.is_empty()
    }
}

/// The keys already read in one JSON object, to refuse a key given twice
/// (parsers differ on which one wins; ours would merge lists).
#[derive(Default)]
struct Seen(Vec<&'static str>);

impl Seen {
    /// `Err(key)` if `key` was seen before in this object.
    fn first(&mut self, key: &'static str) -> Result<(), &'static str> {
        if self.0.contains(&key) {
            return Err(key);
        }
        self.0.push(key);
        Ok(())
    }
}

/// A name grammar of [`crate::names`].
type NameCheck = fn(&str) -> Result<(), NameError>;

fn checked<S: Into<String>>(
    names: impl IntoIterator<Item = S>,
    valid: NameCheck,
) -> Result<Vec<String>, PolicyProblem> {
    names
        .into_iter()
        .map(|name| {
            let name = name.into();
            match valid(&name) {
                Ok(()) => Ok(name),
                Err(_) => Err(PolicyProblem::BadName(name)),
            }
        })
        .collect()
}

/// What a route asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// Anyone may pass, with or without a token.
    Public,
    /// A valid token that meets the requirement.
    Protected(&'a Requirement),
}

impl Route<'_> {
    /// Decides a request on this route, given the roles and permissions of
    /// its verified token if it has one.
    pub fn check_grants<S: AsRef<str>>(
        self,
        grants: Option<(&[S], &[S])>,
    ) -> Result<(), AccessError> {
        match self {
            Self::Public => Ok(()),
            Self::Protected(requirement) => {
                let (roles, perms) = grants.ok_or(AccessError::MissingToken)?;
                requirement.check_grants(roles, perms)
            }
        }
    }
}

/// What happens to a request that no rule matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fallback {
    /// `route_denied` (the default).
    #[default]
    Deny,
    /// Any valid token passes.
    Authenticated,
    /// Everyone passes, as on a public route.
    Allow,
}

/// Ordered route rules; the first rule that matches a request decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    rules: Vec<Rule>,
    fallback: Fallback,
    /// Paths and patterns are compared without regard to ASCII case.
    case_insensitive: bool,
    /// `;` parameters are allowed in paths (and ignored by matching).
    allow_params: bool,
    /// Some pattern has an upper-case letter.
    upper: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Upper-case methods; empty means every method.
    methods: Vec<String>,
    segments: Vec<Segment>,
    /// The pattern ends in `/**`.
    rest: bool,
    /// `None`: public.
    require: Option<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A segment in canonical form.
    Literal(String),
    /// `*`: exactly one segment.
    One,
}

/// A problem with the rule being read, or malformed JSON.
enum Problem {
    Json(JsonError),
    Rule(PolicyProblem),
}

impl Problem {
    fn at(self, index: usize) -> PolicyError {
        match self {
            Self::Json(JsonError(why)) => PolicyError::Json(why),
            Self::Rule(reason) => PolicyError::Rule { index, reason },
        }
    }
}

impl From<JsonError> for Problem {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

impl From<PolicyProblem> for Problem {
    fn from(p: PolicyProblem) -> Self {
        Self::Rule(p)
    }
}

impl From<JsonError> for PolicyError {
    fn from(JsonError(why): JsonError) -> Self {
        Self::Json(why)
    }
}

impl RoutePolicy {
    /// Parses route rules: either a JSON array of rules, or an object
    /// `{"rules": [...], "default": "deny" | "authenticated" | "allow",
    /// "case_insensitive": false, "allow_params": false}` (every key but
    /// `rules` optional; see [`with_case_insensitive`](Self::with_case_insensitive)
    /// and [`with_allow_params`](Self::with_allow_params)).
    ///
    /// A rule is `{"methods": ["GET"], "path": "/api/*", "public": false,
    /// "require": {...}}`; `methods` defaults to every method, `public` to
    /// false and `require` to any valid token. A rule naming `GET` also
    /// covers `HEAD`. Unknown keys, bad patterns, bad names, empty lists
    /// and keys given twice are refused, so a typo cannot silently open a
    /// route.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let mut policy = Self::default();
        let mut reader = Reader::new(json);
        match reader.peek() {
            Some(Kind::Array) => policy.rules = read_rules(&mut reader)?,
            Some(Kind::Object) => {
                let mut seen = Seen::default();
                reader.object(|r, key| match &*key {
                    "rules" => {
                        seen.first("rules").map_err(PolicyError::DuplicateKey)?;
                        policy.rules = read_rules(r)?;
                        Ok(())
                    }
                    "case_insensitive" => {
                        policy.case_insensitive = read_flag(r, &mut seen, "case_insensitive")?;
                        Ok(())
                    }
                    "allow_params" => {
                        policy.allow_params = read_flag(r, &mut seen, "allow_params")?;
                        Ok(())
                    }
                    "default" => {
                        seen.first("default").map_err(PolicyError::DuplicateKey)?;
                        policy.fallback = match &*r.string()? {
                            "deny" => Fallback::Deny,
                            "authenticated" => Fallback::Authenticated,
                            "allow" => Fallback::Allow,
                            _ => {
                                return Err(PolicyError::Json(
                                    "\"default\" must be \"deny\", \"authenticated\" or \"allow\"",
                                ));
                            }
                        };
                        Ok(())
                    }
                    _ => Err(PolicyError::Json(
                        "unknown key; expected \"rules\", \"default\", \"case_insensitive\" or \"allow_params\"",
                    )),
                })?;
                if !seen.0.contains(&"rules") {
                    return Err(PolicyError::Json("missing \"rules\""));
                }
            }
            _ => return Err(PolicyError::Json("expected an array of rules or an object")),
        }
        reader.finish()?;
        policy.upper = policy.rules.iter().any(Rule::has_upper);
        Ok(policy)
    }

    /// Sets whether paths are matched without regard to ASCII case (the
    /// `case_insensitive` key): `/ADMIN/users` then meets a rule for
    /// `/admin/**`. Set it for origins that ignore case (Express and IIS by
    /// default).
    ///
    /// Off (the default), matching is exact, and a request whose path would
    /// get another answer if case were ignored is denied (`route_denied`):
    /// neither a case-sensitive nor a case-insensitive origin can then serve
    /// a rule's resource under a spelling that dodged the rule.
    #[must_use]
    pub fn with_case_insensitive(mut self, on: bool) -> Self {
        self.case_insensitive = on;
        self
    }

    /// Sets whether paths may carry `;` parameters (`/a;jsessionid=1/b`,
    /// the `allow_params` key). Off (the default), such a path is denied;
    /// on, each segment's parameters are dropped before matching (so
    /// `/admin;x=1/users` meets a rule for `/admin/**`), kept in the
    /// canonical path, and a segment that is then `.`, `..` or empty is
    /// still denied.
    #[must_use]
    pub fn with_allow_params(mut self, on: bool) -> Self {
        self.allow_params = on;
        self
    }

    /// Sets what happens to requests no rule matches.
    #[must_use]
    pub fn with_fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// How many rules the policy holds.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the policy holds no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The one canonical form of a request path, or `route_denied` when it
    /// has none. The query and fragment are dropped.
    ///
    /// - A percent-encoded unreserved character (`A-Z a-z 0-9 - . _ ~`) is
    ///   decoded (`/%61dmin` is `/admin`); every other escape keeps its
    ///   form with upper-case hex; a character a path may not hold as it is
    ///   (space, `"`, `^`, non-ASCII, ...) is percent-encoded as UTF-8.
    /// - Denied: a path not starting with `/`; an empty segment (`//a`,
    ///   `/a//`; one trailing `/` is kept); a `.` or `..` segment in any
    ///   spelling (`%2e`, `.%2E`, and with parameters `..;x`); a `;`
    ///   unless [parameters are allowed](Self::with_allow_params); an
    ///   encoded `/`, `\` or `;` (`%2F`, `%5C`, `%3B`) or a raw `\`; a
    ///   control character, raw or encoded (`%00`-`%1F`, `%7F`); a
    ///   malformed escape.
    ///
    /// The result is borrowed from `path` when it was canonical already.
    pub fn canonical_path<'p>(&self, path: &'p str) -> Result<CanonicalPath<'p>, AccessError> {
        canonicalize(path, self.allow_params).ok_or(AccessError::RouteDenied)
    }

    /// Finds what the route asks of a request. The query string is ignored;
    /// a path with no canonical form is denied (see
    /// [`canonical_path`](Self::canonical_path)).
    pub fn route(&self, method: &str, path: &str) -> Result<Route<'_>, AccessError> {
        self.route_canonical(method, &self.canonical_path(path)?)
    }

    /// [`route`](Self::route) for a path already in canonical form.
    ///
    /// One trailing `/` names the same resource (`/account/` meets a rule
    /// for `/account`); see [`with_case_insensitive`](Self::with_case_insensitive)
    /// for how case is compared.
    pub fn route_canonical(
        &self,
        method: &str,
        path: &CanonicalPath<'_>,
    ) -> Result<Route<'_>, AccessError> {
        if path.has_params() && !self.allow_params {
            return Err(AccessError::RouteDenied);
        }
        let answer = self.answer(self.first_match(method, path, self.case_insensitive));
        // Only an upper-case letter, in the path or a pattern, can make
        // the two comparisons differ.
        if !self.case_insensitive
            && (path.has_upper() || self.upper)
            && self.answer(self.first_match(method, path, true)) != answer
        {
            return Err(AccessError::RouteDenied);
        }
        answer
    }

    fn first_match(&self, method: &str, path: &CanonicalPath<'_>, fold: bool) -> Option<&Rule> {
        let count = path.segments().count();
        self.rules
            .iter()
            .find(|rule| rule.matches(method, path, count, fold))
    }

    fn answer<'a>(&'a self, rule: Option<&'a Rule>) -> Result<Route<'a>, AccessError> {
        match (rule, self.fallback) {
            (Some(rule), _) => Ok(rule
                .require
                .as_ref()
                .map_or(Route::Public, Route::Protected)),
            (None, Fallback::Deny) => Err(AccessError::RouteDenied),
            (None, Fallback::Authenticated) => Ok(Route::Protected(&ANY_VALID_TOKEN)),
            (None, Fallback::Allow) => Ok(Route::Public),
        }
    }

    /// Decides a request: `claims` are those of its verified token, if it
    /// has one.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        claims: Option<&Claims>,
    ) -> Result<(), AccessError> {
        let grants = claims.map(|c| (c.roles.as_slice(), c.perms.as_slice()));
        self.check_grants(method, path, grants)
    }

    /// Like [`check`](Self::check), with the roles and permissions of the
    /// request's verified token, if it has one.
    pub fn check_grants<S: AsRef<str>>(
        &self,
        method: &str,
        path: &str,
        grants: Option<(&[S], &[S])>,
    ) -> Result<(), AccessError> {
        self.route(method, path)?.check_grants(grants)
    }
}

/// A top-level `true`/`false` option, read once.
fn read_flag(r: &mut Reader<'_>, seen: &mut Seen, key: &'static str) -> Result<bool, PolicyError> {
    seen.first(key).map_err(PolicyError::DuplicateKey)?;
    r.bool().map_err(|_| {
        PolicyError::Json("\"case_insensitive\" and \"allow_params\" are true or false")
    })
}

fn read_rules(r: &mut Reader<'_>) -> Result<Vec<Rule>, PolicyError> {
    let mut rules = Vec::new();
    r.array(|r| {
        let rule = Rule::read(r).map_err(|p| p.at(rules.len()))?;
        rules.push(rule);
        Ok::<_, PolicyError>(())
    })?;
    Ok(rules)
}

impl Rule {
    fn read(r: &mut Reader<'_>) -> Result<Self, Problem> {
        let mut methods = None;
        let mut pattern = None;
        let mut public = None;
        let mut require = None;
        let mut seen = Seen::default();
        r.object(|r, key| {
            let name = match &*key {
                "methods" => "methods",
                "path" => "path",
                "public" => "public",
                "require" => "require",
                _ => return Err(PolicyProblem::UnknownField(key.into_owned()).into()),
            };
            seen.first(name).map_err(PolicyProblem::DuplicateField)?;
            match name {
                "methods" => {
                    methods = Some(
                        r.strings()
                            .map_err(|_| PolicyProblem::WrongType("methods"))?,
                    )
                }
                "path" => pattern = Some(r.string().map_err(|_| PolicyProblem::WrongType("path"))?),
                "public" => {
                    public = Some(r.bool().map_err(|_| PolicyProblem::WrongType("public"))?)
                }
                "require" => {
                    if r.peek() != Some(Kind::Object) {
                        return Err(Problem::from(PolicyProblem::WrongType("require")));
                    }
                    require = Some(Requirement::read(r)?);
                }
                _ => {}
            }
            Ok(())
        })?;
        let pattern = pattern.ok_or(PolicyProblem::MissingField("path"))?;
        let (segments, rest) =
            parse_pattern(&pattern).ok_or_else(|| PolicyProblem::BadPath(pattern.to_string()))?;
        if methods.as_ref().is_some_and(Vec::is_empty) {
            return Err(PolicyProblem::EmptyList("methods").into());
        }
        let mut methods = methods.unwrap_or_default();
        for method in &mut methods {
            if !is_method(method) {
                return Err(PolicyProblem::BadMethod(core::mem::take(method)).into());
            }
            method.make_ascii_uppercase();
        }
        if methods.iter().any(|m| m == "*") {
            methods.clear();
        }
        let require = match (public.unwrap_or(false), require) {
            (true, Some(_)) => return Err(PolicyProblem::PublicWithRequire.into()),
            (true, None) => None,
            (false, require) => Some(require.unwrap_or_default()),
        };
        Ok(Self {
            methods,
            segments,
            rest,
            require,
        })
    }

    fn has_upper(&self) -> bool {
        self.segments.iter().any(|segment| match segment {
            Segment::Literal(literal) => literal.bytes().any(|b| b.is_ascii_uppercase()),
            Segment::One => false,
        })
    }

    /// Whether the rule matches; `count` is the number of `path`'s
    /// segments, `fold` compares them without regard to ASCII case.
    fn matches(&self, method: &str, path: &CanonicalPath<'_>, count: usize, fold: bool) -> bool {
        // Routers answer HEAD with the GET handler, so GET covers HEAD.
        let head = method.eq_ignore_ascii_case("HEAD");
        let method_ok = self.methods.is_empty()
            || self
                .methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method) || (head && m == "GET"));
        if !method_ok || count < self.segments.len() || (!self.rest && count != self.segments.len())
        {
            return false;
        }
        self.segments
            .iter()
            .zip(path.segments())
            .all(|(pattern, segment)| match pattern {
                Segment::Literal(literal) if fold => literal.eq_ignore_ascii_case(segment),
                Segment::Literal(literal) => literal == segment,
                Segment::One => true,
            })
    }
}

/// An HTTP method token (RFC 9110 section 9) or `*`.
fn is_method(method: &str) -> bool {
    method == "*"
        || (!method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b)))
}

/// Splits a pattern into segments, in canonical form (so `/café` is
/// `/caf%C3%A9`, the way such a path arrives); `None` if it is not a
/// canonical path pattern: rooted at `/`, without empty, dot or `;`
/// segments, `?` or `#`, and with `*` only as a whole segment or a final
/// `**`. One trailing `/` is ignored, as in request paths.
fn parse_pattern(pattern: &str) -> Option<(Vec<Segment>, bool)> {
    if pattern.contains(['?', '#']) {
        return None;
    }
    let canonical = canonicalize(pattern, false)?;
    let count = canonical.segments().count();
    let mut segments = Vec::with_capacity(count);
    let mut rest = false;
    for (i, segment) in canonical.segments().enumerate() {
        match segment {
            "**" if i + 1 == count => rest = true,
            "*" => segments.push(Segment::One),
            s if s.contains('*') => return None,
            _ => segments.push(Segment::Literal(segment.into())),
        }
    }
    Some((segments, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec};

    #[test]
    fn requirements_use_the_name_grammar() {
        assert!(Requirement::new().any_roles(["admin*"]).is_err());
        assert!(Requirement::new().any_roles([""]).is_err());
        assert!(Requirement::new().perms(["a.*.b"]).is_err());
        assert!(Requirement::new().perms(["a.b.*"]).is_ok());
        assert_eq!(
            Requirement::from_json(r#"{"all_roles":["adm*"]}"#),
            Err(PolicyError::Rule {
                index: 0,
                reason: PolicyProblem::BadName("adm*".into())
            })
        );
    }

    #[test]
    fn requirement_checks_roles_then_permissions() {
        let req = Requirement::new()
            .any_roles(["editor", "admin"])
            .and_then(|r| r.all_roles(["staff"]))
            .and_then(|r| r.perms(["articles.write"]))
            .unwrap();
        let ok = req.check_grants(&["editor", "staff"], &["articles.*"]);
        assert_eq!(ok, Ok(()));
        assert_eq!(
            req.check_grants(&["staff"], &["*"]),
            Err(AccessError::InsufficientRole)
        );
        assert_eq!(
            req.check_grants(&["admin"], &["*"]),
            Err(AccessError::InsufficientRole)
        );
        assert_eq!(
            req.check_grants(&["admin", "staff"], &["articles.read"]),
            Err(AccessError::InsufficientPermission)
        );
        assert_eq!(Requirement::new().check_grants::<&str>(&[], &[]), Ok(()));
    }

    #[test]
    fn case_variants_that_change_the_answer_are_denied() {
        let rules = r#"[{"path":"/public/**","public":true},
            {"path":"/admin/**","require":{"any_roles":["admin"]}},
            {"path":"/Reports","require":{"any_roles":["staff"]}},
            {"path":"/**","require":{}}]"#;
        let policy = RoutePolicy::from_json(rules).unwrap();
        let admin = Requirement::new().any_roles(["admin"]).unwrap();
        let any = Requirement::new();
        for (path, want) in [
            ("/admin/users", Ok(Route::Protected(&admin))),
            ("/api/Items", Ok(Route::Protected(&any))),
            ("/ADMIN/users", Err(AccessError::RouteDenied)),
            ("/%41dmin/users", Err(AccessError::RouteDenied)),
            ("/PUBLIC/x", Err(AccessError::RouteDenied)),
            ("/reports", Err(AccessError::RouteDenied)),
        ] {
            assert_eq!(policy.route("GET", path), want, "{path}");
        }
        let folded = policy.with_case_insensitive(true);
        assert_eq!(
            folded.route("GET", "/ADMIN/users"),
            Ok(Route::Protected(&admin))
        );
        assert_eq!(folded.route("GET", "/public/X"), Ok(Route::Public));
    }

    #[test]
    fn one_trailing_slash_is_the_same_resource() {
        let policy = RoutePolicy::from_json(
            r#"[{"path":"/account","require":{"any_roles":["owner"]}},{"path":"/**","public":true}]"#,
        )
        .unwrap();
        assert!(matches!(
            policy.route("GET", "/account/"),
            Ok(Route::Protected(_))
        ));
        assert_eq!(
            policy.route("GET", "/account//"),
            Err(AccessError::RouteDenied)
        );
        let canonical = policy.canonical_path("/account/?x").unwrap();
        assert_eq!(canonical.as_str(), "/account/");
    }

    #[test]
    fn parameters_are_denied_unless_allowed_then_ignored() {
        let rules = r#"{"rules":[{"path":"/admin/**","require":{"any_roles":["admin"]}},
            {"path":"/**","public":true}]}"#;
        let policy = RoutePolicy::from_json(rules).unwrap();
        assert_eq!(
            policy.route("GET", "/admin;x=1/users"),
            Err(AccessError::RouteDenied)
        );
        let with_params = rules.replacen('{', r#"{"allow_params":true,"#, 1);
        let with_params = RoutePolicy::from_json(&with_params).unwrap();
        assert!(matches!(
            with_params.route("GET", "/admin;x=1/users"),
            Ok(Route::Protected(_))
        ));
        assert_eq!(
            with_params.route("GET", "/public/..;/admin/users"),
            Err(AccessError::RouteDenied)
        );
        // A path made by a policy that allows parameters is not routed by
        // one that does not.
        let path = with_params.canonical_path("/a;b").unwrap();
        assert_eq!(
            policy.route_canonical("GET", &path),
            Err(AccessError::RouteDenied)
        );
    }

    #[test]
    fn options_are_checked_like_keys() {
        for bad in [
            r#"{"rules":[],"case_insensitive":"yes"}"#,
            r#"{"rules":[],"allow_params":1}"#,
            r#"{"rules":[],"allow_params":true,"allow_params":false}"#,
            r#"{"rules":[],"case_insensitive":true,"case_insensitive":true}"#,
        ] {
            assert!(RoutePolicy::from_json(bad).is_err(), "{bad}");
        }
        let policy =
            RoutePolicy::from_json(r#"{"rules":[],"case_insensitive":true,"allow_params":true}"#)
                .unwrap();
        assert_eq!(
            policy,
            RoutePolicy::default()
                .with_case_insensitive(true)
                .with_allow_params(true)
        );
    }

    #[test]
    fn empty_lists_and_duplicate_keys_are_refused() {
        let rule = |json: &str| RoutePolicy::from_json(json).map(drop);
        let problem = |reason| Err(PolicyError::Rule { index: 0, reason });
        for key in ["any_roles", "all_roles", "perms"] {
            let json = format!(r#"[{{"path":"/a","require":{{"{key}":[]}}}}]"#);
            assert_eq!(rule(&json), problem(PolicyProblem::EmptyList(key)));
            let json = format!(r#"{{"{key}":["a.b"],"{key}":["c.d"]}}"#);
            assert_eq!(
                Requirement::from_json(&json).map(drop),
                problem(PolicyProblem::DuplicateField(key))
            );
        }
        assert_eq!(
            rule(r#"[{"path":"/a","methods":[]}]"#),
            problem(PolicyProblem::EmptyList("methods"))
        );
        for key in ["methods", "path", "public", "require"] {
            let value = match key {
                "methods" => r#"["GET"]"#,
                "path" => r#""/a""#,
                "public" => "false",
                _ => "{}",
            };
            let json = format!(r#"[{{"path":"/b","{key}":{value},"{key}":{value}}}]"#);
            let json = json.replacen(r#""path":"/b","#, "", usize::from(key == "path"));
            assert_eq!(
                rule(&json),
                problem(PolicyProblem::DuplicateField(key)),
                "{key}"
            );
        }
        assert_eq!(
            rule(r#"{"rules":[],"rules":[{"path":"/**","public":true}]}"#),
            Err(PolicyError::DuplicateKey("rules"))
        );
        assert_eq!(
            rule(r#"{"default":"deny","rules":[],"default":"allow"}"#),
            Err(PolicyError::DuplicateKey("default"))
        );
        // An empty requirement still admits any valid token.
        assert!(rule(r#"[{"path":"/a","require":{}}]"#).is_ok());
        assert!(rule(r#"{"rules":[]}"#).is_ok());
        let message = rule(r#"[{"path":"/a","require":{"any_roles":[]}}]"#)
            .err()
            .map(|e| e.to_string());
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("\"any_roles\" is an empty list")),
            "{message:?}"
        );
    }

    #[test]
    fn get_covers_head() {
        let policy =
            RoutePolicy::from_json(r#"[{"methods":["get"],"path":"/a","public":true}]"#).unwrap();
        assert_eq!(policy.route("HEAD", "/a"), Ok(Route::Public));
        assert_eq!(policy.route("head", "/a"), Ok(Route::Public));
        assert_eq!(policy.route("POST", "/a"), Err(AccessError::RouteDenied));
        let head_only =
            RoutePolicy::from_json(r#"[{"methods":["HEAD"],"path":"/a","public":true}]"#).unwrap();
        assert_eq!(head_only.route("GET", "/a"), Err(AccessError::RouteDenied));
    }

    #[test]
    fn pattern_forms() {
        for ok in [
            "/", "/**", "/api/*", "/api/*/x", "/api/**", "/a%2Db", "/a/", "/café",
        ] {
            assert!(parse_pattern(ok).is_some(), "{ok}");
        }
        assert_eq!(
            parse_pattern("/café/%7e/"),
            Some((
                vec![
                    Segment::Literal("caf%C3%A9".into()),
                    Segment::Literal("~".into())
                ],
                false
            ))
        );
        for bad in [
            "api", "/a*", "/**/x", "/a/**b", "/***", "/a/../b", "/a?x", "/*x/y", "//a", "/a//",
            "/a;b", "/a%2Fb", "/a%00", "/a%3B",
        ] {
            assert!(parse_pattern(bad).is_none(), "{bad}");
        }
    }
}
