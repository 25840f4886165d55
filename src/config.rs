//! The configuration file: TOML, every field optional, every default the same as the
//! command line's.
//!
//! A file is parsed into [`Settings`] (the values in force), and every field's place in the
//! file is remembered, so that any later error about a field (a rule directory that does not
//! compile, an allow pattern that is not a regex) names the file, the line, the field and the
//! reason. Command-line flags are applied over the file by the binary.
//!
//! What a reload (SIGHUP) can change: the rule sections, structured keys, allowlists, the
//! replacement and the key: everything [`Settings::build_redactor`] reads. Limits and exposure
//! outputs are fixed at start (threads, sockets and buffers are not rebuilt mid-stream).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::allow::Allowlist;
use crate::keysource::{KEY_ENV, ResolvedKey, default_state_dir, resolve_key};
use crate::redact::{BuildError, Redactor, RedactorBuilder};
use crate::replacement::Replacement;
use crate::rules::{self, Selection};

/// Name of the environment variable naming the config file.
pub const CONFIG_ENV: &str = "TOKENSCRUB_CONFIG";

/// A complete, commented example (the one the README shows; `tokenscrub config example`).
pub const EXAMPLE: &str = include_str!("../config/example.toml");

/// Why a configuration could not be used. Never carries a secret (nor the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file, or `command line`.
    pub file: String,
    /// 1-based line of the field in the file, when known.
    pub line: Option<usize>,
    /// The field (`allow.patterns[2]`), when the error belongs to one.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field '{field}'")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

pub use crate::pipe::OversizePolicy;

/// Rule selection and sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSettings {
    /// Include the built-in catalogue.
    pub builtin: bool,
    /// Directories of extra rule files.
    pub dirs: Vec<PathBuf>,
    /// Which rules are on.
    pub selection: Selection,
}

/// Everything the redactor is built from (what a reload can change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Rule selection and sources.
    pub rules: RuleSettings,
    /// The key-aware pass over JSON and key=value records.
    pub structured: bool,
    /// Extra sensitive key names for the key-aware pass.
    pub sensitive_keys: Vec<String>,
    /// Exact secret values never redacted.
    pub allow_values: Vec<String>,
    /// Whole-secret regexes never redacted.
    pub allow_patterns: Vec<String>,
    /// The replacement template (`None`: the default).
    pub template: Option<String>,
    /// The key file (else the environment variable, else the state file).
    pub key_file: Option<PathBuf>,
    /// The environment variable holding the key text.
    pub key_env: String,
    /// A key id shown in every replacement.
    pub key_id: Option<String>,
}

/// Sizes and the fail-closed policy of the stream path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Worker threads (0: the available cores).
    pub threads: usize,
    /// Bytes asked of each read.
    pub read_size: usize,
    /// Longest partial line held before it is scanned in windows.
    pub max_window: usize,
    /// Lines longer than this meet `on_oversize` (0: lines scanned in windows do).
    pub max_line: usize,
    /// What happens to a line longer than `max_line`.
    pub on_oversize: OversizePolicy,
}

impl Limits {
    /// The stream sizes these limits give.
    pub fn pipe(&self) -> crate::pipe::PipeConfig {
        crate::pipe::PipeConfig {
            read_size: self.read_size,
            window: self.max_window,
            max_line: self.max_line,
            on_oversize: self.on_oversize,
        }
    }

    /// Worker threads: `threads`, or the available cores when it is 0.
    pub fn worker_threads(&self) -> usize {
        worker_threads(self.threads)
    }
}

/// What a `--threads N` flag means, for redaction and scan alike: `n`, or the available cores
/// when it is 0.
pub fn worker_threads(n: usize) -> usize {
    match n {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

/// Exposure outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureSettings {
    /// Summary table on stderr at the end.
    pub summary: bool,
    /// JSON report path.
    pub report: Option<PathBuf>,
    /// Prometheus listen address.
    pub metrics_listen: Option<SocketAddr>,
    /// OTLP/HTTP metrics endpoint.
    pub otlp_metrics: Option<String>,
    /// Seconds between OTLP pushes.
    pub otlp_interval: f64,
    /// Source name.
    pub source: Option<String>,
    /// Distinct credentials kept in the inventory.
    pub max_credentials: usize,
}

impl ExposureSettings {
    /// Whether any exposure output is on (with none, the record path does no exposure work).
    pub fn enabled(&self) -> bool {
        self.summary || self.report.is_some() || self.metrics_listen.is_some() || self.otlp_metrics.is_some()
    }
}

/// Every setting in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// What the redactor is built from.
    pub engine: EngineSettings,
    /// Stream sizes and the oversize policy.
    pub limits: Limits,
    /// Exposure outputs.
    pub exposure: ExposureSettings,
}

