//! The `scan` command over files: directory walks, gzip, progress, and the report lines.

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
        turnstile: Turnstile::new(),
        ahead: AHEAD_PER_THREAD * threads,
        progress: &progress,
    };
    let (reports, received) = mpsc::sync_channel(threads);
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
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
        print(
            received,
            &shared.turnstile,
            &mut out,
            &progress,
            &mut summary,
            &mut on_error,
        )
    });
    progress.finish();
    let flushed = printed.and_then(|()| out.flush());
    match flushed {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => summary.output_closed = true,
        other => other?,
    }
    Ok(summary)
}

/// The most report bytes a worker holds for its file before it must hand them to the printer,
/// which takes them only while that file is the one being printed.
const CHUNK: usize = 64 << 10;

/// How many files past the one being printed the workers may have started, per thread.
///
/// This bounds memory when one file is slow or dense (a huge file first, say): at most
/// `AHEAD_PER_THREAD * threads` files are started but not printed, each holding at most
/// [`CHUNK`] bytes plus one line of report, and the channel holds at most `threads` more
/// chunks. That is about 1 MiB of report per thread (16 × 64 KiB; up to twice that allocated,
/// as a `Vec` grows by doubling), the size of a scanner's own window, whatever the sizes of the
/// files. The cost: once the workers are that far ahead they wait for the slow file, and the
/// scan runs on one thread until it is done.
const AHEAD_PER_THREAD: usize = 16;

/// What a worker sends the printer.
enum Report {
    /// Report lines of `file`, which is the file being printed; more follow.
    Lines { file: usize, lines: Vec<u8>, hits: u64 },
    /// `file` is done: its last report lines and how it ended.
    Done {
        file: usize,
        lines: Vec<u8>,
        hits: u64,
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
    /// A worker starts file k only when k < head + ahead (see [`AHEAD_PER_THREAD`]).
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
            if !self.turnstile.wait_for(|head| k < head + self.ahead) {
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

    /// Scans file `k`, handing its report lines to the printer in chunks when it is the file
    /// being printed; returns the last lines and the outcome.
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
        let (mut lines, mut hits) = (Vec::new(), 0);
        let reader = match opened {
            Ok(reader) => reader,
            Err(error) => {
                return Ok(Report::Done {
                    file: k,
                    lines,
                    hits,
                    outcome: failed(false, error),
                });
            }
        };
        let scanned = scanner.scan(reader, |hit| {
            self.options
                .format
                .write_hit(&mut lines, &name, hit, word)
                .expect("writing to a Vec cannot fail");
            hits += 1;
            if lines.len() >= CHUNK {
                if !self.turnstile.wait_for(|head| head == k) {
                    return Err(Stopped);
                }
                let chunk = Report::Lines {
                    file: k,
                    lines: std::mem::take(&mut lines),
                    hits: std::mem::take(&mut hits),
                };
                reports.send(chunk).map_err(|_| Stopped)?;
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
            lines,
            hits,
            outcome,
        })
    }
}

/// Writes the workers' reports to `out` in input order, counting them in `summary`, and moves
/// the turnstile on as each file is printed. Returns when every worker has hung up, or at the
/// first write error.
fn print<W: Write>(
    received: Receiver<Report>,
    turnstile: &Turnstile,
    out: &mut W,
    progress: &Progress,
    summary: &mut Summary,
    on_error: &mut impl FnMut(&FileError),
) -> io::Result<()> {
    let mut write = |bytes: &[u8], end_of_file: bool| -> io::Result<()> {
        if progress.visible() {
            progress.suspend(|| {
                out.write_all(bytes)?;
                out.flush()
            })
        } else {
            out.write_all(bytes)?;
            // Each file's report goes out when the file is done.
            if end_of_file && !bytes.is_empty() {
                out.flush()?;
            }
            Ok(())
        }
    };
    // Files done but not yet printed, by number; at most `ahead` of them.
    let mut finished = BTreeMap::new();
    let mut head = 0;
    for report in received {
        match report {
            Report::Lines { file, lines, hits } => {
                debug_assert_eq!(file, head, "only the file being printed sends lines early");
                summary.findings += hits;
                write(&lines, false)?;
            }
            Report::Done {
                file,
                lines,
                hits,
                outcome,
            } => {
                finished.insert(file, (lines, hits, outcome));
                while let Some((lines, hits, outcome)) = finished.remove(&head) {
                    summary.findings += hits;
                    summary.inputs += u64::from(outcome.opened);
                    summary.bytes += outcome.bytes;
                    write(&lines, true)?;
                    if let Some(error) = outcome.error {
                        summary.errors += 1;
                        progress.suspend(|| on_error(&error));
                    }
                    head += 1;
                    turnstile.advance(head);
                }
            }
        }
    }
    Ok(())
}

/// How far the printer has got, for the workers to wait on.
struct Turnstile {
    turn: Mutex<Turn>,
    moved: Condvar,
}

struct Turn {
    /// The file being printed: every file before it is printed.
    head: usize,
    /// The run is over (done, or stopped early): nobody waits any more.
    stopped: bool,
}

impl Turnstile {
    fn new() -> Self {
        Turnstile {
            turn: Mutex::new(Turn {
                head: 0,
                stopped: false,
            }),
            moved: Condvar::new(),
        }
    }

    /// Blocks until `ready(head)` holds; false if the run stopped first.
    fn wait_for(&self, ready: impl Fn(usize) -> bool) -> bool {
        let mut turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        while !turn.stopped && !ready(turn.head) {
            turn = self.moved.wait(turn).unwrap_or_else(PoisonError::into_inner);
        }
        !turn.stopped
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
