//! The redactor: findings applied to a buffer, each secret replaced by its fingerprint word.

use std::sync::Arc;

use crate::allow::Allowlist;
use crate::fingerprint::{Fingerprinter, KeyTooShort};
use crate::replacement::Replacement;
use crate::rewrite::Rewrite;
use crate::rules::{self, CompiledRule, RuleError, RuleSet, RuleSource, Selection};
use crate::scan::{Finding, ScanScratch, ScanState, resolve_overlaps};
use crate::structured::{MAX_ESCAPE_DEPTH, SensitiveKeyError, StructuredRules};

/// An immutable redaction engine: compiled rules plus the fingerprint key. `Send + Sync` and
/// cheap to clone (an `Arc` inside); per-thread mutable state lives in [`Scratch`].
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Arc<RuleSet>,
    fingerprinter: Fingerprinter,
    /// Key-aware pass (`None`: off, or the rule set has none of the key-aware rules that name
    /// its findings).
    structured: Option<StructuredRules>,
    replacement: Replacement,
    /// Secrets never redacted (`None`: an empty list, checked not at all).
    allow: Option<Arc<Allowlist>>,
}

/// Per-worker mutable state for a [`Redactor`]: regex caches and reusable buffers.
#[derive(Debug)]
pub struct Scratch {
    pub(crate) scan: ScanScratch,
    pub(crate) findings: Vec<Finding>,
    /// Findings of the key-aware pass, before they are merged with the rules'.
    structured: Vec<Finding>,
    decode: Vec<u8>,
    /// The fingerprints and rendered replacements of [`Redactor::redact_to`] and
    /// [`Redactor::redact_into`].
    fingerprints: Vec<u64>,
    rewrite: Rewrite,
}