impl Default for Settings {
    fn default() -> Self {
        let pipe = crate::pipe::PipeConfig::default();
        Settings {
            engine: EngineSettings {
                rules: RuleSettings {
                    builtin: true,
                    dirs: Vec::new(),
                    selection: Selection::default(),
                },
                structured: true,
                sensitive_keys: Vec::new(),
                allow_values: Vec::new(),
                allow_patterns: Vec::new(),
                template: None,
                key_file: None,
                key_env: KEY_ENV.to_string(),
                key_id: None,
            },
            limits: Limits {
                threads: 0,
                read_size: pipe.read_size,
                max_window: pipe.window,
                max_line: 0,
                on_oversize: OversizePolicy::Scan,
            },
            exposure: ExposureSettings {
                summary: false,
                report: None,
                metrics_listen: None,
                otlp_metrics: None,
                otlp_interval: 10.0,
                source: None,
                max_credentials: crate::exposure::Limits::default().max_credentials,
            },
        }
    }
}

/// A redactor built from settings, with where its key came from.
#[derive(Debug)]
pub struct Built {
    /// The redactor.
    pub redactor: Redactor,
    /// The key's origin (for the notice on stderr); the bytes are in the redactor only.
    pub key: ResolvedKey,
}

impl Settings {
    /// Builds the redactor these settings describe. Errors name the field at fault; pass them
    /// through [`ConfigFile::locate`] to add the file and line when the field came from a file.
    pub fn build_redactor(&self) -> Result<Built, ConfigError> {
        let e = &self.engine;
        let err = |field: &str, reason: String| ConfigError {
            file: "configuration".into(),
            line: None,
            field: Some(field.into()),
            reason,
        };
        let mut sources = Vec::new();
        for (i, dir) in e.rules.dirs.iter().enumerate() {
            sources.extend(rules::load_dir(dir).map_err(|r| err(&format!("rules.dirs[{i}]"), r.to_string()))?);
        }
        if let Some(id) = &e.key_id {
            crate::replacement::check_key_id(id).map_err(|reason| err("key.id", reason))?;
        }
        // With a valid key id, only a template the user wrote can fail.
        let replacement = Replacement::new(e.template.as_deref(), e.key_id.as_deref())
            .map_err(|reason| err("replacement.template", reason))?;
        let allow = Allowlist::new(&e.allow_values, &e.allow_patterns)
            .map_err(|b| err(&format!("allow.patterns[{}]", b.index), b.reason))?;
        // The key last: everything else is checked without touching the state directory.
        let env_key = std::env::var_os(&e.key_env);
        let key = resolve_key(
            e.key_file.as_deref(),
            env_key.as_ref().map(|v| v.as_encoded_bytes()),
            default_state_dir().as_deref(),
        )
        .map_err(|k| err(if e.key_file.is_some() { "key.file" } else { "key.env" }, k.0))?;
        let redactor = RedactorBuilder::new()
            .builtin(e.rules.builtin)
            .rules(sources)
            .select(e.rules.selection.clone())
            .structured(e.structured)
            .sensitive_keys(e.sensitive_keys.iter().cloned())
            .replacement(replacement)
            .allow(allow)
            .build(&key.bytes)
            .map_err(|b| match b {
                BuildError::Rule(r) if r.file == rules::SELECTION_FILE => {
                    let field = selector_field(&e.rules.selection, &r.reason);
                    err(&field, r.reason)
                }
                BuildError::Rule(r) => {
                    // A rule file of an extra directory: name that directory's entry.
                    let dir = e.rules.dirs.iter().position(|d| Path::new(&r.file).starts_with(d));
                    let field = dir.map_or_else(|| "rules".to_string(), |i| format!("rules.dirs[{i}]"));
                    err(&field, r.to_string())
                }
                BuildError::Key(k) => err("key", k.to_string()),
                BuildError::SensitiveKey(k) => {
                    let i = e.sensitive_keys.iter().position(|s| *s == k.key).unwrap_or(0);
                    err(&format!("structured.sensitive_keys[{i}]"), k.to_string())
                }
            })?;
        Ok(Built { redactor, key })
    }
}

