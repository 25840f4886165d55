//! Rules: loading rule files, compiling them, and the prefilter that ties them together.
//!
//! A [`RuleSet`] is immutable once built. Every rule is validated at load, so the record path
//! cannot fail: a bad rule is an error at start-up that names the file, the rule id and why.

mod compile;
mod lead;
pub mod spec;
mod split;

use std::{fmt, fs, path::Path};

pub use compile::{CompiledRule, RuleSet};
pub(crate) use compile::{Trigger, When};
pub use spec::{Example, Location, RuleSpec, StructuredClass};
pub(crate) use split::{SecretSplit, SplitCache};

/// A rule file's name (for messages) and text.
#[derive(Debug, Clone)]
pub struct RuleSource {
    /// Where the text came from: a path, or `builtin:NAME` for the embedded catalogue.
    pub name: String,
    /// The TOML text.
    pub text: String,
}

/// Why a rule file or a rule could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file, as in [`RuleSource::name`].
    pub file: String,
    /// The rule id, when the error belongs to one rule.
    pub rule: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(id) => write!(f, "{}: rule '{}': {}", self.file, id, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl std::error::Error for RuleError {}

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// How the names of the embedded catalogue's sources start.
pub(crate) const BUILTIN_PREFIX: &str = "builtin:";

/// The rule files compiled into the binary (`patterns/*.toml`).
pub fn builtin_sources() -> Vec<RuleSource> {
    BUILTIN_RULE_FILES
        .iter()
        .map(|(name, text)| RuleSource {
            name: format!("{BUILTIN_PREFIX}{name}"),
            text: (*text).to_string(),
        })
        .collect()
}

/// Reads every `*.toml` file of a directory, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<RuleSource>, RuleError> {
    let err = |reason: String| RuleError {
        file: dir.display().to_string(),
        rule: None,
        reason,
    };
    let entries = fs::read_dir(dir).map_err(|e| err(format!("cannot read rule directory: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| err(format!("cannot read rule directory: {e}")))?
            .path();
        if path.extension().is_some_and(|x| x == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.display().to_string();
            fs::read_to_string(&path)
                .map(|text| RuleSource {
                    name: name.clone(),
                    text,
                })
                .map_err(|e| RuleError {
                    file: name,
                    rule: None,
                    reason: format!("cannot read: {e}"),
                })
        })
        .collect()
}

/// Parses one rule file into specs, each paired with its file name.
pub fn parse(source: &RuleSource) -> Result<Vec<(String, RuleSpec)>, RuleError> {
    let file: spec::RuleFile = toml::from_str(&source.text).map_err(|e| RuleError {
        file: source.name.clone(),
        rule: None,
        reason: format!("invalid rule file: {}", e.to_string().trim_end()),
    })?;
    Ok(file.rules.into_iter().map(|r| (source.name.clone(), r)).collect())
}

/// Parses and compiles rule sources into one rule set.
pub fn compile_sources(sources: &[RuleSource]) -> Result<RuleSet, RuleError> {
    compile_selected(sources, &Selection::default())
}

/// Parses rule sources, keeps the rules `selection` turns on, and compiles them into one set.
pub fn compile_selected(sources: &[RuleSource], selection: &Selection) -> Result<RuleSet, RuleError> {
    let mut specs = Vec::new();
    for source in sources {
        specs.extend(parse(source)?);
    }
    RuleSet::compile(selection.apply(specs)?)
}

/// The `file` of a [`RuleError`] about the selection rather than a rule file.
pub const SELECTION_FILE: &str = "rule selection";

/// Which rules are on: those `enable` names (all when it is empty), minus those `disable`
/// names. A selector is a rule id (`github.classic`), an id pattern where `*` stands for
/// any text (`github.*`), or a kind (`password`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Selectors of the rules to keep (empty: every rule).
    pub enable: Vec<String>,
    /// Selectors of the rules to drop.
    pub disable: Vec<String>,
}

impl Selection {
    /// Whether nothing is selected away.
    pub fn is_everything(&self) -> bool {
        self.enable.is_empty() && self.disable.is_empty()
    }

    /// Filters specs. A selector that names no rule is an error (a typo would otherwise leave
    /// a rule on, or off, in silence).
    fn apply(&self, specs: Vec<(String, RuleSpec)>) -> Result<Vec<(String, RuleSpec)>, RuleError> {
        if self.is_everything() {
            return Ok(specs);
        }
        for selector in self.enable.iter().chain(&self.disable) {
            if !specs.iter().any(|(_, spec)| selects(selector, spec)) {
                return Err(RuleError {
                    file: SELECTION_FILE.into(),
                    rule: None,
                    reason: format!("'{selector}' names no rule id or kind"),
                });
            }
        }
        Ok(specs
            .into_iter()
            .filter(|(_, spec)| {
                (self.enable.is_empty() || self.enable.iter().any(|s| selects(s, spec)))
                    && !self.disable.iter().any(|s| selects(s, spec))
            })
            .collect())
    }
}

fn selects(selector: &str, spec: &RuleSpec) -> bool {
    selector == spec.kind || wildcard_match(selector.as_bytes(), spec.id.as_bytes())
}

/// `*`-only wildcard matching (no classes, no escapes): all that rule selectors need, so no
/// glob crate is pulled in for it. Backtracks to the last star: linear in practice.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"vendor.*", b"vendor.github_pat"));
        assert!(wildcard_match(b"*", b"x"));
        assert!(wildcard_match(b"*.github_*", b"vendor.github_pat"));
        assert!(wildcard_match(b"a*b*c", b"aXXbYYc"));
        assert!(!wildcard_match(b"a*b*c", b"aXXbYY"));
        assert!(!wildcard_match(b"vendor.*", b"http.authorization_bearer"));
        assert!(wildcard_match(b"exact", b"exact"));
        assert!(!wildcard_match(b"exact", b"exactly"));
    }

    #[test]
    fn selection_by_id_glob_and_kind() {
        let specs = || {
            builtin_sources()
                .iter()
                .flat_map(|s| parse(s).unwrap())
                .collect::<Vec<_>>()
        };
        let all = specs().len();
        let kept = |enable: &[&str], disable: &[&str]| {
            let s = Selection {
                enable: enable.iter().map(|s| s.to_string()).collect(),
                disable: disable.iter().map(|s| s.to_string()).collect(),
            };
            s.apply(specs())
        };
        assert_eq!(kept(&[], &[]).unwrap().len(), all);
        let no_github = kept(&[], &["github.*"]).unwrap();
        assert!(no_github.len() < all);
        assert!(no_github.iter().all(|(_, r)| !r.id.starts_with("github.")));
        let only_jwt = kept(&["jwt"], &[]).unwrap();
        assert!(!only_jwt.is_empty() && only_jwt.iter().all(|(_, r)| r.kind == "jwt"));
        let e = kept(&[], &["vendor.no_such_rule"]).unwrap_err();
        assert!(e.reason.contains("'vendor.no_such_rule' names no rule"), "{e}");
    }
}