/// Errors building a redactor.
#[derive(Debug)]
pub enum BuildError {
    /// A rule file or rule is bad.
    Rule(RuleError),
    /// The key is too short.
    Key(KeyTooShort),
    /// An extra sensitive key name is unusable.
    SensitiveKey(SensitiveKeyError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Rule(e) => e.fmt(f),
            BuildError::Key(e) => e.fmt(f),
            BuildError::SensitiveKey(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<RuleError> for BuildError {
    fn from(e: RuleError) -> Self {
        BuildError::Rule(e)
    }
}

impl From<KeyTooShort> for BuildError {
    fn from(e: KeyTooShort) -> Self {
        BuildError::Key(e)
    }
}

impl From<SensitiveKeyError> for BuildError {
    fn from(e: SensitiveKeyError) -> Self {
        BuildError::SensitiveKey(e)
    }
}

/// Builds a [`Redactor`] from rule sources and a key.
#[derive(Debug, Default)]
pub struct RedactorBuilder {
    builtin: bool,
    extra: Vec<RuleSource>,
    no_structured: bool,
    selection: Selection,
    replacement: Replacement,
    allow: Allowlist,
    sensitive_keys: Vec<String>,
}

impl RedactorBuilder {
    /// A builder with the built-in catalogue.
    pub fn new() -> Self {
        RedactorBuilder {
            builtin: true,
            ..RedactorBuilder::default()
        }
    }

    /// Whether to include the built-in catalogue (default: yes).
    pub fn builtin(mut self, yes: bool) -> Self {
        self.builtin = yes;
        self
    }

    /// Adds rule files (after the built-in ones).
    pub fn rules(mut self, sources: impl IntoIterator<Item = RuleSource>) -> Self {
        self.extra.extend(sources);
        self
    }

    /// Whether JSON records get the key-aware pass (default: yes; see [`crate::structured`]).
    pub fn structured(mut self, yes: bool) -> Self {
        self.no_structured = !yes;
        self
    }

    /// Keeps only the rules `selection` turns on (default: all).
    pub fn select(mut self, selection: Selection) -> Self {
        self.selection = selection;
        self
    }

    /// How fingerprints are written (default: `REDACTED:<kind>:<hex>`).
    pub fn replacement(mut self, replacement: Replacement) -> Self {
        self.replacement = replacement;
        self
    }

    /// Secrets never redacted (default: none).
    pub fn allow(mut self, allow: Allowlist) -> Self {
        self.allow = allow;
        self
    }

    /// Adds key names whose values the key-aware pass treats as secrets, besides the built-in
    /// ones (see [`StructuredRules::with_extra_keys`]); checked by `build`.
    pub fn sensitive_keys(mut self, keys: impl IntoIterator<Item = String>) -> Self {
        self.sensitive_keys.extend(keys);
        self
    }

    /// Compiles the rules and keys the fingerprints.
    pub fn build(self, key: &[u8]) -> Result<Redactor, BuildError> {
        let mut sources = if self.builtin {
            rules::builtin_sources()
        } else {
            Vec::new()
        };
        sources.extend(self.extra);
        let rules = rules::compile_selected(&sources, &self.selection)?;
        let mut redactor = Redactor::new(Arc::new(rules), Fingerprinter::new(key)?);
        // Checked even with the pass off: a bad name is an error at start-up either way.
        for k in &self.sensitive_keys {
            crate::structured::normalize_sensitive_key(k)?;
        }
        redactor.structured = match redactor.structured.take() {
            Some(s) if !self.no_structured => Some(s.with_extra_keys(&self.sensitive_keys)?),
            _ => None,
        };
        redactor.replacement = self.replacement;
        redactor.allow = (!self.allow.is_empty()).then(|| Arc::new(self.allow));
        Ok(redactor)
    }
}

/// Appends a double quote as written at escape level `level`: each level escapes the one inside
/// it, doubling its backslashes and adding one for the quote, so `2^level - 1` backslashes. Levels
/// beyond [`MAX_ESCAPE_DEPTH`] are never walked, so they never reach here.
fn write_quote(level: u8, out: &mut Vec<u8>) {
    debug_assert!(level <= MAX_ESCAPE_DEPTH, "escape level {level}");
    let backslashes = (1usize << level.min(MAX_ESCAPE_DEPTH)) - 1;
    out.resize(out.len() + backslashes, b'\\');
    out.push(b'"');
}

impl Redactor {
    /// A redactor over compiled rules.
    pub fn new(rules: Arc<RuleSet>, fingerprinter: Fingerprinter) -> Self {
        let structured = StructuredRules::from_rules(&rules);
        Redactor {
            rules,
            fingerprinter,
            structured,
            replacement: Replacement::default(),
            allow: None,
        }
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The key-aware pass, if it is on and the rule set has rules to name its findings.
    pub(crate) fn structured(&self) -> Option<&StructuredRules> {
        self.structured.as_ref()
    }

    /// The fingerprinter (for adapters that redact values themselves).
    pub fn fingerprinter(&self) -> &Fingerprinter {
        &self.fingerprinter
    }

    /// How fingerprints are written.
    pub fn replacement(&self) -> &Replacement {
        &self.replacement
    }

    /// The replacement word for a secret of `kind` with `fingerprint`. Where it replaces a bare
    /// JSON number ([`Finding::quoted`]), it is put in double quotes written as a quote is at
    /// that escape level: `"` in the record, `\"` in a document inside one of its strings,
    /// `\\\"` one level further. The word itself needs no escaping at any level.
    pub fn write_word(&self, kind: &str, fingerprint: u64, quoted: Option<u8>, out: &mut Vec<u8>) {
        let Some(level) = quoted else {
            self.replacement.write(kind, fingerprint, out);
            return;
        };
        write_quote(level, out);
        self.replacement.write(kind, fingerprint, out);
        write_quote(level, out);
    }

    /// Fresh per-worker scratch space.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            scan: ScanScratch::new(&self.rules),
            findings: Vec::new(),
            structured: Vec::new(),
            decode: Vec::new(),
            fingerprints: Vec::new(),
            rewrite: Rewrite::default(),
        }
    }

    /// The rule that names a finding's kind.
    pub fn rule(&self, finding: &Finding) -> &CompiledRule {
        &self.rules.rules[finding.rule as usize]
    }

    /// Finds the secrets of `hay[range]`, resolved so that none overlap, into `scratch.findings`
    /// (replacing what was there). `state` carries multi-line blocks between calls.
    pub fn find(&self, hay: &[u8], range: std::ops::Range<usize>, state: &mut ScanState, scratch: &mut Scratch) {
        scratch.findings.clear();
        self.rules
            .scan(hay, range.clone(), state, &mut scratch.scan, &mut scratch.findings);
        if let Some(structured) = &self.structured {
            structured.find(hay, range, &mut scratch.structured);
            crate::structured::merge(&self.rules, &mut scratch.findings, &mut scratch.structured);
        }
        if !scratch.findings.is_empty() {
            self.drop_allowed(hay, scratch);
        }
        resolve_overlaps(&self.rules, &mut scratch.findings);
    }

    /// Drops findings that are allowlisted, or that lie inside a word of a custom replacement
    /// template (the scanner itself skips the default form), before overlaps are resolved: an
    /// allowed span must not let a smaller finding inside it win instead.
    fn drop_allowed(&self, hay: &[u8], scratch: &mut Scratch) {
        let custom = !self.replacement.is_default();
        if self.allow.is_none() && !custom {
            return;
        }
        let Scratch { findings, decode, .. } = scratch;
        findings.retain(|f| {
            let ours = custom && self.replacement.covers(hay, f.start);
            let mut allowed = || {
                self.allow
                    .as_ref()
                    .is_some_and(|a| a.allows(&hay[f.start..f.end], decode))
            };
            !ours && !allowed()
        });
    }

    /// The findings of the last [`Redactor::find`] on this scratch.
    pub fn findings<'s>(&self, scratch: &'s Scratch) -> &'s [Finding] {
        &scratch.findings
    }

