//! The streaming path: bytes in, the same bytes out with every secret replaced.
//!
//! # Buffer policy
//!
//! Input is read in blocks of `read_size` bytes. After each read, every *complete* line in the
//! buffer is scanned and written at once (one `write` per read), so `tail -f app.log |
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
//! # Threads
//!
//! [`run_parallel`] hands blocks of complete lines to worker threads and writes results in
//! input order from a writer thread. At most four blocks per worker are in flight (read but not
//! yet written), so a slow consumer cannot make memory grow. With one thread it is the
//! sequential [`StreamRedactor`].
//!
//! Every byte is scanned before it is written; bytes are never forwarded raw. A read error ends
//! the stream with that error after what was already complete has been written.

use std::io::{self, ErrorKind, Read, Write};
use std::ops::Range;

use memchr::memrchr;

use crate::exposure::{Exposure, Observation, SourceId};
use crate::redact::{Redactor, Scratch};
use crate::scan::{Finding, ScanState};

/// Bytes of already-written input kept before the next unscanned byte, so that look-behind
/// assertions (`\b`) at a cut see the real preceding byte.
const CONTEXT: usize = 16;

/// Sizes for the streaming path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeConfig {
    /// Bytes asked of each `read`.
    pub read_size: usize,
    /// Longest partial line held before it is scanned in windows. Raised to at least twice the
    /// rule set's overlap.
    pub window: usize,
}

impl Default for PipeConfig {
    fn default() -> Self {
        PipeConfig {
            read_size: 256 * 1024,
            window: 1024 * 1024,
        }
    }
}

