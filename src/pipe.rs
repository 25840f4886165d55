//! The streaming path: bytes in, the same bytes out with every secret replaced.
//!
//! # Buffer policy
//!
//! Input is read in blocks of `read_size` bytes. After each read, every *complete* line in the
//! buffer is scanned and written at once (one `write` per read, or one vectored write of the
//! input's slices between the replacement words, see [`Rewrite`]), so `tail -f app.log |
//! tokenscrub` emits each line as soon as it is complete, while a large file is processed in
//! large blocks.
//!
//! A line longer than `window` bytes is not held whole: its first `window` bytes are scanned,
//! and everything up to `window - overlap` (or up to the end of the last secret found there,
//! if later) is written; the rest is kept and scanned again with the bytes that follow.
//! `overlap` is one more than the longest match any rule can produce (every rule has a known
//! maximum match length, see `patterns/README.md`), so a credential straddling the cut is
//! always seen whole in one of the two scans. Memory stays bounded by `window + read_size` for
//! any line length.
//!
//! # Oversize lines: the fail-closed policy
//!
//! A line longer than `max_line` (or, when that is 0, one long enough to be scanned in windows)
//! meets [`OversizePolicy`]: `Scan` forwards it redacted as above; `Drop` replaces the whole
//! line with one marker line (a JSON object when the line looked like one), so a pathological
//! record never reaches the sink. Either way no byte is forwarded unscanned, and each such line
//! is counted (`fail_closed{reason="oversize"}` when exposure is on).
//!
//! # Threads
//!
//! [`run_parallel`] hands blocks of complete lines to worker threads and writes results in
//! input order from a writer thread. At most four blocks per worker are in flight (read but not
//! yet written), so a slow consumer cannot make memory grow. With one thread it is the
//! sequential [`StreamRedactor`].
//!
//! # Reload
//!
//! [`run_shared`] takes its redactor from a [`SharedRedactor`], which a config reload replaces
//! while the stream runs. The stream adopts a new redactor between blocks of whole lines, so
//! every line is redacted by exactly one redactor, and nothing is lost, repeated or reordered.
//! A multi-line block (a PEM key) open at the switch is finished under the old rules.
//!
//! Every byte is scanned before it is written; bytes are never forwarded raw. A read error ends
//! the stream with that error after what was already complete has been written.

use std::io::{self, ErrorKind, Read, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use memchr::memrchr;

use crate::exposure::{Exposure, FailReason, Observation, RuleMap, SourceId};
use crate::redact::{Redactor, Scratch};
use crate::rewrite::Rewrite;
use crate::scan::{Finding, ScanState};

/// Bytes of already-written input kept before the next unscanned byte, so that look-behind
/// assertions (`\b`) at a cut see the real preceding byte.
const CONTEXT: usize = 16;

/// What happens to a line longer than the limit (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OversizePolicy {
    /// Scan it in overlapping windows and forward it redacted (memory stays bounded).
    #[default]
    Scan,
    /// Replace the whole line with a marker line.
    Drop,
}

/// Sizes and the oversize policy of the streaming path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeConfig {
    /// Bytes asked of each `read`.
    pub read_size: usize,
    /// Longest partial line held before it is scanned in windows. Raised to at least twice the
    /// rule set's overlap, and above `max_line` under [`OversizePolicy::Drop`].
    pub window: usize,
    /// Lines longer than this (bytes, newline excluded) meet `on_oversize`. 0: lines long
    /// enough to be scanned in windows do.
    pub max_line: usize,
    /// The oversize policy.
    pub on_oversize: OversizePolicy,
}

impl Default for PipeConfig {
    fn default() -> Self {
        PipeConfig {
            // Measured with two threads on the 200 MB e2e file (`--read-size`, alternated four
            // times): 256 KiB 0.12-0.13 s, 512 KiB 0.11-0.15, 1 MiB 0.10-0.13, 2 MiB 0.11-0.13;
            // each block costs hand-offs between the reader, a worker and the writer. Peak RSS
            // 19 -> 27 MB. A pipe gives at most its buffer a read whatever is asked (the command
            // asks for a 1 MiB one on standard input).
            read_size: 1024 * 1024,
            window: 1024 * 1024,
            max_line: 0,
            on_oversize: OversizePolicy::Scan,
        }
    }
}

impl PipeConfig {
    /// The sizes a stream uses with `redactor`'s rules: the window raised as the fields say.
    pub fn effective(self, redactor: &Redactor) -> PipeConfig {
        let mut window = self.window.max(2 * redactor.rules().overlap() + 1);
        if self.on_oversize == OversizePolicy::Drop && self.max_line > 0 {
            window = window.max(self.max_line + 1);
        }
        PipeConfig {
            read_size: self.read_size.max(1),
            window,
            ..self
        }
    }