/// Builds the redactor `settings` describe. An error about a field `file` sets is located
/// in the file; any other came from the command line (the defaults are all valid).
pub fn build_located(settings: &Settings, file: Option<&ConfigFile>) -> Result<Built, ConfigError> {
    settings.build_redactor().map_err(|e| match file {
        Some(f) if e.field.as_deref().is_some_and(|field| f.sets(field)) => f.locate(e),
        _ => ConfigError {
            file: "command line".into(),
            ..e
        },
    })
}

/// The field of the selector a selection error names (`rules.disable[1]`).
fn selector_field(selection: &Selection, reason: &str) -> String {
    let named = |list: &[String], name: &str| {
        list.iter()
            .position(|s| reason.starts_with(&format!("'{s}'")))
            .map(|i| format!("rules.{name}[{i}]"))
    };
    named(&selection.enable, "enable")
        .or_else(|| named(&selection.disable, "disable"))
        .unwrap_or_else(|| "rules".into())
}

/// A loaded config file: its settings, and where each field sits.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The file's path as given.
    pub path: PathBuf,
    /// The settings: defaults, overridden by the file.
    pub settings: Settings,
    /// Byte span of each field set in the file, by field path (`allow.patterns[1]`).
    spans: HashMap<String, Range<usize>>,
    text: String,
}

