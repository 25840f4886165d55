//! Exposure: what leaked, of which kind, where, from which source, whether a leaked JWT could
//! still be replayed, and which credentials were seen from more than one client origin.
//!
//! Every adapter feeds the same [`Exposure`] aggregator, so the figures are the same whichever
//! way the data arrived. It never holds a secret: credentials are known by their keyed
//! fingerprint (the same one the replacement shows), identifying JWT claims and client origins
//! by keyed fingerprints too.
//!
//! # Cost on the record path
//!
//! Records and bytes are counted per block with relaxed atomics, once per read of 256 KiB, not
//! per line. Findings are turned into [`Observation`]s on the worker (fingerprint, JWT decode,
//! origin), without a lock; the lock is taken once per block *that has findings*. A clean
//! block touches no lock.
//!
//! # Limits
//!
//! - At most [`Limits::max_credentials`] distinct fingerprints are inventoried (default 10,000;
//!   a JWT entry with its claims is at most about 3.5 KiB, so the inventory stays under ~35 MB at worst
//!   and a few MB typically). Findings of credentials first seen past the cap are still counted
//!   by rule, kind, location and source, and in `inventory_dropped`; unique counts are exact up
//!   to the cap.
//! - At most [`Limits::max_sources`] source names; later sources are counted as `other`.
//! - At most [`Limits::max_origins`] origins per credential; the count saturates there.
//! - Metric labels are rule, kind, location, source and fail-closed reason: all bounded by the
//!   rule catalogue and the limits above, never by the data.

pub mod jwt;
pub mod origin;
pub mod otlp;
pub mod prometheus;
pub mod report;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checksum::ChecksumResult;
use crate::replacement::Replacement;
use crate::rules::Location;
use crate::scan::Finding;
use crate::{Redactor, validate};

pub use jwt::JwtClaims;
pub use origin::OriginFinder;

/// Bounds on the aggregator's memory and label cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct credentials kept in the inventory.
    pub max_credentials: usize,
    /// Distinct source names (at most 63); later ones count as `other`.
    pub max_sources: usize,
    /// Distinct origins remembered per credential.
    pub max_origins: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_credentials: 10_000,
            max_sources: 32,
            max_origins: 16,
        }
    }
}

/// Why a record was not forwarded as processed (the fail-closed policies). Bounded set: these
/// are the only values of the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailReason {
    /// A record over the size limit of a structured adapter.
    Oversize,
    /// A record that could not be parsed (a structured adapter's protocol error).
    Malformed,
}

impl FailReason {
    /// Every reason, for exporters that list zero counts.
    pub const ALL: [FailReason; 2] = [FailReason::Oversize, FailReason::Malformed];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Oversize => "oversize",
            FailReason::Malformed => "malformed",
        }
    }
}

/// A source (input file, `--source` name, adapter) as registered with [`Exposure::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(u8);

/// One finding, ready to merge: no secret inside.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The credential's keyed fingerprint (as in its replacement).
    pub fingerprint: u64,
    /// The rule that named it, as the aggregator numbers rules (see [`RuleMap`]).
    pub rule: u32,
    /// The replacement form in force when it was seen (see [`RuleMap`]).
    pub replacement: u16,
    /// Where it sat.
    pub location: Location,
    /// The rule's checksum verdict.
    pub checksum: ChecksumResult,
    /// When it was seen (milliseconds since the epoch).
    pub seen_ms: i64,
    /// Keyed fingerprint of the record's client origin, if the record names one.
    pub origin: Option<u64>,
    /// The decoded claims, for a JWT.
    pub jwt: Option<Box<JwtClaims>>,
}

/// Lifetime histogram bucket bounds (seconds): 5 min, 15 min, 1 h, 6 h, 1 d, 7 d, 30 d, 1 y.
pub const LIFETIME_BOUNDS: [f64; 8] = [300.0, 900.0, 3600.0, 21600.0, 86400.0, 604800.0, 2592000.0, 31536000.0];

