//! Authorization: role and permission requirements, and route rules.

use alloc::{
    borrow::Cow,
    string::{String, ToString},
    vec::Vec,
};

use crate::{
    claims::Claims,
    error::{AccessError, NameError, PolicyError, PolicyProblem},
    json::{JsonError, Kind, Reader},
    names::{check_permission_name, check_role_name, grants},
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
    Literal(String),
    /// `*`: exactly one non-empty segment.
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
    /// `{"rules": [...], "default": "deny" | "authenticated" | "allow"}`.
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
                        "unknown key; expected \"rules\" or \"default\"",
                    )),
                })?;
                if !seen.0.contains(&"rules") {
                    return Err(PolicyError::Json("missing \"rules\""));
                }
            }
            _ => return Err(PolicyError::Json("expected an array of rules or an object")),
        }
        reader.finish()?;
        Ok(policy)
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

    /// Finds what the route asks of a request. The query string is ignored;
    /// paths with dot segments or encoded separators, and paths not rooted
    /// at `/`, are denied.
    pub fn route(&self, method: &str, path: &str) -> Result<Route<'_>, AccessError> {
        let path = normalize_path(path).ok_or(AccessError::RouteDenied)?;
        for rule in &self.rules {
            if rule.matches(method, &path) {
                return Ok(rule
                    .require
                    .as_ref()
                    .map_or(Route::Public, Route::Protected));
            }
        }
        match self.fallback {
            Fallback::Deny => Err(AccessError::RouteDenied),
            Fallback::Authenticated => Ok(Route::Protected(&ANY_VALID_TOKEN)),
            Fallback::Allow => Ok(Route::Public),
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
        match self.route(method, path)? {
            Route::Public => Ok(()),
            Route::Protected(requirement) => {
                let (roles, perms) = grants.ok_or(AccessError::MissingToken)?;
                requirement.check_grants(roles, perms)
            }
        }
    }
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

    fn matches(&self, method: &str, path: &[Cow<'_, str>]) -> bool {
        // Routers answer HEAD with the GET handler, so GET covers HEAD.
        let head = method.eq_ignore_ascii_case("HEAD");
        let method_ok = self.methods.is_empty()
            || self
                .methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method) || (head && m == "GET"));
        if !method_ok
            || path.len() < self.segments.len()
            || (!self.rest && path.len() != self.segments.len())
        {
            return false;
        }
        self.segments
            .iter()
            .zip(path)
            .all(|(pattern, segment)| match pattern {
                Segment::Literal(literal) => literal == segment,
                Segment::One => !segment.is_empty(),
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

/// Splits a pattern into segments; `None` if it is not `/`-rooted, has a dot
/// segment, or uses `*` other than as a whole segment or a final `**`.
fn parse_pattern(pattern: &str) -> Option<(Vec<Segment>, bool)> {
    let normalized = normalize_path(pattern)?;
    if pattern.contains(['?', '#']) {
        return None;
    }
    let mut segments = Vec::with_capacity(normalized.len());
    let mut rest = false;
    let count = normalized.len();
    for (i, segment) in normalized.into_iter().enumerate() {
        match &*segment {
            "**" if i + 1 == count => rest = true,
            "*" => segments.push(Segment::One),
            s if s.contains('*') => return None,
            _ => segments.push(Segment::Literal(segment.into_owned())),
        }
    }
    Some((segments, rest))
}

/// Splits a request path into normalized segments, or `None` if it must be
/// denied.
///
/// The query and fragment are dropped. Percent-encoded unreserved characters
/// are decoded (RFC 3986 section 6.2.2.2) so `/%61dmin` cannot dodge a rule
/// for `/admin`; other escapes keep their form with upper-case hex. Dot
/// segments (also encoded), encoded `/` or `\`, raw `\`, malformed escapes
/// and paths not starting with `/` are refused: an origin might resolve them
/// to a path other than the one the rules saw.
fn normalize_path(path: &str) -> Option<Vec<Cow<'_, str>>> {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = path.get(..end)?.strip_prefix('/')?;
    let mut segments = Vec::new();
    for segment in path.split('/') {
        let segment = normalize_segment(segment)?;
        if segment == "." || segment == ".." {
            return None;
        }
        segments.push(segment);
    }
    Some(segments)
}

fn normalize_segment(segment: &str) -> Option<Cow<'_, str>> {
    if segment.contains('\\') {
        return None;
    }
    if !segment.contains('%') {
        return Some(Cow::Borrowed(segment));
    }
    let mut out = String::with_capacity(segment.len());
    let mut rest = segment;
    while let Some(at) = rest.find('%') {
        out.push_str(rest.get(..at)?);
        let hex = rest.get(at + 1..at + 3)?;
        let byte = u8::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
        match byte {
            b'/' | b'\\' => return None,
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(char::from(b)),
            _ => {
                out.push('%');
                out.extend(hex.chars().map(|c| c.to_ascii_uppercase()));
            }
        }
        rest = rest.get(at + 3..)?;
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
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
    fn path_normalization() {
        let seg = |p: &str| {
            normalize_path(p).map(|s| s.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(seg("/a/b?x=../..#f"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(
            seg("/%61dmin/%7e%2d"),
            Some(vec!["admin".into(), "~-".into()])
        );
        assert_eq!(
            seg("/a%20b/%c3%a9"),
            Some(vec!["a%20b".into(), "%C3%A9".into()])
        );
        assert_eq!(seg("/"), Some(vec![String::new()]));
        for bad in [
            "",
            "a/b",
            "/a/../b",
            "/a/./b",
            "/..",
            "/a/%2e%2E",
            "/a/.%2e/b",
            "/%2E",
            "/a%2fb",
            "/a%5Cb",
            "/a\\b",
            "/a%zz",
            "/a%2",
            "/a%",
        ] {
            assert_eq!(seg(bad), None, "{bad}");
        }
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
        for ok in ["/", "/**", "/api/*", "/api/*/x", "/api/**", "/a%2Db"] {
            assert!(parse_pattern(ok).is_some(), "{ok}");
        }
        for bad in [
            "api", "/a*", "/**/x", "/a/**b", "/***", "/a/../b", "/a?x", "/*x/y",
        ] {
            assert!(parse_pattern(bad).is_none(), "{bad}");
        }
    }
}