impl ConfigFile {
    /// Reads and parses `path`. Relative paths inside it are taken from its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: None,
            field: None,
            reason: format!("cannot read: {e}"),
        })?;
        Self::parse(path, text)
    }

    /// Parses config text that was read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigError> {
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            settings: Settings::default(),
            spans: HashMap::new(),
            text,
        };
        let raw: RawConfig = toml::from_str(&file.text).map_err(|e| file.toml_error(&e))?;
        file.apply(raw)?;
        Ok(file)
    }

    /// Adds this file's name, and the line of the field when the file set it, to an error.
    pub fn locate(&self, mut error: ConfigError) -> ConfigError {
        error.file = self.path.display().to_string();
        if let Some(field) = &error.field {
            // `rules.dirs[0]` sits where `rules.dirs[0]` does; a field without its own span
            // (`rules`) sits at its first child's.
            let span = self.spans.get(field).or_else(|| {
                self.spans
                    .iter()
                    .filter(|(k, _)| k.starts_with(field.as_str()))
                    .map(|(_, s)| s)
                    .min_by_key(|s| s.start)
            });
            error.line = span.map(|s| self.line_of(s.start));
        }
        error
    }

    /// Builds the redactor the file describes, errors located in the file.
    pub fn check(&self) -> Result<Built, ConfigError> {
        self.settings.build_redactor().map_err(|e| self.locate(e))
    }

    /// Whether the file sets `field` (or, for a section like `rules`, anything under it).
    pub fn sets(&self, field: &str) -> bool {
        self.spans.keys().any(|k| k.starts_with(field))
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(&self, span: Range<usize>, field: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.display().to_string(),
            line: Some(self.line_of(span.start)),
            field: Some(field.to_string()),
            reason: reason.into(),
        }
    }

    /// A TOML syntax or type error, with the field named from the text around it: the last
    /// `[table]` header before the error and the key on its line.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let Some(span) = e.span() else {
            return ConfigError {
                file: self.path.display().to_string(),
                line: None,
                field: None,
                reason: e.message().to_string(),
            };
        };
        let before = &self.text[..span.start.min(self.text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_text = self.text[line_start..].lines().next().unwrap_or("");
        let table = before[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('[') && l.ends_with(']'))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        let key = line_text
            .split_once('=')
            .map(|(k, _)| k.trim().to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('['));
        let field = match (table, key) {
            (Some(t), Some(k)) => Some(format!("{t}.{k}")),
            (None, Some(k)) => Some(k),
            (Some(t), None) => Some(t),
            (None, None) => None,
        };
        ConfigError {
            file: self.path.display().to_string(),
            line: Some(self.line_of(span.start)),
            field,
            reason: e.message().trim_end().to_string(),
        }
    }

    fn relative(&self, path: &Path) -> PathBuf {
        match self.path.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// Takes the parsed file's values over the defaults, remembering spans and checking the
    /// values that can be checked on their own.
    fn apply(&mut self, raw: RawConfig) -> Result<(), ConfigError> {
        let mut s = Settings::default();

        let r = raw.rules;
        if let Some(b) = r.builtin {
            s.engine.rules.builtin = *b.get_ref();
            self.spans.insert("rules.builtin".into(), b.span());
        }
        s.engine.rules.dirs = self.list("rules.dirs", r.dirs, |f, p| Ok(f.relative(Path::new(&p))))?;
        s.engine.rules.selection.enable = self.list("rules.enable", r.enable, nonempty)?;
        s.engine.rules.selection.disable = self.list("rules.disable", r.disable, nonempty)?;

        if let Some(b) = raw.structured.enabled {
            s.engine.structured = *b.get_ref();
            self.spans.insert("structured.enabled".into(), b.span());
        }
        s.engine.sensitive_keys = self.list("structured.sensitive_keys", raw.structured.sensitive_keys, |_, k| {
            crate::structured::normalize_sensitive_key(&k)
                .map(|_| k)
                .map_err(|e| e.reason)
        })?;

        s.engine.allow_values = self.list("allow.values", raw.allow.values, nonempty)?;
        s.engine.allow_patterns = self.list("allow.patterns", raw.allow.patterns, nonempty)?;

        if let Some(t) = raw.replacement.template {
            self.spans.insert("replacement.template".into(), t.span());
            s.engine.template = Some(t.into_inner());
        }

        let k = raw.key;
        if let Some(p) = k.file {
            self.spans.insert("key.file".into(), p.span());
            s.engine.key_file = Some(self.relative(Path::new(p.get_ref())));
        }
        if let Some(env) = k.env {
            let span = env.span();
            let env = env.into_inner();
            if env.is_empty() || env.contains(['=', '\0']) {
                return Err(self.error(span, "key.env", "not an environment variable name"));
            }
            self.spans.insert("key.env".into(), span);
            s.engine.key_env = env;
        }
        if let Some(id) = k.id {
            let span = id.span();
            let id = id.into_inner();
            crate::replacement::check_key_id(&id).map_err(|reason| self.error(span.clone(), "key.id", reason))?;
            self.spans.insert("key.id".into(), span);
            s.engine.key_id = Some(id);
        }

        let l = raw.limits;
        let mut size = |name: &str, v: Option<Spanned<usize>>, min: usize, target: &mut usize| {
            if let Some(v) = v {
                let span = v.span();
                let v = v.into_inner();
                if v < min {
                    return Err(self.error(span, &format!("limits.{name}"), format!("must be at least {min}")));
                }
                self.spans.insert(format!("limits.{name}"), span);
                *target = v;
            }
            Ok(())
        };
        size("threads", l.threads, 0, &mut s.limits.threads)?;
        size("read_size", l.read_size, 1, &mut s.limits.read_size)?;
        size("max_window", l.max_window, 1024, &mut s.limits.max_window)?;
        size("max_line", l.max_line, 0, &mut s.limits.max_line)?;
        if let Some(p) = l.on_oversize {
            self.spans.insert("limits.on_oversize".into(), p.span());
            s.limits.on_oversize = p.into_inner();
        }

        let x = raw.exposure;
        if let Some(v) = x.summary {
            s.exposure.summary = v;
        }
        if let Some(p) = x.report {
            s.exposure.report = Some(self.relative(Path::new(&p)));
        }
        if let Some(addr) = x.metrics_listen {
            let span = addr.span();
            let parsed = addr
                .get_ref()
                .parse::<SocketAddr>()
                .map_err(|e| self.error(span.clone(), "exposure.metrics_listen", format!("not an address: {e}")))?;
            self.spans.insert("exposure.metrics_listen".into(), span);
            s.exposure.metrics_listen = Some(parsed);
        }
        s.exposure.otlp_metrics = x.otlp_metrics.or(s.exposure.otlp_metrics);
        if let Some(secs) = x.otlp_interval {
            let span = secs.span();
            let secs = secs.into_inner();
            if !(secs.is_finite() && secs > 0.0) {
                return Err(self.error(span, "exposure.otlp_interval", "must be a positive number of seconds"));
            }
            s.exposure.otlp_interval = secs;
        }
        s.exposure.source = x.source.or(s.exposure.source);
        if let Some(n) = x.max_credentials {
            s.exposure.max_credentials = n;
        }
        self.settings = s;
        Ok(())
    }

    /// A list field: each element checked by `check`, its span kept as `name[i]`.
    fn list<T>(
        &mut self,
        name: &str,
        items: Vec<Spanned<String>>,
        check: impl Fn(&Self, String) -> Result<T, String>,
    ) -> Result<Vec<T>, ConfigError> {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let span = item.span();
            let field = format!("{name}[{i}]");
            out.push(check(self, item.into_inner()).map_err(|reason| self.error(span.clone(), &field, reason))?);
            self.spans.insert(field, span);
        }
        Ok(out)
    }
}