/// The exposure aggregator, shared by every worker and exporter (`Sync`).
#[derive(Debug)]
pub struct Exposure {
    redactor: Redactor,
    origins: OriginFinder,
    limits: Limits,
    /// Records and bytes per source index (the last slot is `other`).
    records: Box<[AtomicU64]>,
    bytes: Box<[AtomicU64]>,
    state: Mutex<State>,
    /// Redactor scratch for scanning JWT claims, reused across calls: a fresh scratch has cold
    /// regex caches, and rebuilding them per token cost more than the whole scan.
    scratch_pool: Mutex<Vec<crate::Scratch>>,
}

#[derive(Debug, Default)]
struct State {
    /// Every rule seen in any redactor adopted so far, as (id, kind): a reload may renumber
    /// rules, so the aggregator keeps its own numbering.
    rules: Vec<(String, String)>,
    rule_numbers: HashMap<(String, String), u32>,
    /// Every replacement form adopted so far (a reload may change the template or key id).
    replacements: Vec<Replacement>,
    sources: Vec<String>,
    /// Findings by (rule, location, source).
    findings: HashMap<(u32, Location, SourceId), u64>,
    /// Findings by (rule, checksum verdict).
    checksums: HashMap<(u32, ChecksumResult), u64>,
    fail_closed: HashMap<(FailReason, SourceId), u64>,
    inventory: HashMap<u64, Entry>,
    inventory_dropped: u64,
    /// Each distinct JWT's lifetime in order of discovery: the histogram is derived from it, and
    /// exporters that record values themselves (OTLP) read it. Bounded like the inventory.
    jwt_lifetimes: Vec<f64>,
}

/// A credential in the inventory.
#[derive(Debug, Clone)]
struct Entry {
    rule: u32,
    replacement: u16,
    count: u64,
    first_seen_ms: i64,
    last_seen_ms: i64,
    /// Bit per [`Location`].
    locations: u8,
    /// Bit per source index.
    sources: u64,
    origins: Vec<u64>,
    checksum: ChecksumResult,
    jwt: Option<Box<JwtClaims>>,
}

/// A fixed-bucket histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Per-bucket counts (not cumulative), one per bound in [`LIFETIME_BOUNDS`] plus `+Inf`.
    pub counts: [u64; LIFETIME_BOUNDS.len() + 1],
    /// Sum of the observed values.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// The histogram of `values`.
    pub fn of(values: &[f64]) -> Self {
        let mut h = Histogram::default();
        for v in values {
            h.observe(*v);
        }
        h
    }

    fn observe(&mut self, v: f64) {
        let i = LIFETIME_BOUNDS
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(LIFETIME_BOUNDS.len());
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }
}

const LOCATIONS: [Location; 5] = [
    Location::Text,
    Location::Header,
    Location::Url,
    Location::Field,
    Location::Attribute,
];

fn location_bit(l: Location) -> u8 {
    1 << LOCATIONS.iter().position(|x| *x == l).unwrap_or(0)
}

