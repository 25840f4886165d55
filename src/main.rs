//! The `tokenscrub` command: parse flags, resolve configuration, run. All logic lives in the
//! library; this file only wires it to the shell.

use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::collections::HashSet;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tokenscrub::check::check_rules;
use tokenscrub::config::{self, Built, ConfigError, ConfigFile, ExposureSettings, OversizePolicy, Settings};
use tokenscrub::exposure::{self, Exposure};
use tokenscrub::keysource::KeyOrigin;
use tokenscrub::pipe::{PipeConfig, SharedRedactor, Tap, run_shared};
use tokenscrub::rules::{self, RuleSource, Selection};
use tokenscrub::scanmode;
use tokenscrub::{Redactor, RedactorBuilder};

/// Replace credentials in logs with stable keyed fingerprints; forward everything else
/// byte-for-byte.
///
/// Settings come from the defaults shown here, then the config file (--config, else
/// $TOKENSCRUB_CONFIG, ~/.config/tokenscrub/config.toml or /etc/tokenscrub/config.toml), then
/// these flags. SIGHUP reloads the config file's rules, keys, allowlists and replacement.
#[derive(Debug, Parser)]
#[command(name = "tokenscrub", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Input files, read in order (default: standard input).
    files: Vec<PathBuf>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// Read the fingerprint key from FILE (at least 32 bytes; a trailing newline is ignored)
    /// [default: $TOKENSCRUB_KEY, else a key kept in the state directory].
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Show ID in every replacement (`REDACTED:<kind>:<hex>:<ID>`), to tell keys apart after a
    /// rotation [default: none].
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// The replacement: must show {kind} and {fingerprint}; may show {key_id}.
    #[arg(long, value_name = "TEMPLATE", default_value = tokenscrub::replacement::DEFAULT_TEMPLATE)]
    replacement: String,
    /// Bytes asked of each read.
    #[arg(long, value_name = "BYTES", default_value_t = PipeConfig::default().read_size, hide = true)]
    read_size: usize,
    /// Worker threads; 0 = the available cores (1 scans on the reading thread).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Longest partial line held in memory before it is scanned in overlapping windows.
    #[arg(long, value_name = "BYTES", default_value_t = PipeConfig::default().window)]
    max_window: usize,
    /// Lines longer than this meet --on-oversize (0: lines scanned in windows do).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    max_line: usize,
    /// What happens to an oversize line: scanned in windows and forwarded redacted, or
    /// replaced by a marker line. Counted either way.
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = OversizePolicy::Scan)]
    on_oversize: OversizePolicy,
    /// Turn off the key-aware pass over JSON and key=value records (rules still run).
    #[arg(long)]
    no_structured: bool,
    #[command(flatten)]
    exposure: ExposureArgs,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Read settings from FILE [default: $TOKENSCRUB_CONFIG, else the first of
    /// ~/.config/tokenscrub/config.toml and /etc/tokenscrub/config.toml that exists].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Use no config file, not even a default one.
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
}

/// Exposure outputs: what leaked, for the security team. None is on by default; with none, the
/// record path does no exposure work at all.
#[derive(Debug, Args)]
struct ExposureArgs {
    /// Print a table of findings by kind on stderr at the end of the run.
    #[arg(long)]
    summary: bool,
    /// Write the JSON exposure inventory to FILE at the end of the run (also on SIGINT/SIGTERM)
    /// [default: none].
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Serve Prometheus metrics on http://ADDR/metrics while running (e.g. 127.0.0.1:9464)
    /// [default: none].
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Push the metrics over OTLP/HTTP (protobuf) to URL, e.g. http://127.0.0.1:4318/v1/metrics
    /// [default: none].
    #[arg(long, value_name = "URL")]
    otlp_metrics: Option<String>,
    /// Seconds between OTLP pushes (a last push happens at the end of the run).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    otlp_interval: f64,
    /// Source name for metrics and the report [default: each input file's path, or `stdin`].
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
    /// Distinct credentials kept in the exposure inventory; later ones are counted, not listed.
    #[arg(long, value_name = "N", default_value_t = exposure::Limits::default().max_credentials)]
    max_credentials: usize,
}

