//! The `scan` command over files: directory walks, gzip, progress, and the report lines.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

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
/// `.git` directories skipped; symbolic links inside them are not followed. gzip input (magic
/// bytes `1f 8b`, or a `.gz` name) is decompressed. A path that fails is passed to `on_error`
/// and counted, and the scan goes on with the next one.
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
        collect(root, options.ignore_files, &mut inputs, &mut |e| {
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
    let mut scanner = Scanner::new(redactor, options.pipe);
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let mut word = Vec::new();
    // `None` is standard input.
    let sources: Vec<Option<PathBuf>> = if paths.is_empty() {
        vec![None]
    } else {
        inputs.into_iter().map(Some).collect()
    };
    for source in &sources {
        let name = source.as_deref().map_or(STDIN_NAME.into(), Path::to_string_lossy);
        progress.set_message(&name);
        let opened = match source {
            None => open_sniffed(io::stdin().lock(), false),
            Some(path) => File::open(path).and_then(|file| {
                let gz_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
                open_sniffed(progress.counted(file), gz_name)
            }),
        };
        let path = || source.clone().unwrap_or_else(|| PathBuf::from(STDIN_NAME));
        let reader = match opened {
            Ok(reader) => reader,
            Err(error) => {
                summary.errors += 1;
                progress.suspend(|| on_error(&FileError::Read { path: path(), error }));
                continue;
            }
        };
        summary.inputs += 1;
        let found_before = summary.findings;
        let scanned = scanner.scan(reader, |hit| {
            summary.findings += 1;
            if progress.visible() {
                progress.suspend(|| {
                    options.format.write_hit(&mut out, &name, hit, &mut word)?;
                    out.flush()
                })
            } else {
                options.format.write_hit(&mut out, &name, hit, &mut word)
            }
        });
        let written = match scanned {
            Ok(bytes) => {
                summary.bytes += bytes;
                Ok(())
            }
            Err(StreamError::Read(error)) => {
                summary.errors += 1;
                progress.suspend(|| on_error(&FileError::Read { path: path(), error }));
                Ok(())
            }
            Err(StreamError::Visit(e)) => Err(e),
        };
        // Each file's report goes out when the file is done.
        let written = written.and_then(|()| {
            if summary.findings > found_before {
                out.flush()
            } else {
                Ok(())
            }
        });
        match written {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                summary.output_closed = true;
                break;
            }
            other => other?,
        }
    }
    progress.finish();
    match out.flush() {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => summary.output_closed = true,
        other => other?,
    }
    Ok(summary)
}

/// Appends the files to scan under `root` to `inputs`: `root` itself unless it is a directory,
/// else the regular files of its walk.
fn collect(root: &Path, ignore_files: bool, inputs: &mut Vec<PathBuf>, on_error: &mut dyn FnMut(FileError)) {
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
                .ignore(ignore_files)
                .git_ignore(ignore_files)
                .git_exclude(ignore_files)
                .follow_links(false)
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