/// How one redactor's findings translate to the aggregator's numbering: its rule indices to
/// the aggregator's rule numbers, and its replacement form. Made by [`Exposure::adopt`].
#[derive(Debug, Clone)]
pub struct RuleMap {
    rules: Arc<[u32]>,
    replacement: u16,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Exposure {
    /// An aggregator for findings of `redactor` (its rules name kinds; its key makes the
    /// fingerprints of claims and origins).
    pub fn new(redactor: &Redactor, limits: Limits) -> Self {
        let limits = Limits {
            max_sources: limits.max_sources.clamp(1, 63),
            ..limits
        };
        let slots = limits.max_sources + 1;
        Exposure {
            redactor: redactor.clone(),
            origins: OriginFinder::new(),
            limits,
            records: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            bytes: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            state: Mutex::new(State::default()),
            scratch_pool: Mutex::new(Vec::new()),
        }
    }

    /// Numbers `redactor`'s rules and replacement form for this aggregator. Call once per
    /// redactor (at start, and after each reload); observations of its findings carry the map.
    ///
    /// JWT claims and client origins keep being fingerprinted under the redactor the aggregator
    /// was made with, so that they stay comparable across a reload within one run.
    pub fn adopt(&self, redactor: &Redactor) -> RuleMap {
        let mut state = self.state();
        let state = &mut *state;
        let rules = redactor
            .rules()
            .rules()
            .iter()
            .map(|r| {
                let key = (r.id.clone(), r.kind.clone());
                *state.rule_numbers.entry(key.clone()).or_insert_with(|| {
                    state.rules.push(key);
                    (state.rules.len() - 1) as u32
                })
            })
            .collect();
        let replacement = match state.replacements.iter().position(|r| r == redactor.replacement()) {
            Some(i) => i,
            None => {
                state.replacements.push(redactor.replacement().clone());
                state.replacements.len() - 1
            }
        };
        RuleMap {
            rules,
            replacement: u16::try_from(replacement).unwrap_or(u16::MAX),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves counts that are still meaningful.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers (or finds) a source name. Past [`Limits::max_sources`] names, `other`.
    pub fn source(&self, name: &str) -> SourceId {
        let mut state = self.state();
        if let Some(i) = state.sources.iter().position(|s| s == name) {
            return SourceId(i as u8);
        }
        if state.sources.len() < self.limits.max_sources {
            state.sources.push(name.to_string());
            return SourceId((state.sources.len() - 1) as u8);
        }
        SourceId(self.limits.max_sources as u8)
    }

    /// Counts records (lines) and bytes read from `source`.
    pub fn count_input(&self, source: SourceId, records: u64, bytes: u64) {
        self.records[source.0 as usize].fetch_add(records, Ordering::Relaxed);
        self.bytes[source.0 as usize].fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts a record that met a fail-closed policy.
    pub fn fail_closed(&self, source: SourceId, reason: FailReason) {
        *self.state().fail_closed.entry((reason, source)).or_default() += 1;
    }

    /// Turns findings of `hay` (with their fingerprints, in the same order) into observations,
    /// appended to `out`. No lock is taken.
    pub fn observe(
        &self,
        map: &RuleMap,
        hay: &[u8],
        findings: &[Finding],
        fingerprints: &[u64],
        out: &mut Vec<Observation>,
    ) {
        if findings.is_empty() {
            return;
        }
        let seen_ms = now_ms();
        let mut decode = Vec::new();
        let mut scratch: Option<crate::Scratch> = None;
        let mut line_origin: Option<(usize, Option<u64>)> = None;
        for (f, fp) in findings.iter().zip(fingerprints) {
            let line_start = memchr::memrchr(b'\n', &hay[..f.start]).map_or(0, |i| i + 1);
            let origin = match line_origin {
                Some((start, origin)) if start == line_start => origin,
                _ => {
                    let line_end = memchr::memchr(b'\n', &hay[f.end..]).map_or(hay.len(), |i| f.end + i);
                    let origin = self
                        .origins
                        .find(&hay[line_start..line_end])
                        .map(|ip| self.redactor.fingerprinter().keyed("origin", ip.to_string().as_bytes()));
                    line_origin = Some((line_start, origin));
                    origin
                }
            };
            let secret = crate::fingerprint::normalize(&hay[f.start..f.end], &mut decode);
            let jwt = if validate::is_jwt(secret) {
                let scratch = scratch.get_or_insert_with(|| {
                    self.scratch_pool
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pop()
                        .unwrap_or_else(|| self.redactor.scratch())
                });
                jwt::decode(secret, &self.redactor, scratch).map(Box::new)
            } else {
                None
            };
            out.push(Observation {
                fingerprint: *fp,
                rule: map.rules[f.rule as usize],
                replacement: map.replacement,
                location: f.location,
                checksum: f.checksum,
                seen_ms,
                origin,
                jwt,
            });
        }
        if let Some(scratch) = scratch {
            self.scratch_pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(scratch);
        }
    }

    /// Merges observations from `source` (draining `observations`): one lock.
    pub fn record(&self, source: SourceId, observations: &mut Vec<Observation>) {
        if observations.is_empty() {
            return;
        }
        let limits = self.limits;
        let mut state = self.state();
        let state = &mut *state;
        for o in observations.drain(..) {
            *state.findings.entry((o.rule, o.location, source)).or_default() += 1;
            *state.checksums.entry((o.rule, o.checksum)).or_default() += 1;
            let full = state.inventory.len() >= limits.max_credentials;
            match state.inventory.get_mut(&o.fingerprint) {
                Some(e) => {
                    e.count += 1;
                    e.first_seen_ms = e.first_seen_ms.min(o.seen_ms);
                    e.last_seen_ms = e.last_seen_ms.max(o.seen_ms);
                    e.locations |= location_bit(o.location);
                    e.sources |= 1 << source.0;
                    if let Some(origin) = o.origin
                        && e.origins.len() < limits.max_origins
                        && !e.origins.contains(&origin)
                    {
                        e.origins.push(origin);
                    }
                    if e.checksum == ChecksumResult::None {
                        e.checksum = o.checksum;
                    }
                }
                None if full => state.inventory_dropped += 1,
                None => {
                    if let Some(lifetime) = o.jwt.as_ref().and_then(|c| c.lifetime_seconds()) {
                        state.jwt_lifetimes.push(lifetime as f64);
                    }
                    state.inventory.insert(
                        o.fingerprint,
                        Entry {
                            rule: o.rule,
                            replacement: o.replacement,
                            count: 1,
                            first_seen_ms: o.seen_ms,
                            last_seen_ms: o.seen_ms,
                            locations: location_bit(o.location),
                            sources: 1 << source.0,
                            origins: o.origin.into_iter().collect(),
                            checksum: o.checksum,
                            jwt: o.jwt,
                        },
                    );
                }
            }
        }
    }

    /// Lifetimes of distinct JWTs discovered after the first `seen` ones.
    pub fn jwt_lifetimes_since(&self, seen: usize) -> Vec<f64> {
        self.state()
            .jwt_lifetimes
            .get(seen..)
            .map(<[f64]>::to_vec)
            .unwrap_or_default()
    }

    /// A consistent copy of every figure (the inventory too when `with_inventory`).
    pub fn snapshot(&self, with_inventory: bool) -> Snapshot {
        let now_ms = now_ms();
        let state = self.state();
        let rules = &state.rules;
        let source_name = |s: SourceId| -> String {
            state
                .sources
                .get(s.0 as usize)
                .cloned()
                .unwrap_or_else(|| "other".to_string())
        };
        let mut sources: Vec<SourceTotals> = (0..=self.limits.max_sources)
            .filter_map(|i| {
                let name = state.sources.get(i).cloned().or_else(|| {
                    (i == self.limits.max_sources && self.records[i].load(Ordering::Relaxed) > 0)
                        .then(|| "other".to_string())
                })?;
                Some(SourceTotals {
                    name,
                    records: self.records[i].load(Ordering::Relaxed),
                    bytes: self.bytes[i].load(Ordering::Relaxed),
                })
            })
            .collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));

        let mut findings: Vec<FindingCount> = state
            .findings
            .iter()
            .map(|((rule, location, source), count)| FindingCount {
                rule: rules[*rule as usize].0.clone(),
                kind: rules[*rule as usize].1.clone(),
                location: location.as_str(),
                source: source_name(*source),
                count: *count,
            })
            .collect();
        findings
            .sort_by(|a, b| (&a.kind, &a.rule, a.location, &a.source).cmp(&(&b.kind, &b.rule, b.location, &b.source)));

        let mut validation: HashMap<(String, &'static str), u64> = HashMap::new();
        for ((rule, checksum), count) in &state.checksums {
            let how = match checksum {
                ChecksumResult::Valid => "checksum_valid",
                ChecksumResult::Invalid => "checksum_invalid",
                ChecksumResult::None => "pattern",
            };
            *validation.entry((rules[*rule as usize].1.clone(), how)).or_default() += count;
        }
        let mut validation: Vec<ValidationCount> = validation
            .into_iter()
            .map(|((kind, validation), count)| ValidationCount {
                kind,
                validation,
                count,
            })
            .collect();
        validation.sort_by(|a, b| (&a.kind, a.validation).cmp(&(&b.kind, b.validation)));

        let mut kinds: HashMap<&str, KindTotals> = HashMap::new();
        for ((rule, _, _), count) in &state.findings {
            let kind = rules[*rule as usize].1.as_str();
            kinds.entry(kind).or_insert_with(|| KindTotals::new(kind)).findings += count;
        }
        let mut jwt_alg_none = 0;
        for entry in state.inventory.values() {
            let kind = rules[entry.rule as usize].1.as_str();
            let totals = kinds.entry(kind).or_insert_with(|| KindTotals::new(kind));
            totals.unique += 1;
            if entry.origins.len() > 1 {
                totals.multi_origin += 1;
            }
            if let Some(claims) = &entry.jwt {
                totals.jwts += 1;
                if claims.valid_at(entry.last_seen_ms / 1000) {
                    totals.live_jwts += 1;
                }
                if claims.alg_none() {
                    jwt_alg_none += 1;
                }
            }
        }
        let mut by_kind: Vec<KindTotals> = kinds.into_values().collect();
        by_kind.sort_by(|a, b| b.findings.cmp(&a.findings).then_with(|| a.kind.cmp(&b.kind)));

        let mut fail_closed: Vec<FailCount> = state
            .fail_closed
            .iter()
            .map(|((reason, source), count)| FailCount {
                reason: reason.as_str(),
                source: source_name(*source),
                count: *count,
            })
            .collect();
        fail_closed.sort_by(|a, b| (a.reason, &a.source).cmp(&(b.reason, &b.source)));

        let credentials = if with_inventory {
            let mut list: Vec<CredentialReport> = state
                .inventory
                .iter()
                .map(|(fp, e)| {
                    let (id, kind) = &rules[e.rule as usize];
                    let mut word = Vec::new();
                    let replacement = state.replacements.get(e.replacement as usize);
                    replacement
                        .unwrap_or(self.redactor.replacement())
                        .write(kind, *fp, &mut word);
                    let last_seen = e.last_seen_ms / 1000;
                    CredentialReport {
                        fingerprint: String::from_utf8_lossy(&word).into_owned(),
                        kind: kind.clone(),
                        rule: id.clone(),
                        count: e.count,
                        first_seen_ms: e.first_seen_ms,
                        last_seen_ms: e.last_seen_ms,
                        locations: LOCATIONS
                            .iter()
                            .filter(|l| e.locations & location_bit(**l) != 0)
                            .map(|l| l.as_str())
                            .collect(),
                        sources: (0..64u8)
                            .filter(|i| e.sources & (1 << i) != 0)
                            .map(|i| source_name(SourceId(i)))
                            .collect(),
                        origins: e.origins.len(),
                        origins_saturated: e.origins.len() >= self.limits.max_origins,
                        checksum: e.checksum.as_str(),
                        jwt: e.jwt.as_ref().map(|c| JwtReport {
                            claims: (**c).clone(),
                            valid_when_seen: c.valid_at(last_seen),
                            valid_for_seconds: c.valid_for(last_seen),
                            expired_at_report: c.exp.is_some_and(|exp| exp <= now_ms / 1000),
                        }),
                    }
                })
                .collect();
            list.sort_by(|a, b| {
                let live = |c: &CredentialReport| c.jwt.as_ref().is_some_and(|j| j.valid_when_seen);
                let left = |c: &CredentialReport| c.jwt.as_ref().and_then(|j| j.valid_for_seconds).unwrap_or(i64::MAX);
                live(b)
                    .cmp(&live(a))
                    .then_with(|| left(b).cmp(&left(a)))
                    .then_with(|| b.count.cmp(&a.count))
                    .then_with(|| a.fingerprint.cmp(&b.fingerprint))
            });
            list
        } else {
            Vec::new()
        };

        Snapshot {
            taken_at_ms: now_ms,
            sources,
            findings,
            validation,
            by_kind,
            fail_closed,
            unique_credentials: state.inventory.len() as u64,
            inventory_dropped: state.inventory_dropped,
            jwt_alg_none,
            jwt_lifetime: Histogram::of(&state.jwt_lifetimes),
            credentials,
        }
    }
}

/// Every figure at one instant; what exporters render.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was taken (milliseconds since the epoch).
    pub taken_at_ms: i64,
    /// Records and bytes per source.
    pub sources: Vec<SourceTotals>,
    /// Findings by rule, kind, location and source.
    pub findings: Vec<FindingCount>,
    /// Findings by kind and how they were validated.
    pub validation: Vec<ValidationCount>,
    /// Totals per kind.
    pub by_kind: Vec<KindTotals>,
    /// Records that met a fail-closed policy.
    pub fail_closed: Vec<FailCount>,
    /// Distinct credentials inventoried.
    pub unique_credentials: u64,
    /// Findings of credentials not inventoried (past the cap).
    pub inventory_dropped: u64,
    /// Distinct unsigned (`alg: none`) JWTs.
    pub jwt_alg_none: u64,
    /// Lifetimes (`exp - iat`) of distinct JWTs.
    pub jwt_lifetime: Histogram,
    /// The inventory, revocation order (only when asked for).
    pub credentials: Vec<CredentialReport>,
}

impl Snapshot {
    /// Records over all sources.
    pub fn records(&self) -> u64 {
        self.sources.iter().map(|s| s.records).sum()
    }

    /// Bytes over all sources.
    pub fn bytes(&self) -> u64 {
        self.sources.iter().map(|s| s.bytes).sum()
    }

    /// Findings over all rules.
    pub fn total_findings(&self) -> u64 {
        self.by_kind.iter().map(|k| k.findings).sum()
    }
}

/// Records and bytes of one source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceTotals {
    /// Source name.
    pub name: String,
    /// Lines (records) read.
    pub records: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Findings of one (rule, location, source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingCount {
    /// Rule id.
    pub rule: String,
    /// Kind.
    pub kind: String,
    /// Location name.
    pub location: &'static str,
    /// Source name.
    pub source: String,
    /// Count.
    pub count: u64,
}

/// Findings of one kind by validation: `checksum_valid`, `checksum_invalid` or `pattern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationCount {
    /// Kind.
    pub kind: String,
    /// How the match was validated.
    pub validation: &'static str,
    /// Count.
    pub count: u64,
}

/// Totals of one kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KindTotals {
    /// Kind.
    pub kind: String,
    /// Findings.
    pub findings: u64,
    /// Distinct credentials (inventoried).
    pub unique: u64,
    /// Distinct JWTs.
    pub jwts: u64,
    /// Distinct JWTs still valid when last seen.
    pub live_jwts: u64,
    /// Distinct credentials seen from more than one origin.
    pub multi_origin: u64,
}

impl KindTotals {
    fn new(kind: &str) -> Self {
        KindTotals {
            kind: kind.to_string(),
            findings: 0,
            unique: 0,
            jwts: 0,
            live_jwts: 0,
            multi_origin: 0,
        }
    }
}

/// Records of one source that met one fail-closed policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailCount {
    /// Reason.
    pub reason: &'static str,
    /// Source name.
    pub source: String,
    /// Count.
    pub count: u64,
}