impl PipeConfig {
    /// The sizes in effect for `redactor`: at least one byte per read, and a window of at least
    /// twice the rule set's overlap, so that every window commits something.
    fn effective(self, redactor: &Redactor) -> PipeConfig {
        PipeConfig {
            read_size: self.read_size.max(1),
            window: self.window.max(2 * redactor.rules().overlap() + 1),
        }
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

impl Tap<'_> {
    /// Fingerprints `findings` of `hay` into `fps`, merges them into the aggregator, and
    /// returns nothing secret. One lock per call with findings; none without.
    fn record(
        &self,
        redactor: &Redactor,
        hay: &[u8],
        findings: &[Finding],
        decode: &mut Vec<u8>,
        fps: &mut Vec<u64>,
        observations: &mut Vec<Observation>,
    ) {
        redactor.fingerprints(hay, findings, decode, fps);
        self.exposure.observe(hay, findings, fps, observations);
        self.exposure.record(self.source, observations);
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

/// A reusable streaming redactor (one per thread).
#[derive(Debug)]
pub struct StreamRedactor<'r> {
    redactor: &'r Redactor,
    config: PipeConfig,
    scratch: Scratch,
    out: Vec<u8>,
    /// Input buffer, allocated once.
    input: LineBuffer,
    tap: Option<Tap<'r>>,
    fingerprints: Vec<u64>,
    observations: Vec<Observation>,
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

/// The streaming path without the output: the same [`LineBuffer`], windows, commit points and
/// multi-line state as [`StreamRedactor`], so the same findings, handed to a visitor with their
/// place in the stream instead of being rewritten. Memory stays bounded by `window + read_size`
/// for any line length. One per thread, reused across inputs.
#[derive(Debug)]
pub(crate) struct RegionScanner<'r> {
    redactor: &'r Redactor,
    config: PipeConfig,
    scratch: Scratch,
    input: LineBuffer,
}

impl<'r> RegionScanner<'r> {
    /// A scanner with the given sizes (raised as for [`StreamRedactor::new`]).
    pub(crate) fn new(redactor: &'r Redactor, config: PipeConfig) -> Self {
        let config = config.effective(redactor);
        RegionScanner {
            redactor,
            config,
            scratch: redactor.scratch(),
            input: LineBuffer::new(config),
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
        let mut input = std::mem::take(&mut self.input);
        input.reset();
        let result = self.run_with(&mut input, &mut reader, &mut visit);
        self.input = input;
        result
    }

    fn run_with<R: Read, E: From<io::Error>>(
        &mut self,
        input: &mut LineBuffer,
        reader: &mut R,
        visit: &mut impl FnMut(Region<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let mut state = ScanState::default();
        // Stream offset of `input.buf[input.start]`: compaction moves bytes, not this.
        let mut settled = 0u64;
        let mut bytes_in = 0u64;
        loop {
            let (n, last_newline) = input.read_from(reader)?;
            if n == 0 {
                break;
            }
            bytes_in += n as u64;
            if let Some(line_end) = last_newline {
                let start = input.start;
                input.start = self.region(&input.buf[..line_end], start, true, settled, &mut state, visit)?;
                settled += (input.start - start) as u64;
            }
            while input.unwritten() >= self.config.window {
                let start = input.start;
                input.start = self.region(&input.buf[..input.filled], start, false, settled, &mut state, visit)?;
                settled += (input.start - start) as u64;
            }
        }
        if input.unwritten() > 0 {
            self.region(
                &input.buf[..input.filled],
                input.start,
                true,
                settled,
                &mut state,
                visit,
            )?;
        }
        Ok(bytes_in)
    }

    /// Scans `hay[start..]` and visits what is final, exactly as `StreamRedactor::process`
    /// commits it. Returns the new `start`.
    fn region<E>(
        &mut self,
        hay: &[u8],
        start: usize,
        complete: bool,
        settled: u64,
        state: &mut ScanState,
        visit: &mut impl FnMut(Region<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let end = hay.len();
        self.redactor.find(hay, start..end, state, &mut self.scratch);
        let (findings, decode) = Redactor::findings_and_buffer(&mut self.scratch);
        let (commit, findings) = if complete {
            (end, findings)
        } else {
            window_commit(findings, end, self.redactor.rules().overlap())
        };
        visit(Region {
            offset: settled - start as u64,
            hay,
            range: start..commit,
            findings,
            decode,
        })?;
        Ok(commit)
    }
}

/// Where a window of an unfinished line (`..end`) is cut, and its final findings: only secrets
/// starting before `end - overlap` are final (a later one may continue past `end`), and the cut
/// never splits one of them. The rule `StreamRedactor::process` applies.
fn window_commit(findings: &[Finding], end: usize, overlap: usize) -> (usize, &[Finding]) {
    let safe = end - overlap;
    let n = findings.iter().take_while(|f| f.start < safe).count();
    let commit = findings[..n].last().map_or(safe, |f| f.end.max(safe));
    (commit, &findings[..n])
}

impl<'r> StreamRedactor<'r> {
    /// A stream redactor with the given sizes.
    pub fn new(redactor: &'r Redactor, config: PipeConfig) -> Self {
        let config = config.effective(redactor);
        StreamRedactor {
            redactor,
            config,
            scratch: redactor.scratch(),
            out: Vec::new(),
            input: LineBuffer::new(config),
            tap: None,
            fingerprints: Vec::new(),
            observations: Vec::new(),
        }
    }

    /// Reports findings and record counts to `tap`.
    pub fn with_tap(mut self, tap: Option<Tap<'r>>) -> Self {
        self.tap = tap;
        self
    }

    /// The sizes in effect (after raising `window` to the rule set's minimum).
    pub fn config(&self) -> PipeConfig {
        self.config
    }

    /// Copies `reader` to `writer`, redacting. Multi-line state starts fresh for each call.
    pub fn run<R: Read, W: Write>(&mut self, mut reader: R, mut writer: W) -> io::Result<PipeStats> {
        let mut input = std::mem::take(&mut self.input);
        input.reset();
        let result = self.run_with(&mut input, &mut reader, &mut writer);
        self.input = input;
        result
    }

    fn run_with<R: Read, W: Write>(
        &mut self,
        input: &mut LineBuffer,
        reader: &mut R,
        writer: &mut W,
    ) -> io::Result<PipeStats> {
        let mut state = ScanState::default();
        let mut stats = PipeStats::default();
        let mut records = RecordCounter::default();
        loop {
            let (n, last_newline) = input.read_from(reader)?;
            if n == 0 {
                break;
            }
            stats.bytes_in += n as u64;
            records.count(self.tap, &input.buf[input.filled - n..input.filled]);
            if let Some(line_end) = last_newline {
                input.start = self.process(
                    &input.buf[..line_end],
                    input.start,
                    true,
                    &mut state,
                    writer,
                    &mut stats,
                )?;
            }
            while input.unwritten() >= self.config.window {
                input.start = self.process(
                    &input.buf[..input.filled],
                    input.start,
                    false,
                    &mut state,
                    writer,
                    &mut stats,
                )?;
            }
        }
        if input.unwritten() > 0 {
            self.process(
                &input.buf[..input.filled],
                input.start,
                true,
                &mut state,
                writer,
                &mut stats,
            )?;
        }
        records.finish(self.tap);
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
        self.redactor.find(hay, start..end, state, &mut self.scratch);
        let (findings, decode) = Redactor::findings_and_buffer(&mut self.scratch);
        let (commit, findings) = if complete {
            (end, findings)
        } else {
            let safe = end - self.redactor.rules().overlap();
            let n = findings.iter().take_while(|f| f.start < safe).count();
            let commit = findings[..n].last().map_or(safe, |f| f.end.max(safe));
            (commit, &findings[..n])
        };
        if findings.is_empty() {
            writer.write_all(&hay[start..commit])?;
        } else {
            self.out.clear();
            if let Some(tap) = self.tap {
                // Counted before written, so that an interrupted run's report covers every
                // finding that reached the output.
                tap.record(
                    self.redactor,
                    hay,
                    findings,
                    decode,
                    &mut self.fingerprints,
                    &mut self.observations,
                );
                self.redactor
                    .write_fingerprinted(hay, start..commit, findings, &self.fingerprints, &mut self.out);
            } else {
                self.redactor
                    .write_redacted(hay, start..commit, findings, decode, &mut self.out);
            }
            writer.write_all(&self.out)?;
        }
        writer.flush()?;
        stats.secrets += findings.len() as u64;
        stats.bytes_out += if findings.is_empty() {
            (commit - start) as u64
        } else {
            self.out.len() as u64
        };
        Ok(commit)
    }
}

/// Convenience: redacts `reader` into `writer` with default sizes.
pub fn redact_stream<R: Read, W: Write>(redactor: &Redactor, reader: R, writer: W) -> io::Result<PipeStats> {
    StreamRedactor::new(redactor, PipeConfig::default()).run(reader, writer)
}

/// One block of complete lines, or output the reader already rendered (a window of a long line).
struct Job {
    seq: u64,
    input: Vec<u8>,
    /// False for bytes the reader already rendered: passed through in order, never rescanned.
    scan: bool,
}

/// A worker's result for one block.
struct Done {
    seq: u64,
    /// The block as read (kept for the rare sequential redo, see `run_parallel`).
    input: Vec<u8>,
    /// The redacted block, or `None` when nothing was found (the input is written as is).
    output: Option<Vec<u8>>,
    /// Multi-line state after the block, assuming none was open before it. `None` for output
    /// the reader rendered itself: it neither depends on nor changes the state.
    end_state: Option<ScanState>,
    secrets: u64,
    /// What the block's findings tell the exposure aggregator (merged by the writer, in order).
    observations: Vec<Observation>,
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
    mut reader: R,
    writer: W,
    tap: Option<Tap<'_>>,
) -> io::Result<PipeStats> {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    if threads <= 1 {
        return StreamRedactor::new(redactor, config).with_tap(tap).run(reader, writer);
    }
    let mut stream = StreamRedactor::new(redactor, config).with_tap(tap);
    let window = stream.config.window;
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(2 * threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    // Blocks in flight (read, not yet written) are bounded by permits: the reader takes one per
    // block, the writer gives it back once the block is written. Without this, a slow consumer
    // downstream would let finished blocks pile up in memory.
    let (permit_tx, permit_rx) = mpsc::sync_channel::<()>(4 * threads);

    std::thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut scratch = redactor.scratch();
                let mut fingerprints = Vec::new();
                loop {
                    let job = match job_rx.lock().expect("job queue").recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    if !job.scan {
                        let done = Done {
                            seq: job.seq,
                            input: job.input,
                            output: None,
                            end_state: None,
                            secrets: 0,
                            observations: Vec::new(),
                        };
                        if done_tx.send(done).is_err() {
                            return;
                        }
                        continue;
                    }
                    let mut state = ScanState::default();
                    redactor.find(&job.input, 0..job.input.len(), &mut state, &mut scratch);
                    let (findings, decode) = Redactor::findings_and_buffer(&mut scratch);
                    let mut observations = Vec::new();
                    let output = (!findings.is_empty()).then(|| {
                        let mut out = Vec::with_capacity(job.input.len() + 32 * findings.len());
                        if let Some(tap) = tap {
                            redactor.fingerprints(&job.input, findings, decode, &mut fingerprints);
                            tap.exposure
                                .observe(&job.input, findings, &fingerprints, &mut observations);
                            redactor.write_fingerprinted(
                                &job.input,
                                0..job.input.len(),
                                findings,
                                &fingerprints,
                                &mut out,
                            );
                        } else {
                            redactor.write_redacted(&job.input, 0..job.input.len(), findings, decode, &mut out);
                        }
                        out
                    });
                    let secrets = findings.len() as u64;
                    let done = Done {
                        seq: job.seq,
                        input: job.input,
                        output,
                        end_state: Some(state),
                        secrets,
                        observations,
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

        let writer_thread = scope.spawn(move || write_in_order(redactor, tap, done_rx, permit_rx, writer));

        // Reader: the calling thread.
        let read_result = (|| -> io::Result<u64> {
            // The stream redactor's own buffer: it only renders long-line windows here.
            let mut input = std::mem::take(&mut stream.input);
            input.reset();
            let (mut seq, mut bytes_in) = (0u64, 0u64);
            let mut records = RecordCounter::default();
            let send = |seq: &mut u64, input: Vec<u8>, scan: bool| -> bool {
                let ok = permit_tx.send(()).is_ok() && job_tx.send(Job { seq: *seq, input, scan }).is_ok();
                *seq += 1;
                ok
            };
            loop {
                let (n, last_newline) = input.read_from(&mut reader)?;
                if n == 0 {
                    break;
                }
                bytes_in += n as u64;
                records.count(tap, &input.buf[input.filled - n..input.filled]);
                if let Some(line_end) = last_newline {
                    if !send(&mut seq, input.buf[input.start..line_end].to_vec(), true) {
                        return Ok(bytes_in);
                    }
                    input.start = line_end;
                }
                while input.unwritten() >= window {
                    // A long line: scanned here in windows, in order, like the sequential path.
                    let mut rendered = Vec::new();
                    let mut stats = PipeStats::default();
                    let mut no_state = ScanState::default();
                    input.start = stream.process(
                        &input.buf[..input.filled],
                        input.start,
                        false,
                        &mut no_state,
                        &mut rendered,
                        &mut stats,
                    )?;
                    if !send(&mut seq, rendered, false) {
                        return Ok(bytes_in);
                    }
                }
            }
            if input.unwritten() > 0 {
                send(&mut seq, input.buf[input.start..input.filled].to_vec(), true);
            }
            records.finish(tap);
            Ok(bytes_in)
        })();
        drop(job_tx);
        let written = writer_thread.join().expect("writer thread");
        let bytes_in = read_result?;
        let mut stats = written?;
        stats.bytes_in = bytes_in;
        Ok(stats)
    })
}

/// The writer thread: reorders results and writes them.
fn write_in_order<W: Write>(
    redactor: &Redactor,
    tap: Option<Tap<'_>>,
    done_rx: std::sync::mpsc::Receiver<Done>,
    permits: std::sync::mpsc::Receiver<()>,
    mut writer: W,
) -> io::Result<PipeStats> {
    use std::collections::BTreeMap;
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut state = ScanState::default();
    let mut scratch = redactor.scratch();
    let mut redo = Vec::new();
    let mut stats = PipeStats::default();
    let (mut fingerprints, mut observations) = (Vec::new(), Vec::new());
    for done in done_rx {
        pending.insert(done.seq, done);
        while let Some(mut done) = pending.remove(&next) {
            next += 1;
            let bytes: &[u8] = match (&done.end_state, state.in_block()) {
                (Some(_), true) => {
                    // The worker assumed no open block; redo this one with the real state.
                    redactor.find(&done.input, 0..done.input.len(), &mut state, &mut scratch);
                    let (findings, decode) = Redactor::findings_and_buffer(&mut scratch);
                    stats.secrets += findings.len() as u64;
                    redo.clear();
                    if let Some(tap) = tap {
                        tap.record(
                            redactor,
                            &done.input,
                            findings,
                            decode,
                            &mut fingerprints,
                            &mut observations,
                        );
                    }
                    redactor.write_redacted(&done.input, 0..done.input.len(), findings, decode, &mut redo);
                    &redo
                }
                (Some(end), false) => {
                    state = end.clone();
                    stats.secrets += done.secrets;
                    if let Some(tap) = tap {
                        tap.exposure.record(tap.source, &mut done.observations);
                    }
                    done.output.as_deref().unwrap_or(&done.input)
                }
                (None, _) => done.output.as_deref().unwrap_or(&done.input),
            };
            writer.write_all(bytes)?;
            stats.bytes_out += bytes.len() as u64;
            // The block is out of memory's way: let the reader take another.
            let _ = permits.try_recv();
        }
        writer.flush()?;
    }
    Ok(stats)
}
