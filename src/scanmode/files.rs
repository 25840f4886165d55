//! The `scan` command over files: directory walks, gzip, progress, worker threads, and the
//! report lines in input order.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Format, Scanner, StreamError};
use crate::pipe::PipeConfig;
use crate::redact::Redactor;

/// The name standard input goes by in reports.
pub const STDIN_NAME: &str = "-";

/// Inputs smaller than this in total get no progress bar: they are done before it would help.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// How [`run`] scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Read and window sizes, as for redaction.
    pub pipe: PipeConfig,
    /// How hits are written.
    pub format: Format,
    /// Whether directory walks skip what `.gitignore`, `.ignore` and `.git/info/exclude` files
    /// in the walked tree exclude. Paths named explicitly are always scanned.
    pub ignore_files: bool,
    /// Whether directory walks follow symbolic links; a link loop is then reported as a walk
    /// error, not followed round. Links named explicitly are always followed.
    pub follow_links: bool,
    /// Scanning threads, each taking whole files (0 counts as 1). The report is the same
    /// whatever the number.
    pub threads: usize,
    /// Whether a progress bar may be drawn on stderr (only when it is a terminal and the files
    /// add up to at least 64 MiB).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pipe: PipeConfig::default(),
            format: Format::Text,
            ignore_files: true,
            follow_links: false,
            threads: 1,
            progress: true,
        }
    }
}

/// What a [`run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Inputs opened (files, or standard input).
    pub inputs: u64,
    /// Bytes of the inputs read to their end (after decompression).
    pub bytes: u64,
    /// Credentials found.
    pub findings: u64,
    /// Paths that could not be walked, opened, read or decompressed.
    pub errors: u64,
    /// The reader of the report went away (a broken pipe): the scan stopped at the first hit
    /// it could not write.
    pub output_closed: bool,
}

impl Summary {
    /// The command's exit status: 2 if any path failed, else 1 if anything was found, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 {
            2
        } else if self.findings > 0 {
            1
        } else {
            0
        }
    }
}

/// A path that could not be scanned. Its message names the path and the cause, never content.
#[derive(Debug)]
pub enum FileError {
    /// A file could not be opened, read or decompressed.
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// A directory walk failed somewhere below `root` (an unreadable directory, a bad ignore
    /// file); the error names the place.
    Walk {
        /// The directory being walked.
        root: PathBuf,
        /// The cause.
        error: ignore::Error,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            FileError::Walk { root, error } => write!(f, "while walking {}: {error}", root.display()),
        }
    }
}

impl std::error::Error for FileError {}

/// Scans `paths` (standard input when empty) and writes a line per hit to `out`, in input
/// order. Directories are walked depth first, entries sorted by name, hidden files included and
/// `.git` directories skipped; symbolic links inside them are followed only with
/// [`Options::follow_links`]. gzip input (magic bytes `1f 8b`, or a `.gz` name) is
/// decompressed. A path that fails is passed to `on_error`
/// and counted, and the scan goes on with the next one.
///
/// Files are scanned on [`Options::threads`] threads, each taking whole files, and reported on
/// the calling thread in the order of a one-thread run: files in walk order, hits in file
/// order, each file's errors after its hits.
///
/// Returns an error only when writing to `out` fails; a broken pipe is not an error but ends
/// the scan early ([`Summary::output_closed`]).
pub fn run<W: Write>(
    redactor: &Redactor,
    paths: &[PathBuf],
    options: &Options,
    out: W,
    mut on_error: impl FnMut(&FileError),
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut inputs = Vec::new();
    for root in paths {
        collect(root, options, &mut inputs, &mut |e| {
            summary.errors += 1;
            on_error(&e);
        });
    }
    let progress = if options.progress && !paths.is_empty() && io::stderr().is_terminal() {
        Progress::start(
            inputs
                .iter()
                .filter_map(|p| fs::metadata(p).ok())
                .map(|m| m.len())
                .sum(),
        )
    } else {
        Progress::none()
    };
    // `None` is standard input.
    let sources: Vec<Option<PathBuf>> = if paths.is_empty() {
        vec![None]
    } else {
        inputs.into_iter().map(Some).collect()
    };
    let threads = options.threads.clamp(1, sources.len().max(1));
    let shared = Shared {
        redactor,
        options,
        sources: &sources,
        next: AtomicUsize::new(0),
        turnstile: Turnstile::new(HELD_PER_THREAD * threads),
        ahead: AHEAD_PER_THREAD * threads,
        progress: &progress,
    };
    let (reports, received) = mpsc::sync_channel(threads);
    let mut printer = Printer {
        out: io::BufWriter::with_capacity(64 * 1024, out),
        turnstile: &shared.turnstile,
        progress: &progress,
        summary: &mut summary,
        on_error: &mut on_error,
        unflushed: false,
    };
    let printed = thread::scope(|scope| {
        // However printing ends (done, a write error, a panic), waiting workers are let go, so
        // that the scope can join them.
        let _release = StopOnDrop(&shared.turnstile);
        for _ in 0..threads {
            let reports = reports.clone();
            let shared = &shared;
            scope.spawn(move || shared.work(reports));
        }
        drop(reports);
        printer.print(received)
    });
    progress.finish();
    let flushed = printed.and_then(|()| printer.out.flush());
    match flushed {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => summary.output_closed = true,
        other => other?,
    }
    Ok(summary)
}