/// One inventoried credential.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialReport {
    /// The replacement word (`REDACTED:<kind>:<hex>`): what the redacted logs show.
    pub fingerprint: String,
    /// Kind.
    pub kind: String,
    /// Rule id of the first sighting.
    pub rule: String,
    /// Sightings.
    pub count: u64,
    /// First sighting, ms since the epoch.
    pub first_seen_ms: i64,
    /// Last sighting, ms since the epoch.
    pub last_seen_ms: i64,
    /// Locations seen in.
    pub locations: Vec<&'static str>,
    /// Sources seen in.
    pub sources: Vec<String>,
    /// Distinct client origins.
    pub origins: usize,
    /// True when `origins` reached the limit (there may be more).
    pub origins_saturated: bool,
    /// Checksum verdict.
    pub checksum: &'static str,
    /// For a JWT: its claims and validity.
    pub jwt: Option<JwtReport>,
}

/// A JWT's claims and validity in the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtReport {
    /// Decoded claims.
    pub claims: JwtClaims,
    /// Still replayable at its last sighting.
    pub valid_when_seen: bool,
    /// Validity left at its last sighting (`None`: no `exp`, never expires).
    pub valid_for_seconds: Option<i64>,
    /// Expired by the time of the report.
    pub expired_at_report: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RedactorBuilder;

    fn exposure(limits: Limits) -> (Redactor, Exposure) {
        let redactor = RedactorBuilder::new()
            .build(b"exposure unit test key, 32 bytes+")
            .unwrap();
        let exposure = Exposure::new(&redactor, limits);
        (redactor, exposure)
    }

    fn feed(redactor: &Redactor, exposure: &Exposure, source: SourceId, text: &str) {
        let mut scratch = redactor.scratch();
        let mut state = crate::scan::ScanState::default();
        redactor.find(text.as_bytes(), 0..text.len(), &mut state, &mut scratch);
        let findings = redactor.findings(&scratch).to_vec();
        let mut fps = Vec::new();
        redactor.fingerprints(text.as_bytes(), &findings, &mut Vec::new(), &mut fps);
        let mut obs = Vec::new();
        exposure.observe(&exposure.adopt(redactor), text.as_bytes(), &findings, &fps, &mut obs);
        exposure.record(source, &mut obs);
    }

    #[test]
    fn inventory_stops_at_its_limit_and_counts_the_rest() {
        let (redactor, exposure) = exposure(Limits {
            max_credentials: 2,
            ..Limits::default()
        });
        let src = exposure.source("t");
        for i in 0..5 {
            feed(&redactor, &exposure, src, &format!("password=Hunter{i}x9Secret\n"));
        }
        feed(&redactor, &exposure, src, "password=Hunter0x9Secret\n");
        let s = exposure.snapshot(true);
        assert_eq!(s.total_findings(), 6);
        assert_eq!(s.unique_credentials, 2);
        assert_eq!(s.credentials.len(), 2);
        assert_eq!(s.inventory_dropped, 3);
        assert_eq!(s.credentials.iter().map(|c| c.count).sum::<u64>(), 3);
    }

    #[test]
    fn sources_past_the_limit_count_as_other() {
        let (_, exposure) = exposure(Limits {
            max_sources: 2,
            ..Limits::default()
        });
        let a = exposure.source("a");
        assert_eq!(exposure.source("a"), a);
        let b = exposure.source("b");
        let c = exposure.source("c");
        let d = exposure.source("d");
        assert_ne!(a, b);
        assert_eq!(c, d);
        exposure.count_input(c, 3, 30);
        exposure.count_input(d, 1, 10);
        exposure.count_input(a, 1, 1);
        let s = exposure.snapshot(false);
        let other = s.sources.iter().find(|t| t.name == "other").unwrap();
        assert_eq!((other.records, other.bytes), (4, 40));
        assert_eq!(s.records(), 5);
    }

    #[test]
    fn origins_saturate_and_two_make_a_replay_signal() {
        let (redactor, exposure) = exposure(Limits {
            max_origins: 3,
            ..Limits::default()
        });
        let src = exposure.source("t");
        for i in 1..=5 {
            feed(
                &redactor,
                &exposure,
                src,
                &format!("client_ip=192.0.2.{i} password=Hunter2x9Secret\n"),
            );
        }
        let s = exposure.snapshot(true);
        assert_eq!(s.credentials.len(), 1);
        assert_eq!(s.credentials[0].origins, 3);
        assert!(s.credentials[0].origins_saturated);
        assert_eq!(s.by_kind[0].multi_origin, 1);
        let text = format!("{s:?}");
        assert!(
            !text.contains("Hunter2x9Secret") && !text.contains("192.0.2."),
            "{text}"
        );
    }
}
