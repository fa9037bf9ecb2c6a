//! The raw settings: name (without the prefix) -> text, from the TOML file
//! and then the environment, with typed readers. Every read is recorded, so
//! once all sections have read, a TOML key that no section asked for is
//! refused by name, with no separate list of known settings to keep in sync.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};

use super::{ConfigError, PREFIX};

/// Raw settings by name, without the prefix.
pub(super) struct Raw {
    values: BTreeMap<String, String>,
    /// Names given in the TOML file, with the key's dotted path there.
    from_file: BTreeMap<String, String>,
    /// Names some section has read.
    read: BTreeSet<&'static str>,
}

impl Raw {
    /// The TOML document's settings, then the `EDGEAUTH_*` variables over
    /// them. Other variables are ignored.
    pub(super) fn new(
        vars: impl IntoIterator<Item = (String, String)>,
        toml: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut raw = Self {
            values: BTreeMap::new(),
            from_file: BTreeMap::new(),
            read: BTreeSet::new(),
        };
        if let Some(text) = toml {
            let table: toml::Table = toml::from_str(text)
                .map_err(|e| ConfigError::new("CONFIG", format!("is not valid TOML: {e}")))?;
            raw.add_table(None, table)?;
        }
        for (key, value) in vars {
            if let Some(name) = key.strip_prefix(PREFIX) {
                raw.values.insert(name.to_owned(), value);
            }
        }
        Ok(raw)
    }

    /// Adds a TOML table's settings. A key inside a table is named by its
    /// table's name, `_` and the key (`[oauth.github] client_id` is
    /// `OAUTH_GITHUB_CLIENT_ID`); `table` is that prefix as (name, dotted
    /// path), or `None` at the top level.
    fn add_table(
        &mut self,
        table: Option<(&str, &str)>,
        entries: toml::Table,
    ) -> Result<(), ConfigError> {
        for (key, value) in entries {
            let (name, path) = match table {
                Some((name, path)) => (
                    format!("{name}_{}", key.to_ascii_uppercase()),
                    format!("{path}.{key}"),
                ),
                None => (key.to_ascii_uppercase(), key),
            };
            let text = match value {
                toml::Value::Table(inner) => {
                    self.add_table(Some((&name, &path)), inner)?;
                    continue;
                }
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => Ok(s.clone()),
                        toml::Value::Integer(i) => Ok(i.to_string()),
                        _ => Err(ConfigError::new(&name, "has an unsupported list item")),
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                _ => {
                    return Err(ConfigError::new(&name, "has an unsupported TOML value"));
                }
            };
            if let Some(earlier) = self.from_file.get(&name) {
                return Err(ConfigError::new(
                    &name,
                    format!("is given twice in the TOML file, as \"{earlier}\" and \"{path}\""),
                ));
            }
            self.from_file.insert(name.clone(), path);
            self.values.insert(name, text);
        }
        Ok(())
    }

    /// The value of `name`, if given and not blank.
    pub(super) fn get(&mut self, name: &'static str) -> Option<String> {
        self.read.insert(name);
        self.values
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    /// `name` parsed by `parse` (which gets the trimmed text), if given.
    pub(super) fn parse_opt<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse(v.trim())
                .map(Some)
                .map_err(|reason| ConfigError::new(name, reason)),
        }
    }

    /// `name` parsed by `parse`, or `default`.
    pub(super) fn parse<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        Ok(self.parse_opt(name, parse)?.unwrap_or(default))
    }

    /// A string, or `default`.
    pub(super) fn string(
        &mut self,
        name: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        self.parse(name, default.to_owned(), |v| Ok(v.to_owned()))
    }

    /// `true`/`false` (also 1/0, yes/no, on/off), or `default`.
    pub(super) fn bool(&mut self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.parse(name, default, parse_bool)
    }

    /// A duration in milliseconds (see [`parse_duration_ms`]), or `default`.
    pub(super) fn duration_ms(
        &mut self,
        name: &'static str,
        default: u64,
    ) -> Result<u64, ConfigError> {
        self.parse(name, default, parse_duration_ms)
    }

    /// A duration in whole seconds, or `default`.
    pub(super) fn duration_secs(
        &mut self,
        name: &'static str,
        default: u64,
    ) -> Result<u64, ConfigError> {
        self.parse(name, default, |v| {
            let ms = parse_duration_ms(v)?;
            if ms % 1000 != 0 {
                return Err(format!("must be whole seconds, got \"{v}\""));
            }
            Ok(ms / 1000)
        })
    }

    /// A whole number within `range`, or `default`.
    pub(super) fn number<T>(
        &mut self,
        name: &'static str,
        default: T,
        range: core::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: core::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        self.parse(name, default, |v| {
            let n: T = v
                .parse()
                .map_err(|_| format!("must be a whole number, got \"{v}\""))?;
            if range.contains(&n) {
                Ok(n)
            } else {
                Err(format!(
                    "must be between {} and {}, got {n}",
                    range.start(),
                    range.end()
                ))
            }
        })
    }

    /// Refuses the first TOML key that no section read.
    pub(super) fn refuse_unread(&self) -> Result<(), ConfigError> {
        match self
            .from_file
            .iter()
            .find(|(name, _)| !self.read.contains(name.as_str()))
        {
            Some((_, key)) => Err(ConfigError::new(
                "CONFIG",
                format!("has an unknown setting \"{key}\""),
            )),
            None => Ok(()),
        }
    }
}

/// Parses `900`, `900s`, `500ms`, `15m`, `2h`, `14d` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let bad = || format!("must be a duration like 900, 15m or 14d, got \"{text}\"");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("must be true or false, got \"{v}\"")),
    }
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL: the
/// core's, which the gate's CSRF check uses too.
pub(crate) use edgeauth_core::origin_of;