// Memory. A file's report lines wait in memory while earlier files are still being scanned,
// within two budgets, so that a slow or dense file cannot make the others buffer without
// bound:
//
// - Bytes: a worker hands its file's lines over in chunks of about `CHUNK`. While its file is
//   the one being printed, they go straight out. Otherwise they are admitted only while all
//   such waiting chunks together take at most `HELD_PER_THREAD * threads` bytes of allocation
//   (4 MiB per thread); past that, the worker waits until its file's turn, or until printing
//   frees room.
// - Files: a worker starts file k only when k < head + `AHEAD_PER_THREAD * threads`, head
//   being the file being printed. This bounds the finished files waiting to be printed, clean
//   ones included.
//
// On top come each worker's chunk in progress (at most `CHUNK` plus one line, in a `Vec` of
// at most twice that) and the channel's `threads` messages. So a scan holds about 4.3 MiB of
// report per thread at most, whatever the sizes of the files. The cost: when a file is so slow
// that the others fill the budgets, they wait for it, and the scan runs on one thread until it
// is done.

/// Report bytes a worker gathers before handing them over.
const CHUNK: usize = 64 << 10;

/// Bytes of report, per thread, that may wait for earlier files to be printed.
const HELD_PER_THREAD: usize = 4 << 20;

/// Files past the one being printed that the workers may have started, per thread.
const AHEAD_PER_THREAD: usize = 64;

/// Report lines of one file, in order.
struct Chunk {
    lines: Vec<u8>,
    /// The hits in `lines`.
    hits: u64,
    /// Bytes counted against the budget of waiting lines (0 when they were handed over while
    /// their file was the one being printed).
    held: usize,
}

/// What a worker sends the printer.
enum Report {
    /// Lines of `file`; more follow.
    Lines { file: usize, chunk: Chunk },
    /// `file` is done: its last lines, and how it ended.
    Done {
        file: usize,
        chunk: Chunk,
        outcome: Outcome,
    },
}

/// How the scan of one file ended.
struct Outcome {
    /// Whether the file was opened.
    opened: bool,
    /// Bytes read to the end (after decompression); 0 when it failed.
    bytes: u64,
    error: Option<FileError>,
}

/// A worker gave up its file because the run stopped.
struct Stopped;

/// What the workers share.
struct Shared<'a> {
    redactor: &'a Redactor,
    options: &'a Options,
    sources: &'a [Option<PathBuf>],
    /// The next file to take; files are taken in input order.
    next: AtomicUsize,
    turnstile: Turnstile,
    /// A worker starts file k only when k < head + ahead.
    ahead: usize,
    progress: &'a Progress,
}