    /// Whether a stream started with these (effective) sizes can adopt `redactor` on a reload:
    /// its rules must not need a larger window.
    pub fn fits(&self, redactor: &Redactor) -> bool {
        self.effective(redactor).window <= self.window
    }
}

/// What a stream run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipeStats {
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Secrets replaced.
    pub secrets: u64,
}

/// Where a stream reports what it saw: an exposure aggregator and the source name to count
/// under.
#[derive(Debug, Clone, Copy)]
pub struct Tap<'e> {
    /// The aggregator.
    pub exposure: &'e Exposure,
    /// The source (input file or `--source` name).
    pub source: SourceId,
}

/// The redactor in force, replaceable while streams run (a configuration reload). Streams
/// check the generation once per block: an atomic load, no lock.
#[derive(Debug)]
pub struct SharedRedactor {
    generation: AtomicU64,
    current: Mutex<Arc<Redactor>>,
}

impl SharedRedactor {
    /// Starts with `redactor`.
    pub fn new(redactor: Redactor) -> Self {
        SharedRedactor {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(redactor)),
        }
    }

    /// Puts `redactor` in force; streams adopt it at their next block boundary.
    pub fn replace(&self, redactor: Redactor) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(redactor);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The redactor in force.
    pub fn current(&self) -> Arc<Redactor> {
        Arc::clone(&self.current.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Bumped by each [`SharedRedactor::replace`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// A redactor as one stream uses it: its generation, and with a tap, how its findings map to
/// the aggregator's numbering.
#[derive(Debug)]
struct Engine {
    redactor: Arc<Redactor>,
    generation: u64,
    map: Option<RuleMap>,
}

impl Engine {
    fn new(redactor: Arc<Redactor>, generation: u64, tap: Option<Tap<'_>>) -> Arc<Self> {
        let map = tap.map(|t| t.exposure.adopt(&redactor));
        Arc::new(Engine {
            redactor,
            generation,
            map,
        })
    }

    /// Fingerprints `findings` of `hay` into `fps` and, with a tap, turns them into observations
    /// for it: each secret is hashed once, for its replacement and its exposure.
    fn fingerprint(
        &self,
        tap: Option<Tap<'_>>,
        hay: &[u8],
        findings: &[Finding],
        decode: &mut Vec<u8>,
        fps: &mut Vec<u64>,
        observations: &mut Vec<Observation>,
    ) {
        self.redactor.fingerprints(hay, findings, decode, fps);
        if let Some(tap) = tap {
            let map = self.map.as_ref().expect("an engine made with a tap has a rule map");
            tap.exposure.observe(map, hay, findings, fps, observations);
        }
    }
}

/// Per-worker scratch, rebuilt when the engine's generation changes.
#[derive(Debug, Default)]
struct ScratchCache(Option<(u64, Scratch)>);

impl ScratchCache {
    fn for_engine(&mut self, engine: &Engine) -> &mut Scratch {
        if !matches!(&self.0, Some((g, _)) if *g == engine.generation) {
            self.0 = Some((engine.generation, engine.redactor.scratch()));
        }
        &mut self.0.as_mut().expect("just set").1
    }
}

/// Counts records (lines) of a stream as its bytes go by: every newline ends one, and a last
/// line without a newline counts at the end.
#[derive(Debug, Default, Clone, Copy)]
struct RecordCounter {
    ends_mid_line: bool,
}

impl RecordCounter {
    fn count(&mut self, tap: Option<Tap<'_>>, bytes: &[u8]) {
        if let Some(tap) = tap
            && !bytes.is_empty()
        {
            let lines = memchr::memchr_iter(b'\n', bytes).count() as u64;
            tap.exposure.count_input(tap.source, lines, bytes.len() as u64);
            self.ends_mid_line = bytes.last() != Some(&b'\n');
        }
    }

    fn finish(&mut self, tap: Option<Tap<'_>>) {
        if let Some(tap) = tap
            && std::mem::take(&mut self.ends_mid_line)
        {
            tap.exposure.count_input(tap.source, 1, 0);
        }
    }
}

/// The input side of both paths: bytes read but not yet written, plus up to `CONTEXT` bytes
/// before them kept for look-behind.
///
/// Invariants: `start <= filled <= buf.len()`; `buf[..start]` is already written;
/// `buf.len() - filled >= read_size` before every read (compaction makes room, since the
/// caller never lets more than `window` unwritten bytes pile up).
#[derive(Debug, Default)]
struct LineBuffer {
    buf: Vec<u8>,
    filled: usize,
    start: usize,
    read_size: usize,
}

impl LineBuffer {
    fn new(config: PipeConfig) -> Self {
        LineBuffer {
            buf: vec![0u8; config.window + config.read_size + CONTEXT],
            filled: 0,
            start: 0,
            read_size: config.read_size,
        }
    }

    fn reset(&mut self) {
        self.filled = 0;
        self.start = 0;
    }

    /// Reads once. Returns the bytes read (0 at end of input) and the end of the last complete
    /// line among them.
    fn read_from<R: Read>(&mut self, reader: &mut R) -> io::Result<(usize, Option<usize>)> {
        if self.buf.len() - self.filled < self.read_size {
            let keep = self.start.saturating_sub(CONTEXT);
            self.buf.copy_within(keep..self.filled, 0);
            self.filled -= keep;
            self.start -= keep;
        }
        loop {
            match reader.read(&mut self.buf[self.filled..self.filled + self.read_size]) {
                Ok(n) => {
                    let last_newline =
                        memrchr(b'\n', &self.buf[self.filled..self.filled + n]).map(|i| self.filled + i + 1);
                    self.filled += n;
                    return Ok((n, last_newline));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Bytes read but not yet written.
    fn unwritten(&self) -> usize {
        self.filled - self.start
    }
}

/// A piece of input for the scanning side, cut by [`Cutter::drive`].
enum Piece<'a> {
    /// Complete lines `hay[start..]` (`hay[..start]` is context already written). Also the
    /// last bytes of the input, newline or not.
    Lines { hay: &'a [u8], start: usize },
    /// The unwritten part `hay[start..]` of a line too long to hold: scan, write what is final,
    /// and say where the rest starts.
    Window { hay: &'a [u8], start: usize },
    /// The marker that stands for a dropped oversize line.
    Marker(&'a [u8]),
}

/// An oversize line being dropped, while its end is awaited.
#[derive(Debug, Clone, Copy)]
struct Dropping {
    bytes: u64,
    json: bool,
}

/// Cuts input into [`Piece`]s: reads, finds line ends, applies the oversize policy. Both the
/// sequential and the parallel path drive one, so they cut identically.
#[derive(Debug, Default)]
struct Cutter {
    input: LineBuffer,
    config: PipeConfig,
    dropping: Option<Dropping>,
    /// The line now being scanned in windows was counted as oversize already.
    windowed: bool,
}

/// The marker line for a dropped line of `bytes` bytes (newline excluded).
fn oversize_marker(bytes: u64, limit: usize, json: bool, newline: bool) -> Vec<u8> {
    let mut marker = if json {
        format!(r#"{{"tokenscrub":"dropped","reason":"oversize","bytes":{bytes},"max_line":{limit}}}"#)
    } else {
        format!("[tokenscrub: dropped a line of {bytes} bytes, over max_line {limit}]")
    }
    .into_bytes();
    if newline {
        marker.push(b'\n');
    }
    marker
}

/// The handler's answer to a piece: where the unwritten bytes now start (for a window), or
/// `None` to stop reading.
type Handled = io::Result<Option<usize>>;

impl Cutter {
    fn new(config: PipeConfig) -> Self {
        Cutter {
            input: LineBuffer::new(config),
            config,
            dropping: None,
            windowed: false,
        }
    }

    fn count_oversize(tap: Option<Tap<'_>>) {
        if let Some(tap) = tap {
            tap.exposure.fail_closed(tap.source, FailReason::Oversize);
        }
    }

    /// Reads `reader` to its end, handing pieces to `handle` in order. Returns the bytes read.
    fn drive<R: Read>(
        &mut self,
        reader: &mut R,
        tap: Option<Tap<'_>>,
        handle: &mut dyn FnMut(Piece<'_>) -> Handled,
    ) -> io::Result<u64> {
        self.input.reset();
        self.dropping = None;
        self.windowed = false;
        let mut records = RecordCounter::default();
        let mut bytes_in = 0u64;
        let (max_line, policy, window) = (self.config.max_line, self.config.on_oversize, self.config.window);
        loop {
            let (n, last_newline) = self.input.read_from(reader)?;
            if n == 0 {
                break;
            }
            bytes_in += n as u64;
            let fresh = self.input.filled - n;
            records.count(tap, &self.input.buf[fresh..self.input.filled]);
            if let Some(dropping) = &mut self.dropping {
                match memchr::memchr(b'\n', &self.input.buf[fresh..self.input.filled]) {
                    None => {
                        dropping.bytes += n as u64;
                        self.input.start = self.input.filled;
                        continue;
                    }
                    Some(i) => {
                        let marker = oversize_marker(dropping.bytes + i as u64, max_line, dropping.json, true);
                        self.dropping = None;
                        self.input.start = fresh + i + 1;
                        if handle(Piece::Marker(&marker))?.is_none() {
                            return Ok(bytes_in);
                        }
                    }
                }
            }
            if let Some(line_end) = last_newline.filter(|&e| e > self.input.start)
                && !self.lines(line_end, tap, handle)?
            {
                return Ok(bytes_in);
            }
            if policy == OversizePolicy::Drop && max_line > 0 && self.input.unwritten() > max_line {
                Self::count_oversize(tap);
                self.dropping = Some(Dropping {
                    bytes: self.input.unwritten() as u64,
                    json: self.input.buf[self.input.start] == b'{',
                });
                self.input.start = self.input.filled;
            }
            while self.input.unwritten() >= window {
                if !std::mem::replace(&mut self.windowed, true) {
                    Self::count_oversize(tap);
                }
                let piece = Piece::Window {
                    hay: &self.input.buf[..self.input.filled],
                    start: self.input.start,
                };
                match handle(piece)? {
                    Some(commit) => self.input.start = commit,
                    None => return Ok(bytes_in),
                }
            }
        }
        if let Some(dropping) = self.dropping.take() {
            handle(Piece::Marker(&oversize_marker(
                dropping.bytes,
                max_line,
                dropping.json,
                false,
            )))?;
        } else if self.input.unwritten() > 0 {
            if max_line > 0 && self.input.unwritten() > max_line && !self.windowed {
                Self::count_oversize(tap);
            }
            let piece = Piece::Lines {
                hay: &self.input.buf[..self.input.filled],
                start: self.input.start,
            };
            handle(piece)?;
        }
        records.finish(tap);
        Ok(bytes_in)
    }

    /// Hands the complete lines `buf[start..end]` on, applying the oversize policy to each
    /// line when `max_line` is set (only then is each line's length looked at). Returns false
    /// when the handler said stop.
    fn lines(
        &mut self,
        end: usize,
        tap: Option<Tap<'_>>,
        handle: &mut dyn FnMut(Piece<'_>) -> Handled,
    ) -> io::Result<bool> {
        let start = self.input.start;
        self.input.start = end;
        let windowed = std::mem::take(&mut self.windowed);
        let max_line = self.config.max_line;
        let buf = &self.input.buf;
        if max_line == 0 || end - start <= max_line {
            return Ok(handle(Piece::Lines {
                hay: &buf[..end],
                start,
            })?
            .is_some());
        }
        let drop = self.config.on_oversize == OversizePolicy::Drop;
        let (mut segment, mut line) = (start, start);
        for newline in memchr::memchr_iter(b'\n', &buf[start..end]).map(|i| start + i) {
            // The first line's head was already windowed (and counted) when `windowed`.
            if newline - line > max_line && !(line == start && windowed) {
                Self::count_oversize(tap);
                if drop {
                    if segment < line
                        && handle(Piece::Lines {
                            hay: &buf[..line],
                            start: segment,
                        })?
                        .is_none()
                    {
                        return Ok(false);
                    }
                    let marker = oversize_marker((newline - line) as u64, max_line, buf[line] == b'{', true);
                    if handle(Piece::Marker(&marker))?.is_none() {
                        return Ok(false);
                    }
                    segment = newline + 1;
                }
            }
            line = newline + 1;
        }
        Ok(segment >= end
            || handle(Piece::Lines {
                hay: &buf[..end],
                start: segment,
            })?
            .is_some())
    }
}

/// A reusable streaming redactor (one per thread).
#[derive(Debug)]
pub struct StreamRedactor<'r> {
    engine: Arc<Engine>,
    shared: Option<&'r SharedRedactor>,
    config: PipeConfig,
    scratch: Scratch,
    /// The replacements of the region being written.
    rewrite: Rewrite,
    /// Input buffer and cutting state, allocated once.
    cutter: Cutter,
    tap: Option<Tap<'r>>,
    fingerprints: Vec<u64>,
    observations: Vec<Observation>,
}

impl<'r> StreamRedactor<'r> {
    /// A stream redactor with the given sizes.
    pub fn new(redactor: &Redactor, config: PipeConfig) -> Self {
        Self::with_engine(Engine::new(Arc::new(redactor.clone()), 0, None), None, config)
    }

    /// A stream redactor that adopts each redactor `shared` is given, between blocks.
    pub fn shared(shared: &'r SharedRedactor, config: PipeConfig) -> Self {
        let engine = Engine::new(shared.current(), shared.generation(), None);
        Self::with_engine(engine, Some(shared), config)
    }

    fn with_engine(engine: Arc<Engine>, shared: Option<&'r SharedRedactor>, config: PipeConfig) -> Self {
        let config = config.effective(&engine.redactor);
        StreamRedactor {
            scratch: engine.redactor.scratch(),
            engine,
            shared,
            config,
            rewrite: Rewrite::default(),
            cutter: Cutter::new(config),
            tap: None,
            fingerprints: Vec::new(),
            observations: Vec::new(),
        }
    }

    /// Reports findings and record counts to `tap`.
    pub fn with_tap(mut self, tap: Option<Tap<'r>>) -> Self {
        self.tap = tap;
        self.engine = Engine::new(Arc::clone(&self.engine.redactor), self.engine.generation, tap);
        self
    }

    /// The sizes in effect (after raising `window` to the rule set's minimum).
    pub fn config(&self) -> PipeConfig {
        self.config
    }

    /// Adopts the shared redactor's latest generation, unless a multi-line block is open
    /// (`state`) or its rules need a larger window than this stream has. True if adopted.
    fn refresh(&mut self, state: &ScanState) -> bool {
        let Some(shared) = self.shared else {
            return false;
        };
        let generation = shared.generation();
        if generation == self.engine.generation || state.in_block() {
            return false;
        }
        let redactor = shared.current();
        if !self.config.fits(&redactor) {
            return false;
        }
        self.scratch = redactor.scratch();
        self.engine = Engine::new(redactor, generation, self.tap);
        true
    }

    /// Copies `reader` to `writer`, redacting. Multi-line state starts fresh for each call.
    pub fn run<R: Read, W: Write>(&mut self, mut reader: R, mut writer: W) -> io::Result<PipeStats> {
        let mut cutter = std::mem::take(&mut self.cutter);
        let mut state = ScanState::default();
        let mut stats = PipeStats::default();
        let result = cutter.drive(&mut reader, self.tap, &mut |piece| match piece {
            Piece::Lines { hay, start } => {
                self.refresh(&state);
                self.process(hay, start, true, &mut state, &mut writer, &mut stats)
                    .map(Some)
            }
            Piece::Window { hay, start } => self
                .process(hay, start, false, &mut state, &mut writer, &mut stats)
                .map(Some),
            Piece::Marker(marker) => {
                writer.write_all(marker)?;
                stats.bytes_out += marker.len() as u64;
                Ok(Some(0))
            }
        });
        self.cutter = cutter;
        stats.bytes_in = result?;
        writer.flush()?;
        Ok(stats)
    }

    /// Scans `hay[start..]` and writes what is final. When `complete` is false the region ends
    /// mid-line: only secrets starting before `len - overlap` are final, and the bytes after
    /// the commit point are left for the next call. Returns the new `start`.
    fn process<W: Write>(
        &mut self,
        hay: &[u8],
        start: usize,
        complete: bool,
        state: &mut ScanState,
        writer: &mut W,
        stats: &mut PipeStats,
    ) -> io::Result<usize> {
        let end = hay.len();
        let redactor = &*self.engine.redactor;
        redactor.find(hay, start..end, state, &mut self.scratch);
        let (findings, decode) = Redactor::findings_and_buffer(&mut self.scratch);
        let (commit, findings) = if complete {
            (end, findings)
        } else {
            window_commit(findings, end, redactor.rules().overlap())
        };
        let written = if findings.is_empty() {
            writer.write_all(&hay[start..commit])?;
            commit - start
        } else {
            self.engine.fingerprint(
                self.tap,
                hay,
                findings,
                decode,
                &mut self.fingerprints,
                &mut self.observations,
            );
            if let Some(tap) = self.tap {
                // Counted before written, so that an interrupted run's report covers every
                // finding that reached the output.
                tap.exposure.record(tap.source, &mut self.observations);
            }
            redactor.rewrite(findings, &self.fingerprints, &mut self.rewrite);
            self.rewrite.write_to(hay, start..commit, writer)?
        };
        writer.flush()?;
        stats.secrets += findings.len() as u64;
        stats.bytes_out += written as u64;
        Ok(commit)
    }
}

/// Where a window of an unfinished line (`..end`) is cut, and its final findings: only secrets
/// starting before `end - overlap` are final (a later one may continue past `end`), and the cut
/// never splits one of them.
fn window_commit(findings: &[Finding], end: usize, overlap: usize) -> (usize, &[Finding]) {
    let safe = end - overlap;
    let n = findings.iter().take_while(|f| f.start < safe).count();
    let commit = findings[..n].last().map_or(safe, |f| f.end.max(safe));
    (commit, &findings[..n])
}

/// One scanned stretch of a stream, as [`RegionScanner`] hands it to its visitor.
pub(crate) struct Region<'a> {
    /// Offset of `hay[0]` in the stream (bytes read before it).
    pub offset: u64,
    /// The scanned bytes; those before `range` are context for look-behind only.
    pub hay: &'a [u8],
    /// The bytes this region settles. The ranges of successive regions tile the stream in
    /// order, each byte exactly once.
    pub range: Range<usize>,
    /// The secrets in `range`, sorted and non-overlapping: exactly those the redactor replaces
    /// there.
    pub findings: &'a [Finding],
    /// A buffer for [`Redactor::fingerprints`].
    pub decode: &'a mut Vec<u8>,
}

/// The streaming path without the output: the same [`Cutter`], windows, commit points and
/// multi-line state as [`StreamRedactor`], so the same findings, handed to a visitor with their
/// place in the stream instead of being rewritten. Memory stays bounded by `window + read_size`
/// for any line length. One per thread, reused across inputs.
#[derive(Debug)]
pub(crate) struct RegionScanner<'r> {
    redactor: &'r Redactor,
    overlap: usize,
    scratch: Scratch,
    cutter: Cutter,
}

impl<'r> RegionScanner<'r> {
    /// A scanner with the given sizes (raised as for [`StreamRedactor::new`]). Oversize lines
    /// are always scanned: a scan reports, so it has nothing to drop.
    pub(crate) fn new(redactor: &'r Redactor, config: PipeConfig) -> Self {
        let config = PipeConfig {
            on_oversize: OversizePolicy::Scan,
            ..config
        }
        .effective(redactor);
        RegionScanner {
            redactor,
            overlap: redactor.rules().overlap(),
            scratch: redactor.scratch(),
            cutter: Cutter::new(config),
        }
    }

    /// Scans `reader` to its end, calling `visit` for every region in stream order. Multi-line
    /// state starts fresh. Returns the bytes read. A read error is converted with `From`; a
    /// visitor error stops the scan and is returned as is.
    pub(crate) fn run<R: Read, E: From<io::Error>>(
        &mut self,
        mut reader: R,
        mut visit: impl FnMut(Region<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let mut cutter = std::mem::take(&mut self.cutter);
        let mut state = ScanState::default();
        // Stream offset of the first byte not yet settled: compaction moves bytes, not this.
        let mut settled = 0u64;
        let mut stopped: Option<E> = None;
        let (redactor, overlap, scratch) = (self.redactor, self.overlap, &mut self.scratch);
        let result = cutter.drive(&mut reader, None, &mut |piece| {
            let (hay, start, complete) = match piece {
                Piece::Lines { hay, start } => (hay, start, true),
                Piece::Window { hay, start } => (hay, start, false),
                Piece::Marker(_) => unreachable!("the scan policy drops nothing"),
            };
            let end = hay.len();
            redactor.find(hay, start..end, &mut state, scratch);
            let (findings, decode) = Redactor::findings_and_buffer(scratch);
            let (commit, findings) = if complete {
                (end, findings)
            } else {
                window_commit(findings, end, overlap)
            };
            let region = Region {
                offset: settled - start as u64,
                hay,
                range: start..commit,
                findings,
                decode,
            };
            if let Err(e) = visit(region) {
                stopped = Some(e);
                return Ok(None);
            }
            settled += (commit - start) as u64;
            Ok(Some(commit))
        });
        self.cutter = cutter;
        match stopped {
            Some(e) => Err(e),
            None => Ok(result?),
        }
    }
}

/// Convenience: redacts `reader` into `writer` with default sizes.
pub fn redact_stream<R: Read, W: Write>(redactor: &Redactor, reader: R, writer: W) -> io::Result<PipeStats> {
    StreamRedactor::new(redactor, PipeConfig::default()).run(reader, writer)
}

/// One block of complete lines, or output the reader already rendered (a window of a long
/// line, a marker).
struct Job {
    seq: u64,
    input: Vec<u8>,
    /// False for bytes the reader already rendered: passed through in order, never rescanned.
    scan: bool,
    engine: Arc<Engine>,
}

/// A worker's result for one block.
struct Done {
    seq: u64,
    /// The block as read (kept for the rare sequential redo, see `run_parallel`).
    input: Vec<u8>,
    /// The block's replacements, or `None` when nothing was found (the input is written as is).
    rewrite: Option<Rewrite>,
    /// Multi-line state after the block, assuming none was open before it. `None` for output
    /// the reader rendered itself: it neither depends on nor changes the state.
    end_state: Option<ScanState>,
    secrets: u64,
    /// What the block's findings tell the exposure aggregator (merged by the writer, in order).
    observations: Vec<Observation>,
    engine: Arc<Engine>,
}

/// Redacts `reader` into `writer` on `threads` worker threads (1 or 0: the sequential path).
///
/// The reader cuts the input into blocks at line ends (one block per read) and hands them to
/// workers; a writer thread puts results back in input order and writes each as soon as it and
/// everything before it is done, so live tails stay prompt. Workers assume no multi-line block
/// is open at the start of their block; in the rare case the previous block ended inside one (a
/// PEM key cut by a read), the writer redoes that block sequentially with the right state.
/// Lines longer than the window are scanned by the reader in overlapping windows, exactly as
/// on the sequential path.
pub fn run_parallel<R: Read, W: Write + Send>(
    redactor: &Redactor,
    config: PipeConfig,
    threads: usize,
    reader: R,
    writer: W,
) -> io::Result<PipeStats> {
    run_parallel_tapped(redactor, config, threads, reader, writer, None)
}

/// [`run_parallel`], reporting findings and record counts to `tap`.
pub fn run_parallel_tapped<R: Read, W: Write + Send>(
    redactor: &Redactor,
    config: PipeConfig,
    threads: usize,
    reader: R,
    writer: W,
    tap: Option<Tap<'_>>,
) -> io::Result<PipeStats> {
    let stream = StreamRedactor::new(redactor, config).with_tap(tap);
    run_stream(stream, threads, reader, writer)
}

/// [`run_parallel_tapped`] with the redactor taken from `shared`, adopting each replacement
/// between blocks (see the module docs on reload).
pub fn run_shared<R: Read, W: Write + Send>(
    shared: &SharedRedactor,
    config: PipeConfig,
    threads: usize,
    reader: R,
    writer: W,
    tap: Option<Tap<'_>>,
) -> io::Result<PipeStats> {
    let stream = StreamRedactor::shared(shared, config).with_tap(tap);
    run_stream(stream, threads, reader, writer)
}

fn run_stream<R: Read, W: Write + Send>(
    mut stream: StreamRedactor<'_>,
    threads: usize,
    mut reader: R,
    writer: W,
) -> io::Result<PipeStats> {
    use std::sync::mpsc;

    if threads <= 1 {
        return stream.run(reader, writer);
    }
    let tap = stream.tap;
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(2 * threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    // Blocks in flight (read, not yet written) are bounded by permits: the reader takes one per
    // block, the writer gives it back once the block is written. Without this, a slow consumer
    // downstream would let finished blocks pile up in memory.
    let (permit_tx, permit_rx) = mpsc::sync_channel::<()>(4 * threads);
    let pool = BufferPool::new(6 * threads, 4 * stream.config.read_size);
    let pool = &pool;

    std::thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut scratch = ScratchCache::default();
                let mut fingerprints = Vec::new();
                loop {
                    let job = match job_rx.lock().expect("job queue").recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    let done = if job.scan {
                        scan_block(job, tap, &mut scratch, &mut fingerprints)
                    } else {
                        Done {
                            seq: job.seq,
                            input: job.input,
                            rewrite: None,
                            end_state: None,
                            secrets: 0,
                            observations: Vec::new(),
                            engine: job.engine,
                        }
                    };
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        // Only the workers hold the job queue now: if they all stop (the writer failed), the
        // reader's next send fails instead of blocking on a full queue.
        drop(job_rx);
        drop(done_tx);

        let first = Arc::clone(&stream.engine);
        let writer_thread = scope.spawn(move || write_in_order(first, tap, done_rx, permit_rx, pool, writer));

        // Reader: the calling thread. The stream redactor's own buffer cuts; the stream itself
        // only renders long-line windows here.
        let mut cutter = std::mem::take(&mut stream.cutter);
        let mut seq = 0u64;
        let mut send = |input: Vec<u8>, scan: bool, engine: &Arc<Engine>| -> bool {
            let job = Job {
                seq,
                input,
                scan,
                engine: Arc::clone(engine),
            };
            seq += 1;
            permit_tx.send(()).is_ok() && job_tx.send(job).is_ok()
        };
        // The writer keeps the multi-line state; the reader adopts reloads at any block, and
        // the writer finishes an open block under the rules that opened it.
        let no_state = ScanState::default();
        let read_result = cutter.drive(&mut reader, tap, &mut |piece| match piece {
            Piece::Lines { hay, start } => {
                stream.refresh(&no_state);
                let mut block = pool.take();
                block.extend_from_slice(&hay[start..]);
                Ok(send(block, true, &stream.engine).then_some(0))
            }
            Piece::Window { hay, start } => {
                let mut rendered = Vec::new();
                let mut stats = PipeStats::default();
                let mut state = ScanState::default();
                let commit = stream.process(hay, start, false, &mut state, &mut rendered, &mut stats)?;
                Ok(send(rendered, false, &stream.engine).then_some(commit))
            }
            Piece::Marker(marker) => Ok(send(marker.to_vec(), false, &stream.engine).then_some(0)),
        });
        drop(job_tx);
        stream.cutter = cutter;
        let written = writer_thread.join().expect("writer thread");
        let bytes_in = read_result?;
        let mut stats = written?;
        stats.bytes_in = bytes_in;
        Ok(stats)
    })
}

/// Block buffers handed back by the writer, for the reader and the workers to fill again.
///
/// Why: a fresh block-sized `Vec` per block (and one per redacted output, before outputs were
/// written as slices of their input) was fresh memory each time, faulted in and zeroed by the kernel: with two threads on the 200 MB bench log that was
/// 0.10-0.13 s of system time, against 0.01-0.02 s on one thread. The pool holds at most `cap`
/// buffers of at most `max_capacity` bytes each, so it adds a bounded amount to the blocks in
/// flight (which the permits bound).
struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    cap: usize,
    max_capacity: usize,
}

impl BufferPool {
    fn new(cap: usize, max_capacity: usize) -> Self {
        BufferPool {
            free: Mutex::new(Vec::with_capacity(cap)),
            cap,
            max_capacity,
        }
    }

    /// An empty buffer, reused when one is free.
    fn take(&self) -> Vec<u8> {
        self.free.lock().expect("buffer pool").pop().unwrap_or_default()
    }

    /// Keeps `buffer` for reuse, unless the pool is full or the buffer is outsized (a long
    /// line's window): then it is freed.
    fn give(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() > self.max_capacity {
            return;
        }
        buffer.clear();
        let mut free = self.free.lock().expect("buffer pool");
        if free.len() < self.cap {
            free.push(buffer);
        }
    }
}

/// A worker's scan of one block of complete lines, assuming no multi-line block open before it.
fn scan_block(job: Job, tap: Option<Tap<'_>>, scratch: &mut ScratchCache, fingerprints: &mut Vec<u64>) -> Done {
    let engine = job.engine;
    let redactor = &*engine.redactor;
    let scratch = scratch.for_engine(&engine);
    let mut state = ScanState::default();
    redactor.find(&job.input, 0..job.input.len(), &mut state, scratch);
    let (findings, decode) = Redactor::findings_and_buffer(scratch);
    let mut observations = Vec::new();
    let rewrite = (!findings.is_empty()).then(|| {
        engine.fingerprint(tap, &job.input, findings, decode, fingerprints, &mut observations);
        let mut rewrite = Rewrite::default();
        redactor.rewrite(findings, fingerprints, &mut rewrite);
        rewrite
    });
    let secrets = findings.len() as u64;
    Done {
        seq: job.seq,
        input: job.input,
        rewrite,
        end_state: Some(state),
        secrets,
        observations,
        engine,
    }
}

/// The writer thread: reorders results and writes them.
fn write_in_order<W: Write>(
    first: Arc<Engine>,
    tap: Option<Tap<'_>>,
    done_rx: std::sync::mpsc::Receiver<Done>,
    permits: std::sync::mpsc::Receiver<()>,
    pool: &BufferPool,
    mut writer: W,
) -> io::Result<PipeStats> {
    use std::collections::BTreeMap;
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut state = ScanState::default();
    // The engine whose rules `state` refers to: an open block is finished under it.
    let mut state_engine = first;
    let mut scratch = ScratchCache::default();
    let mut redo = Rewrite::default();
    let mut stats = PipeStats::default();
    let (mut fingerprints, mut observations) = (Vec::new(), Vec::new());
    for done in done_rx {
        pending.insert(done.seq, done);
        while let Some(mut done) = pending.remove(&next) {
            next += 1;
            let rewrite = match (&done.end_state, state.in_block()) {
                (Some(_), true) => {
                    // The worker assumed no open block; redo this one with the real state.
                    let engine = &*state_engine;
                    let scratch = scratch.for_engine(engine);
                    engine
                        .redactor
                        .find(&done.input, 0..done.input.len(), &mut state, scratch);
                    let (findings, decode) = Redactor::findings_and_buffer(scratch);
                    stats.secrets += findings.len() as u64;
                    engine.fingerprint(tap, &done.input, findings, decode, &mut fingerprints, &mut observations);
                    if let Some(tap) = tap {
                        tap.exposure.record(tap.source, &mut observations);
                    }
                    engine.redactor.rewrite(findings, &fingerprints, &mut redo);
                    Some(&redo)
                }
                (Some(end), false) => {
                    state = end.clone();
                    state_engine = Arc::clone(&done.engine);
                    stats.secrets += done.secrets;
                    if let Some(tap) = tap {
                        tap.exposure.record(tap.source, &mut done.observations);
                    }
                    done.rewrite.as_ref()
                }
                (None, _) => done.rewrite.as_ref(),
            };
            let written = match rewrite {
                Some(rewrite) => rewrite.write_to(&done.input, 0..done.input.len(), &mut writer)?,
                None => {
                    writer.write_all(&done.input)?;
                    done.input.len()
                }
            };
            stats.bytes_out += written as u64;
            pool.give(done.input);
            // The block is out of memory's way: let the reader take another.
            let _ = permits.try_recv();
        }
        writer.flush()?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::BufferPool;

    #[test]
    fn the_buffer_pool_reuses_up_to_its_cap_and_drops_outsized_buffers() {
        let pool = BufferPool::new(2, 1024);
        let mut a = pool.take();
        a.extend_from_slice(b"block");
        let a_ptr = a.as_ptr();
        pool.give(a);
        let again = pool.take();
        assert!(again.is_empty(), "a reused buffer comes back empty");
        assert_eq!(again.as_ptr(), a_ptr, "the same allocation is reused");
        // Outsized: freed, not kept.
        pool.give(Vec::with_capacity(4096));
        assert_eq!(pool.free.lock().unwrap().len(), 0);
        // Full: the third is freed.
        for _ in 0..3 {
            pool.give(Vec::with_capacity(16));
        }
        assert_eq!(pool.free.lock().unwrap().len(), 2);
    }
}