    /// The fingerprint of each finding of `hay`, in order, into `out` (replacing its contents).
    pub fn fingerprints(&self, hay: &[u8], findings: &[Finding], decode: &mut Vec<u8>, out: &mut Vec<u64>) {
        out.clear();
        out.extend(
            findings
                .iter()
                .map(|f| self.fingerprinter.fingerprint(&hay[f.start..f.end], decode)),
        );
    }

    /// Renders the replacement of each finding, with its fingerprint from
    /// [`Redactor::fingerprints`], into `out` (replacing its contents): the output is then
    /// written as slices of the input between them, without copying the bytes kept.
    pub fn rewrite(&self, findings: &[Finding], fingerprints: &[u64], out: &mut Rewrite) {
        out.clear();
        for (f, fp) in findings.iter().zip(fingerprints) {
            let kind = &self.rules.rules[f.rule as usize].kind;
            out.push(f.start..f.end, |words| self.write_word(kind, *fp, f.quoted, words));
        }
    }

    /// Redacts one self-contained buffer (no multi-line state carried in or out) into `writer`
    /// as the stream does: the kept bytes go out as slices of `input`, between the replacement
    /// words, in vectored writes. Returns the number of secrets replaced.
    pub fn redact_to<W: std::io::Write + ?Sized>(
        &self,
        input: &[u8],
        scratch: &mut Scratch,
        writer: &mut W,
    ) -> std::io::Result<usize> {
        if self.rewrite_buffer(input, scratch) == 0 {
            writer.write_all(input)?;
            return Ok(0);
        }
        scratch.rewrite.write_to(input, 0..input.len(), writer)?;
        Ok(scratch.findings.len())
    }

    /// Redacts one self-contained buffer (no multi-line state carried in or out) and appends the
    /// result to `out`. Returns the number of secrets replaced.
    pub fn redact_into(&self, input: &[u8], scratch: &mut Scratch, out: &mut Vec<u8>) -> usize {
        self.rewrite_buffer(input, scratch);
        scratch.rewrite.append_to(input, 0..input.len(), out);
        scratch.findings.len()
    }

    /// Finds the secrets of `input` and renders their replacements into `scratch.rewrite`.
    /// Returns the number found.
    fn rewrite_buffer(&self, input: &[u8], scratch: &mut Scratch) -> usize {
        let mut state = ScanState::default();
        self.find(input, 0..input.len(), &mut state, scratch);
        let Scratch {
            findings,
            decode,
            fingerprints,
            rewrite,
            ..
        } = scratch;
        self.fingerprints(input, findings, decode, fingerprints);
        self.rewrite(findings, fingerprints, rewrite);
        findings.len()
    }

    /// Convenience: redacts `input` into a new vector.
    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        let mut scratch = self.scratch();
        let mut out = Vec::with_capacity(input.len());
        self.redact_into(input, &mut scratch, &mut out);
        out
    }

    /// The last findings and the decode buffer of `scratch`, borrowed together, so that
    /// [`Redactor::fingerprints`] can hash from one and decode into the other.
    pub(crate) fn findings_and_buffer(scratch: &mut Scratch) -> (&[Finding], &mut Vec<u8>) {
        (&scratch.findings, &mut scratch.decode)
    }
}