impl Shared<'_> {
    /// One worker: takes the next file until there is none or the run stops.
    fn work(&self, reports: SyncSender<Report>) {
        // A panicking worker would leave its file unfinished and the others waiting on it.
        let _release = StopOnPanic(&self.turnstile);
        let mut scanner = Scanner::new(self.redactor, self.options.pipe);
        let mut word = Vec::new();
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(source) = self.sources.get(k) else { return };
            if self.turnstile.wait_to_start(k, self.ahead).is_none() {
                return;
            }
            let Ok(done) = self.scan_file(k, source.as_deref(), &mut scanner, &mut word, &reports) else {
                return;
            };
            if reports.send(done).is_err() {
                return;
            }
        }
    }

    /// Scans file `k`, handing its report lines to the printer in chunks on the way; returns
    /// the last lines and the outcome.
    fn scan_file(
        &self,
        k: usize,
        source: Option<&Path>,
        scanner: &mut Scanner<'_>,
        word: &mut Vec<u8>,
        reports: &SyncSender<Report>,
    ) -> Result<Report, Stopped> {
        let name = source.map_or(STDIN_NAME.into(), Path::to_string_lossy);
        self.progress.set_message(&name);
        let failed = |opened, error| Outcome {
            opened,
            bytes: 0,
            error: Some(FileError::Read {
                path: source.map_or_else(|| PathBuf::from(STDIN_NAME), Path::to_path_buf),
                error,
            }),
        };
        let opened = match source {
            None => open_sniffed(io::stdin().lock(), false),
            Some(path) => File::open(path).and_then(|file| {
                let gz_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
                open_sniffed(self.progress.counted(file), gz_name)
            }),
        };
        let reader = match opened {
            Ok(reader) => reader,
            Err(error) => {
                return Ok(Report::Done {
                    file: k,
                    chunk: Chunk {
                        lines: Vec::new(),
                        hits: 0,
                        held: 0,
                    },
                    outcome: failed(false, error),
                });
            }
        };
        let (mut lines, mut hits) = (Vec::new(), 0);
        let scanned = scanner.scan(reader, |hit| {
            self.options
                .format
                .write_hit(&mut lines, &name, hit, word)
                .expect("writing to a Vec cannot fail");
            hits += 1;
            if lines.len() >= CHUNK {
                let chunk = self.admit(k, std::mem::take(&mut lines), std::mem::take(&mut hits))?;
                reports.send(Report::Lines { file: k, chunk }).map_err(|_| Stopped)?;
            }
            Ok(())
        });
        let outcome = match scanned {
            Ok(bytes) => Outcome {
                opened: true,
                bytes,
                error: None,
            },
            Err(StreamError::Read(error)) => failed(true, error),
            Err(StreamError::Visit(Stopped)) => return Err(Stopped),
        };
        Ok(Report::Done {
            file: k,
            chunk: self.admit(k, lines, hits)?,
            outcome,
        })
    }

    /// `lines` of file `k` as a chunk the printer may take: waits for room in the budget of
    /// waiting lines unless `k` is the file being printed.
    fn admit(&self, k: usize, lines: Vec<u8>, hits: u64) -> Result<Chunk, Stopped> {
        let held = if lines.is_empty() {
            0
        } else {
            self.turnstile.admit(k, lines.capacity()).ok_or(Stopped)?
        };
        Ok(Chunk { lines, hits, held })
    }
}

/// The calling thread's side: writes the workers' reports in input order.
struct Printer<'a, W: Write, E: FnMut(&FileError)> {
    out: io::BufWriter<W>,
    turnstile: &'a Turnstile,
    progress: &'a Progress,
    summary: &'a mut Summary,
    on_error: &'a mut E,
    /// Lines were written since the last flush.
    unflushed: bool,
}