fn nonempty(_: &ConfigFile, s: String) -> Result<String, String> {
    if s.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s)
    }
}

/// The default config file: `$TOKENSCRUB_CONFIG`; else the first that exists of
/// `$XDG_CONFIG_HOME/tokenscrub/config.toml` (or `~/.config/tokenscrub/config.toml`) and
/// `/etc/tokenscrub/config.toml`. `None` when there is none: then the defaults hold.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    default_locations().into_iter().find(|p| p.is_file())
}

/// The places searched for a config file when none is named, in order.
pub fn default_locations() -> Vec<PathBuf> {
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        });
    user.map(|d| d.join("tokenscrub/config.toml"))
        .into_iter()
        .chain([PathBuf::from("/etc/tokenscrub/config.toml")])
        .collect()
}

// The file as written. Every field is optional; unknown fields are errors (a misspelt field
// silently ignored is a setting silently not applied).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    rules: RawRules,
    structured: RawStructured,
    allow: RawAllow,
    replacement: RawReplacement,
    key: RawKey,
    limits: RawLimits,
    exposure: RawExposure,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRules {
    builtin: Option<Spanned<bool>>,
    dirs: Vec<Spanned<String>>,
    enable: Vec<Spanned<String>>,
    disable: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStructured {
    enabled: Option<Spanned<bool>>,
    sensitive_keys: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAllow {
    values: Vec<Spanned<String>>,
    patterns: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReplacement {
    template: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawKey {
    file: Option<Spanned<String>>,
    env: Option<Spanned<String>>,
    id: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    threads: Option<Spanned<usize>>,
    read_size: Option<Spanned<usize>>,
    max_window: Option<Spanned<usize>>,
    max_line: Option<Spanned<usize>>,
    on_oversize: Option<Spanned<OversizePolicy>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawExposure {
    summary: Option<bool>,
    report: Option<String>,
    metrics_listen: Option<Spanned<String>>,
    otlp_metrics: Option<String>,
    otlp_interval: Option<Spanned<f64>>,
    source: Option<String>,
    max_credentials: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("/etc/t/config.toml"), text.to_string())
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap().settings, Settings::default());
    }

    #[test]
    fn the_example_parses_and_sets_what_it_says() {
        let f = parse(EXAMPLE).unwrap();
        assert_ne!(f.settings, Settings::default());
        assert!(!f.settings.engine.allow_values.is_empty());
    }

    #[test]
    fn unknown_field_is_named_with_its_line() {
        let e = parse("[limits]\nthreads = 2\nmax_lines = 10\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.field.as_deref(), Some("limits.max_lines"));
        assert!(e.reason.contains("unknown field"), "{e}");
        assert!(
            e.to_string()
                .starts_with("/etc/t/config.toml:3: field 'limits.max_lines': "),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_is_named_with_its_line() {
        let e = parse("# c\n[structured]\nenabled = \"yes\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("structured.enabled")));
    }

    #[test]
    fn value_checks_name_the_element() {
        let e = parse("[key]\nid = \"has space\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("key.id")));
        let e = parse("[exposure]\nmetrics_listen = \"nowhere\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("exposure.metrics_listen"));
        let e = parse("[limits]\non_oversize = \"explode\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("limits.on_oversize")));
    }

    #[test]
    fn build_errors_are_located() {
        let f = parse("[allow]\nvalues = [\"x\"]\npatterns = [\n  \"ok\",\n  \"(bad\",\n]\n").unwrap();
        let e = f.locate(f.settings.build_redactor().unwrap_err());
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(5), Some("allow.patterns[1]")),
            "{e}"
        );
    }

    #[test]
    fn relative_paths_are_from_the_file() {
        let f = parse("[rules]\ndirs = [\"rules.d\", \"/abs\"]\n[key]\nfile = \"key\"\n").unwrap();
        assert_eq!(
            f.settings.engine.rules.dirs,
            [PathBuf::from("/etc/t/rules.d"), PathBuf::from("/abs")]
        );
        assert_eq!(f.settings.engine.key_file, Some(PathBuf::from("/etc/t/key")));
    }
}
