//! Rules: loading rule files, compiling them, and the prefilter that ties them together.
//!
//! A [`RuleSet`] is immutable once built. Every rule is validated at load, so the record path
//! cannot fail: a bad rule is an error at start-up that names the file, the rule id and why.

mod compile;
pub mod spec;

use std::{fmt, fs, path::Path};

pub use compile::{CompiledRule, RuleSet};
pub use spec::{Example, Location, RuleSpec};

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

/// The rule files compiled into the binary (`patterns/*.toml`).
pub fn builtin_sources() -> Vec<RuleSource> {
    BUILTIN_RULE_FILES
        .iter()
        .map(|(name, text)| RuleSource {
            name: format!("builtin:{name}"),
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
    let mut specs = Vec::new();
    for source in sources {
        specs.extend(parse(source)?);
    }
    RuleSet::compile(specs)
}