impl<W: Write, E: FnMut(&FileError)> Printer<'_, W, E> {
    /// Prints reports until every worker has hung up, or the first write error. Lines of the
    /// file being printed go straight out; those of later files wait for their turn.
    fn print(&mut self, received: Receiver<Report>) -> io::Result<()> {
        // Lines and outcomes of files after the head, by number.
        let mut waiting: BTreeMap<usize, (Vec<Chunk>, Option<Outcome>)> = BTreeMap::new();
        let mut head = 0;
        for report in received {
            let (file, chunk, outcome) = match report {
                Report::Lines { file, chunk } => (file, chunk, None),
                Report::Done { file, chunk, outcome } => (file, chunk, Some(outcome)),
            };
            if file != head {
                let (chunks, done) = waiting.entry(file).or_default();
                chunks.push(chunk);
                *done = outcome;
                continue;
            }
            self.write(chunk)?;
            let Some(mut outcome) = outcome else { continue };
            loop {
                self.finish(outcome)?;
                head += 1;
                self.turnstile.advance(head);
                // The next file may have lines waiting, and may be done already. Its lines
                // still to come arrive after these, so they are written in order.
                let Some((chunks, done)) = waiting.remove(&head) else {
                    break;
                };
                for chunk in chunks {
                    self.write(chunk)?;
                }
                match done {
                    Some(done) => outcome = done,
                    None => break,
                }
            }
        }
        Ok(())
    }

    fn write(&mut self, chunk: Chunk) -> io::Result<()> {
        self.summary.findings += chunk.hits;
        if self.progress.visible() {
            let out = &mut self.out;
            self.progress.suspend(|| {
                out.write_all(&chunk.lines)?;
                out.flush()
            })?;
        } else {
            self.out.write_all(&chunk.lines)?;
            self.unflushed |= !chunk.lines.is_empty();
        }
        if chunk.held > 0 {
            self.turnstile.release(chunk.held);
        }
        Ok(())
    }

    /// Counts a file whose lines are all written, and reports its error.
    fn finish(&mut self, outcome: Outcome) -> io::Result<()> {
        let summary = &mut *self.summary;
        summary.inputs += u64::from(outcome.opened);
        summary.bytes += outcome.bytes;
        // Each file's report goes out when the file is done.
        if std::mem::take(&mut self.unflushed) {
            self.out.flush()?;
        }
        if let Some(error) = outcome.error {
            summary.errors += 1;
            let on_error = &mut *self.on_error;
            self.progress.suspend(|| on_error(&error));
        }
        Ok(())
    }
}

/// How far the printer has got, for the workers to wait on.
struct Turnstile {
    turn: Mutex<Turn>,
    moved: Condvar,
    /// The most bytes of lines that may wait for their file's turn.
    budget: usize,
}

struct Turn {
    /// The file being printed: every file before it is printed.
    head: usize,
    /// Bytes of lines admitted while their file was not the one being printed, and not yet
    /// written. At most the budget.
    held: usize,
    /// The run is over (done, or stopped early): nobody waits any more.
    stopped: bool,
}

impl Turnstile {
    fn new(budget: usize) -> Self {
        Turnstile {
            turn: Mutex::new(Turn {
                head: 0,
                held: 0,
                stopped: false,
            }),
            moved: Condvar::new(),
            budget,
        }
    }

    /// Blocks until `ready` gives a value; None if the run stopped first.
    fn wait<T>(&self, mut ready: impl FnMut(&mut Turn) -> Option<T>) -> Option<T> {
        let mut turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if turn.stopped {
                return None;
            }
            if let Some(value) = ready(&mut turn) {
                return Some(value);
            }
            turn = self.moved.wait(turn).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Blocks until file `k` may be started.
    fn wait_to_start(&self, k: usize, ahead: usize) -> Option<()> {
        self.wait(|turn| (k < turn.head + ahead).then_some(()))
    }

    /// Blocks until `bytes` of lines of file `k` may go to the printer: at once when `k` is
    /// the file being printed (returns 0), else when they fit in the budget (returns `bytes`,
    /// now held).
    fn admit(&self, k: usize, bytes: usize) -> Option<usize> {
        self.wait(|turn| {
            if turn.head == k {
                Some(0)
            } else if turn.held + bytes <= self.budget {
                turn.held += bytes;
                Some(bytes)
            } else {
                None
            }
        })
    }

    /// `bytes` of held lines were written.
    fn release(&self, bytes: usize) {
        self.turn.lock().unwrap_or_else(PoisonError::into_inner).held -= bytes;
        self.moved.notify_all();
    }

    fn advance(&self, head: usize) {
        self.turn.lock().unwrap_or_else(PoisonError::into_inner).head = head;
        self.moved.notify_all();
    }

    fn stop(&self) {
        self.turn.lock().unwrap_or_else(PoisonError::into_inner).stopped = true;
        self.moved.notify_all();
    }
}

/// Stops the turnstile when dropped.
struct StopOnDrop<'a>(&'a Turnstile);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Stops the turnstile when dropped by a panic.
struct StopOnPanic<'a>(&'a Turnstile);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.stop();
        }
    }
}