impl ConfigArgs {
    /// The config file in use: named, or the default one if it exists, or none.
    fn path(&self) -> Option<PathBuf> {
        if self.no_config {
            return None;
        }
        self.config.clone().or_else(config::default_path)
    }

    /// Loads the file in use, if any.
    fn load(&self) -> Result<Option<ConfigFile>, ConfigError> {
        self.path().map(|p| ConfigFile::load(&p)).transpose()
    }
}

#[derive(Debug, Args)]
struct RuleArgs {
    /// Add the rule files (*.toml) of DIR to the built-in ones (repeatable) [default: none].
    #[arg(long = "patterns", value_name = "DIR")]
    patterns: Vec<PathBuf>,
    /// Turn off rules: a rule id, an id pattern with * (`github.*`) or a kind (repeatable)
    /// [default: none].
    #[arg(long, value_name = "SELECTOR")]
    disable: Vec<String>,
    /// Keep only these rules: selectors as for --disable (repeatable) [default: all].
    #[arg(long, value_name = "SELECTOR")]
    enable: Vec<String>,
}

impl RuleArgs {
    /// Adds these flags' rule directories and selectors to `rules` (lists add to the file's).
    fn add_to(&self, rules: &mut config::RuleSettings) {
        rules.dirs.extend(self.patterns.iter().cloned());
        rules.selection.enable.extend(self.enable.iter().cloned());
        rules.selection.disable.extend(self.disable.iter().cloned());
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List or check rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Check or show configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Report credentials without rewriting anything: one line per finding (file, line, column,
    /// rule, kind, fingerprint, checksum), never the secret. Exit status 1 when something was
    /// found, 0 when clean, 2 when a path could not be scanned.
    Scan(ScanArgs),
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Files and directories to scan (default: standard input). Directories are walked in name
    /// order, honouring .gitignore and .ignore files, not entering symbolic links unless
    /// --follow; gzip input is decompressed.
    paths: Vec<PathBuf>,
    /// Output format: `text` (FILE:LINE:COLUMN: rule=… kind=… …) or `json` (one object a line).
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    format: ScanFormat,
    /// Walk directories without honouring .gitignore, .ignore and .git/info/exclude files.
    #[arg(long)]
    no_ignore: bool,
    /// Follow symbolic links while walking directories (a link loop is reported as an error,
    /// and the walk goes on). A link named on the command line is always followed.
    #[arg(short = 'L', long)]
    follow: bool,
    /// Scanning threads, each taking whole files; 0 = the available cores. The report is in
    /// the same order whatever the number.
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// Read the fingerprint key from FILE (at least 32 bytes; a trailing newline is ignored)
    /// [default: $TOKENSCRUB_KEY, else a key kept in the state directory].
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Turn off the key-aware pass over JSON and key=value records (rules still run).
    #[arg(long)]
    no_structured: bool,
    /// Bytes asked of each read.
    #[arg(long, value_name = "BYTES", default_value_t = PipeConfig::default().read_size, hide = true)]
    read_size: usize,
    /// Longest partial line held in memory before it is scanned in overlapping windows.
    #[arg(long, value_name = "BYTES", default_value_t = PipeConfig::default().window)]
    max_window: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScanFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Print every rule: id, kind, description.
    List {
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Validate rule files and run their examples (default: the built-in catalogue); exit 1 on
    /// any failure.
    Check {
        /// A directory of rule files to check, together with the built-in ones.
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a config file and the rule files it names; exit 1 with the file, line, field
    /// and reason of the first error.
    Check {
        /// The file [default: the one a run would use].
        file: Option<PathBuf>,
    },
    /// Print a complete, commented example config.
    Example,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli, &matches) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("tokenscrub: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, matches: &ArgMatches) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Rules {
            command: RulesCommand::List { rules },
        }) => list_rules(&rules),
        Some(Command::Rules {
            command: RulesCommand::Check { dir },
        }) => check(dir),
        Some(Command::Config {
            command: ConfigCommand::Check { file },
        }) => check_config(file),
        Some(Command::Config {
            command: ConfigCommand::Example,
        }) => {
            io::stdout().lock().write_all(config::EXAMPLE.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Scan(args)) => scan(args),
        None => redact(cli.run, matches),
    }
}

fn extra_sources(args: &RuleArgs) -> Result<Vec<RuleSource>> {
    let mut sources = Vec::new();
    for dir in &args.patterns {
        sources.extend(rules::load_dir(dir)?);
    }
    Ok(sources)
}

/// A fixed key for commands that never print fingerprints of real data.
const LISTING_KEY: &[u8] = b"tokenscrub rules check: fixed example key";

fn list_rules(args: &RuleArgs) -> Result<ExitCode> {
    let redactor = RedactorBuilder::new()
        .rules(extra_sources(args)?)
        .select(Selection {
            enable: args.enable.clone(),
            disable: args.disable.clone(),
        })
        .build(LISTING_KEY)?;
    let mut out = io::stdout().lock();
    for rule in redactor.rules().rules() {
        writeln!(out, "{:<36} {:<28} {}", rule.id, rule.kind, rule.description)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check(dir: Option<PathBuf>) -> Result<ExitCode> {
    let extra = match &dir {
        Some(d) => rules::load_dir(d)?,
        None => Vec::new(),
    };
    let checked: Vec<String> = extra.iter().map(|s| s.name.clone()).collect();
    let redactor = match RedactorBuilder::new().rules(extra).build(LISTING_KEY) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tokenscrub: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let (summary, failures) = check_rules(&redactor, |r| dir.is_none() || checked.contains(&r.file));
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    println!(
        "{} rules, {} examples, {} negatives: {} failures",
        summary.rules,
        summary.examples,
        summary.negatives,
        failures.len()
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_config(file: Option<PathBuf>) -> Result<ExitCode> {
    let Some(path) = file.or_else(config::default_path) else {
        let searched: Vec<String> = config::default_locations()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        eprintln!(
            "tokenscrub: no config file given, and none at {}",
            searched.join(" or ")
        );
        return Ok(ExitCode::from(1));
    };
    let checked = ConfigFile::load(&path).and_then(|file| file.check().map(|built| (file, built)));
    match checked {
        Ok((file, built)) => {
            println!(
                "{}: ok ({} rules, key from {})",
                file.path.display(),
                built.redactor.rules().rules().len(),
                key_origin(&built.key.origin)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("tokenscrub: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn key_origin(origin: &KeyOrigin) -> String {
    match origin {
        KeyOrigin::File(p) => p.display().to_string(),
        KeyOrigin::Env => "the environment".into(),
        KeyOrigin::StateFile(p) => format!("the state file {}", p.display()),
        KeyOrigin::Ephemeral => "a random key for this run".into(),
    }
}

/// The command line as given: its values, and which flags were set on it (those override the
/// config file; the rest fall back to the file, then the defaults).
struct CommandLine {
    args: RunArgs,
    explicit: HashSet<String>,
}

impl CommandLine {
    fn new(args: RunArgs, matches: &ArgMatches) -> Self {
        let explicit = matches
            .ids()
            .filter(|id| {
                matches!(
                    matches.value_source(id.as_str()),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
            .map(|id| id.as_str().to_string())
            .collect();
        CommandLine { args, explicit }
    }

    fn set(&self, id: &str) -> bool {
        self.explicit.contains(id)
    }

    /// The settings in force: defaults, then `file`, then the flags set here.
    fn settings(&self, file: Option<&ConfigFile>) -> Settings {
        let mut s = file.map_or_else(Settings::default, |f| f.settings.clone());
        let a = &self.args;
        let e = &mut s.engine;
        a.rules.add_to(&mut e.rules);
        if self.set("no_structured") {
            e.structured = !a.no_structured;
        }
        if let Some(path) = &a.key_file {
            e.key_file = Some(path.clone());
        }
        if let Some(id) = &a.key_id {
            e.key_id = Some(id.clone());
        }
        if self.set("replacement") {
            e.template = Some(a.replacement.clone());
        }
        let l = &mut s.limits;
        if self.set("threads") {
            l.threads = a.threads;
        }
        if self.set("read_size") {
            l.read_size = a.read_size;
        }
        if self.set("max_window") {
            l.max_window = a.max_window;
        }
        if self.set("max_line") {
            l.max_line = a.max_line;
        }
        if self.set("on_oversize") {
            l.on_oversize = a.on_oversize;
        }
        let (x, ax) = (&mut s.exposure, &a.exposure);
        x.summary |= ax.summary;
        x.report = ax.report.clone().or(x.report.take());
        x.metrics_listen = ax.metrics_listen.or(x.metrics_listen);
        x.otlp_metrics = ax.otlp_metrics.clone().or(x.otlp_metrics.take());
        if self.set("otlp_interval") {
            x.otlp_interval = ax.otlp_interval;
        }
        x.source = ax.source.clone().or(x.source.take());
        if self.set("max_credentials") {
            x.max_credentials = ax.max_credentials;
        }
        s
    }

    /// Loads the config file (if any) and builds the redactor. Errors name the file and line
    /// when the file is at fault, else the flag.
    fn load(&self) -> Result<(Settings, Built), ConfigError> {
        let file = self.args.config.load()?;
        let settings = self.settings(file.as_ref());
        let built = config::build_located(&settings, file.as_ref())?;
        Ok((settings, built))
    }
}

/// The scan-only mode: the config file's rules, allowlists, key and replacement, with the
/// scan's own flags over them.
fn scan(args: ScanArgs) -> Result<ExitCode> {
    let file = args.config.load()?;
    let mut settings = file.as_ref().map_or_else(Settings::default, |f| f.settings.clone());
    let engine = &mut settings.engine;
    args.rules.add_to(&mut engine.rules);
    engine.structured &= !args.no_structured;
    if let Some(key) = &args.key_file {
        engine.key_file = Some(key.clone());
    }
    let built = config::build_located(&settings, file.as_ref())?;
    if let Some(notice) = built.key.notice() {
        eprintln!("{notice}");
    }
    let options = scanmode::Options {
        pipe: PipeConfig {
            read_size: args.read_size,
            window: args.max_window,
            ..PipeConfig::default()
        },
        format: match args.format {
            ScanFormat::Text => scanmode::Format::Text,
            ScanFormat::Json => scanmode::Format::Json,
        },
        ignore_files: !args.no_ignore,
        follow_links: args.follow,
        threads: config::worker_threads(args.threads),
        progress: true,
    };
    let summary = scanmode::run(&built.redactor, &args.paths, &options, io::stdout().lock(), |e| {
        eprintln!("tokenscrub: {e}")
    })?;
    Ok(ExitCode::from(summary.exit_code()))
}

/// The output, with a gate that an interrupting signal takes before writing the report, so the
/// output ends on a block boundary (a whole line) and the report covers everything written.
struct GatedOutput {
    file: File,
    gate: Arc<Mutex<()>>,
}

impl Write for GatedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _held = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let _held = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        self.file.write_all(buf)
    }

    /// Writes every slice, under the gate: a block written as slices of its input (see
    /// `tokenscrub::Rewrite`) reaches the output whole, as one written from a buffer does.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let _held = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        tokenscrub::rewrite::write_all_vectored(&mut self.file, &mut bufs.to_vec())?;
        Ok(bufs.iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The exposure outputs of a run.
struct ExposureOutputs {
    exposure: Arc<Exposure>,
    _metrics: Option<exposure::prometheus::MetricsServer>,
    otlp: Arc<Mutex<Option<exposure::otlp::OtlpMetrics>>>,
    summary: bool,
    report: Option<PathBuf>,
}

impl ExposureOutputs {
    fn start(settings: &ExposureSettings, redactor: &Redactor) -> Result<Self> {
        let limits = exposure::Limits {
            max_credentials: settings.max_credentials,
            ..exposure::Limits::default()
        };
        let exposure = Arc::new(Exposure::new(redactor, limits));
        let metrics = match settings.metrics_listen {
            Some(addr) => {
                let server = exposure::prometheus::serve(addr, Arc::clone(&exposure))
                    .with_context(|| format!("cannot serve metrics on {addr}"))?;
                eprintln!("tokenscrub: serving metrics on http://{}/metrics", server.addr);
                Some(server)
            }
            None => None,
        };
        let otlp = match &settings.otlp_metrics {
            Some(url) => {
                anyhow::ensure!(
                    settings.otlp_interval.is_finite() && settings.otlp_interval > 0.0,
                    "--otlp-interval must be a positive number of seconds"
                );
                Some(exposure::otlp::start(
                    Arc::clone(&exposure),
                    url,
                    Duration::from_secs_f64(settings.otlp_interval),
                )?)
            }
            None => None,
        };
        Ok(ExposureOutputs {
            exposure,
            _metrics: metrics,
            otlp: Arc::new(Mutex::new(otlp)),
            summary: settings.summary,
            report: settings.report.clone(),
        })
    }

    /// Writes the report and summary, and pushes OTLP a last time. Errors are reported on
    /// stderr (they never carry a secret: the report holds none).
    fn finish(&self, complete: bool) -> Result<()> {
        let snapshot = self.exposure.snapshot(self.report.is_some());
        if let Some(path) = &self.report {
            exposure::report::write_report(path, &snapshot, complete)
                .with_context(|| format!("cannot write report {}", path.display()))?;
        }
        if self.summary {
            exposure::report::write_summary(io::stderr().lock(), &snapshot)?;
        }
        if let Some(otlp) = self.otlp.lock().unwrap_or_else(|e| e.into_inner()).take() {
            otlp.shutdown()?;
        }
        Ok(())
    }
}

/// On SIGINT or SIGTERM: stop output at a block boundary, write the exposure outputs marked
/// incomplete, and exit with 128 + the signal number.
fn handle_signals(outputs: Arc<ExposureOutputs>, gate: Arc<Mutex<()>>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("tokenscrub-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _held = gate.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = outputs.finish(false) {
                    eprintln!("tokenscrub: {e:#}");
                }
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// On SIGHUP: reload the config file and rules, and put the new redactor in force between
/// blocks. A bad config keeps the old one and says why on stderr.
fn handle_reload(
    command_line: CommandLine,
    started: Settings,
    shared: Arc<SharedRedactor>,
    pipe: PipeConfig,
) -> Result<()> {
    use signal_hook::consts::SIGHUP;
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP])?;
    std::thread::Builder::new()
        .name("tokenscrub-reload".into())
        .spawn(move || {
            for _ in signals.forever() {
                match command_line.load() {
                    Ok((settings, built)) if pipe.fits(&built.redactor) => {
                        let rules = built.redactor.rules().rules().len();
                        shared.replace(built.redactor);
                        let from = command_line
                            .args
                            .config
                            .path()
                            .map_or_else(|| "the command line".to_string(), |p| p.display().to_string());
                        eprintln!("tokenscrub: reloaded {from} ({rules} rules)");
                        if settings.limits != started.limits || settings.exposure != started.exposure {
                            eprintln!("tokenscrub: [limits] and [exposure] changes take effect at the next start");
                        }
                    }
                    Ok(_) => eprintln!(
                        "tokenscrub: reload failed, keeping the previous configuration: the new rules need a longer --max-window than this run has"
                    ),
                    Err(e) => eprintln!("tokenscrub: reload failed, keeping the previous configuration: {e}"),
                }
            }
        })?;
    Ok(())
}

/// Asks for a buffer of at least `bytes` on the pipe `fd`, so that a read takes up to a block
/// when the writer is ahead (`cat FILE | tokenscrub`) instead of the default 64 KiB (figures in
/// BENCHMARKS.md, late-night section, item 8). Never shrinks a pipe (a small `--read-size`
/// must not slow its writer). Returns the pipe's size; `None` when `fd` is not a pipe, or when
/// `bytes` is over the system's limit (`/proc/sys/fs/pipe-max-size`, 1 MiB by default, the
/// default read size), which leaves the pipe as it was: nothing depends on the size but the
/// speed.
#[cfg(target_os = "linux")]
fn widen_pipe(fd: std::os::fd::BorrowedFd<'_>, bytes: usize) -> Option<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY (both calls): `fd` is open for the call (borrowed). F_GETPIPE_SZ only reads a
    // pipe's capacity and F_SETPIPE_SZ, with an int, only changes it; on any other descriptor
    // both fail with EBADF and change nothing.
    let now = usize::try_from(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) }).ok()?;
    if now >= bytes {
        return Some(now);
    }
    let bytes = libc::c_int::try_from(bytes).ok()?;
    let size = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes) };
    usize::try_from(size).ok()
}

fn source_name(settings: &ExposureSettings, path: Option<&Path>) -> String {
    match (&settings.source, path) {
        (Some(name), _) => name.clone(),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => "stdin".to_string(),
    }
}

fn redact(args: RunArgs, matches: &ArgMatches) -> Result<ExitCode> {
    let command_line = CommandLine::new(args, matches);
    let (settings, built) = command_line.load()?;
    if let Some(notice) = built.key.notice() {
        eprintln!("{notice}");
    }
    let redactor = built.redactor;
    let config = settings.limits.pipe().effective(&redactor);
    let threads = settings.limits.worker_threads();
    let outputs = if settings.exposure.enabled() {
        Some(Arc::new(ExposureOutputs::start(&settings.exposure, &redactor)?))
    } else {
        None
    };
    let shared = Arc::new(SharedRedactor::new(redactor));
    let args = &command_line.args;
    // Unbuffered handles on fds 0 and 1: each scanned block is one write, so live tails stay
    // prompt and large inputs are not copied through a second buffer.
    let file: File = match &args.output {
        Some(path) => File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        None => File::from(io::stdout().as_fd().try_clone_to_owned()?),
    };
    let gate = Arc::new(Mutex::new(()));
    let mut out = GatedOutput {
        file,
        gate: Arc::clone(&gate),
    };
    if let Some(outputs) = &outputs {
        handle_signals(Arc::clone(outputs), gate)?;
    }
    let files = args.files.clone();
    let exposure_settings = settings.exposure.clone();
    handle_reload(command_line, settings, Arc::clone(&shared), config)?;
    let tap = |path: Option<&Path>| {
        outputs.as_ref().map(|o| Tap {
            exposure: &o.exposure,
            source: o.exposure.source(&source_name(&exposure_settings, path)),
        })
    };
    let result = (|| -> Result<()> {
        if files.is_empty() {
            let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
            #[cfg(target_os = "linux")]
            widen_pipe(stdin.as_fd(), config.read_size);
            run_shared(&shared, config, threads, stdin, &mut out, tap(None))?;
        } else {
            for path in &files {
                let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
                run_shared(&shared, config, threads, file, &mut out, tap(Some(path))).map_err(|e| {
                    if e.kind() == ErrorKind::BrokenPipe {
                        anyhow::Error::from(e)
                    } else {
                        anyhow::Error::from(e).context(format!("while reading {}", path.display()))
                    }
                })?;
            }
        }
        Ok(())
    })();
    // The exposure outputs are written however the input ended (a broken pipe downstream
    // included): what was already redacted was seen, and the security team needs it.
    if let Some(outputs) = &outputs {
        outputs.finish(result.is_ok())?;
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::fd::AsFd;

    use super::widen_pipe;

    #[test]
    fn a_pipe_is_widened_never_narrowed_and_a_file_left_alone() {
        let (reader, _writer) = std::io::pipe().unwrap();
        // 256 KiB: well under the system's default limit of 1 MiB.
        assert_eq!(widen_pipe(reader.as_fd(), 256 * 1024), Some(256 * 1024));
        assert_eq!(widen_pipe(reader.as_fd(), 4096), Some(256 * 1024));
        let file = std::fs::File::open("Cargo.toml").unwrap();
        assert_eq!(widen_pipe(file.as_fd(), 256 * 1024), None);
    }
}
