//! The rule file format, as written in `patterns/*.toml` (see `patterns/README.md`).

use serde::Deserialize;

/// One rule file: a list of rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The rules, in file order.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

/// A rule as written in a rule file, before compilation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id, `family.name`.
    pub id: String,
    /// What the credential is (snake_case); named in the replacement and the metrics.
    pub kind: String,
    /// One line for `tokenscrub rules list`.
    pub description: String,
    /// Literals of which every match contains at least one (ASCII case-insensitively). None for
    /// a key-aware rule ([`RuleSpec::structured`]).
    #[serde(default)]
    pub anchors: Vec<String>,
    /// The confirming regex; the group `secret` is replaced. None for a key-aware rule.
    #[serde(default)]
    pub regex: String,
    /// Set for a rule of the key-aware pass (`src/structured/`) instead of a regex: the class of
    /// sensitive keys whose values this rule names. Such a rule is selected like any other, and
    /// turning it off turns off the key-aware redaction of that class only.
    pub structured: Option<StructuredClass>,
    /// Longest match the rule can produce, in bytes. Required when the regex is unbounded
    /// (`+`, `*`, `{n,}`); the engine never looks further than this from an anchor, which is
    /// what bounds the streaming overlap.
    pub max_len: Option<usize>,
    /// `base64`: the secret is a base64 wrapping (Kubernetes Secret data, env dumps); it counts
    /// only if its decoded bytes hold a credential by the other rules.
    pub decode: Option<String>,
    /// `separator`: in every match, one of the rule's anchors ends the field name and is followed,
    /// after at most 12 quote, backslash or blank bytes, by `:` or `=`. The prefilter then skips
    /// hits that are not (prose such as "authorization failed" costs no regex run).
    pub anchor_then: Option<String>,
    /// Named validators: `jwt`, `not_placeholder`, `token_like`, `sensitive_key`.
    #[serde(default)]
    pub validators: Vec<String>,
    /// Minimum Shannon entropy of the secret, in bits per byte.
    pub min_entropy: Option<f64>,
    /// A checksum to verify and record: see [`crate::checksum::Checksum`].
    pub checksum: Option<String>,
    /// Where such a secret sits.
    #[serde(default)]
    pub location: Location,
    /// Higher wins the kind when two rules find the same secret span.
    #[serde(default = "default_priority")]
    pub priority: i32,
    /// When true, the regex matches the first line of a multi-line block (a PEM header); the
    /// lines that follow, up to the block's end marker, are secret. See [`crate::scan`].
    #[serde(default)]
    pub multiline_block: bool,
    /// Inputs with their expected output (replacements written as `REDACTED:<kind>`).
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Inputs that must come out unchanged.
    #[serde(default)]
    pub negatives: Vec<String>,
}

fn default_priority() -> i32 {
    50
}

/// A class of sensitive keys, as the key-aware pass names its findings (see
/// [`RuleSpec::structured`] and [`crate::structured::KeyClass`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredClass {
    /// Values of password keys (`password`, `passwd`, `passphrase`, `*_password`).
    Password,
    /// Values of token, key and secret keys (`api_key`, `client_secret`, `token`, ...).
    Secret,
    /// `Authorization` values other than Basic credentials (the scheme is kept).
    Authorization,
    /// `Authorization` values with the Basic scheme.
    BasicAuth,
    /// Cookie values of `Cookie` and `Set-Cookie` keys.
    Cookie,
}

impl StructuredClass {
    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            StructuredClass::Password => "password",
            StructuredClass::Secret => "secret",
            StructuredClass::Authorization => "authorization",
            StructuredClass::BasicAuth => "basic_auth",
            StructuredClass::Cookie => "cookie",
        }
    }
}

/// An executable example: `input` redacts to `output`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The input text.
    pub input: String,
    /// The expected output, replacements written as `REDACTED:<kind>`.
    pub output: String,
}

/// Where a secret sits; reported with every finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// Free text, or a vendor token wherever it is.
    #[default]
    Text,
    /// An HTTP header value (Authorization, X-Api-Key, ...).
    Header,
    /// A URL: userinfo password or query parameter.
    Url,
    /// The value of a labelled field (`password=`, `"client_secret":`).
    Field,
    /// An OTLP attribute (set by the structured adapters).
    Attribute,
}

impl Location {
    /// The lowercase name used in metrics and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Text => "text",
            Location::Header => "header",
            Location::Url => "url",
            Location::Field => "field",
            Location::Attribute => "attribute",
        }
    }
}