/// Appends the files to scan under `root` to `inputs`: `root` itself unless it is a directory,
/// else the regular files of its walk.
fn collect(root: &Path, options: &Options, inputs: &mut Vec<PathBuf>, on_error: &mut dyn FnMut(FileError)) {
    match fs::metadata(root) {
        Err(error) => on_error(FileError::Read {
            path: root.to_path_buf(),
            error,
        }),
        Ok(meta) if !meta.is_dir() => inputs.push(root.to_path_buf()),
        Ok(_) => {
            let walk = ignore::WalkBuilder::new(root)
                // Support bundles keep dotfiles; `.git` holds objects, not logs.
                .hidden(false)
                .filter_entry(|e| !(e.file_name() == ".git" && e.file_type().is_some_and(|t| t.is_dir())))
                // Only the ignore files inside the walked tree, git repository or not, so that
                // the result depends on the tree alone (not on a parent's `*.log` rule or the
                // user's global excludes).
                .parents(false)
                .require_git(false)
                .git_global(false)
                .ignore(options.ignore_files)
                .git_ignore(options.ignore_files)
                .git_exclude(options.ignore_files)
                // When following, the walker checks each directory link against its ancestors
                // and yields a loop as an error instead of descending.
                .follow_links(options.follow_links)
                .sort_by_file_name(|a, b| a.cmp(b))
                .build();
            for entry in walk {
                match entry {
                    Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => inputs.push(entry.into_path()),
                    Ok(_) => {}
                    Err(error) => on_error(FileError::Walk {
                        root: root.to_path_buf(),
                        error,
                    }),
                }
            }
        }
    }
}

/// `reader`, decompressed when it starts with the gzip magic bytes (or, for a `.gz` name, when
/// it is not empty: a `.gz` file that is not gzip is an error, not plain text).
fn open_sniffed<'a, R: Read + 'a>(mut reader: R, gz_name: bool) -> io::Result<Box<dyn Read + 'a>> {
    // A pipe may deliver one byte at a time: read until two bytes or the end.
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let joined = io::Cursor::new(head).take(n as u64).chain(reader);
    Ok(if (n == 2 && head == [0x1f, 0x8b]) || (gz_name && n > 0) {
        Box::new(flate2::read::MultiGzDecoder::new(joined))
    } else {
        Box::new(joined)
    })
}

/// A progress bar on stderr, or nothing.
struct Progress(Option<ProgressBar>);

impl Progress {
    fn none() -> Self {
        Progress(None)
    }

    /// A bar over `total` bytes of files, if that is worth one.
    fn start(total: u64) -> Self {
        if total < PROGRESS_MIN_BYTES {
            return Progress::none();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("[{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta} {wide_msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress(Some(bar))
    }

    fn visible(&self) -> bool {
        self.0.is_some()
    }

    fn set_message(&self, name: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(name.to_string());
        }
    }

    /// Runs `f` with the bar cleared, so that other output does not tear it.
    fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.0 {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// `reader`, advancing the bar by the bytes read (before decompression).
    fn counted<R: Read>(&self, reader: R) -> Counted<R> {
        Counted {
            inner: reader,
            bar: self.0.clone(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

struct Counted<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}
