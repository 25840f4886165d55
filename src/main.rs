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

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tokenscrub::check::check_rules;
use tokenscrub::exposure::{self, Exposure, Limits};
use tokenscrub::keysource::{KEY_ENV, default_state_dir, resolve_key};
use tokenscrub::pipe::{PipeConfig, Tap, run_parallel_tapped};
use tokenscrub::rules::{self, RuleSource};
use tokenscrub::scanmode;
use tokenscrub::{Redactor, RedactorBuilder};

/// Replace credentials in logs with stable keyed fingerprints; forward everything else
/// byte-for-byte.
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
    rules: RuleArgs,
    /// Read the fingerprint key from FILE (at least 32 bytes; a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Bytes asked of each read.
    #[arg(long, value_name = "BYTES", default_value_t = PipeConfig::default().read_size, hide = true)]
    read_size: usize,
    /// Worker threads (default: the available cores; 1 scans on the reading thread).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Longest partial line held in memory before it is scanned in overlapping windows.
    #[arg(long, value_name = "BYTES", default_value_t = PipeConfig::default().window)]
    max_window: usize,
    /// Turn off the key-aware pass over JSON and key=value records (rules still run).
    #[arg(long)]
    no_structured: bool,
    #[command(flatten)]
    exposure: ExposureArgs,
}

/// Exposure outputs: what leaked, for the security team. None is on by default; with none, the
/// record path does no exposure work at all.
#[derive(Debug, Args)]
struct ExposureArgs {
    /// Print a table of findings by kind on stderr at the end of the run.
    #[arg(long)]
    summary: bool,
    /// Write the JSON exposure inventory to FILE at the end of the run (also on SIGINT/SIGTERM).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Serve Prometheus metrics on http://ADDR/metrics while running (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Push the metrics over OTLP/HTTP (protobuf) to URL, e.g. http://127.0.0.1:4318/v1/metrics.
    #[arg(long, value_name = "URL")]
    otlp_metrics: Option<String>,
    /// Seconds between OTLP pushes (a last push happens at the end of the run).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    otlp_interval: f64,
    /// Source name for metrics and the report (default: each input file's path, or `stdin`).
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
    /// Distinct credentials kept in the exposure inventory; later ones are counted, not listed.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_credentials)]
    max_credentials: usize,
}

impl ExposureArgs {
    fn enabled(&self) -> bool {
        self.summary || self.report.is_some() || self.metrics_listen.is_some() || self.otlp_metrics.is_some()
    }
}

#[derive(Debug, Args)]
struct RuleArgs {
    /// Add the rule files (*.toml) of DIR to the built-in ones (repeatable).
    #[arg(long = "patterns", value_name = "DIR")]
    patterns: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List or check rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Report credentials without rewriting anything: one line per finding (file, line, column,
    /// rule, kind, fingerprint, checksum), never the secret. Exit status 1 when something was
    /// found, 0 when clean, 2 when a path could not be scanned.
    Scan(ScanArgs),
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Files and directories to scan (default: standard input). Directories are walked in name
    /// order, honouring .gitignore and .ignore files; gzip input is decompressed.
    paths: Vec<PathBuf>,
    /// Output format: `text` (FILE:LINE:COLUMN: rule=… kind=… …) or `json` (one object a line).
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    format: ScanFormat,
    /// Walk directories without honouring .gitignore, .ignore and .git/info/exclude files.
    #[arg(long)]
    no_ignore: bool,
    #[command(flatten)]
    rules: RuleArgs,
    /// Read the fingerprint key from FILE (at least 32 bytes; a trailing newline is ignored).
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
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

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Rules {
            command: RulesCommand::List { rules },
        }) => list_rules(&rules),
        Some(Command::Rules {
            command: RulesCommand::Check { dir },
        }) => check(dir),
        Some(Command::Scan(args)) => scan(args),
        None => redact(cli.run),
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
    let redactor = RedactorBuilder::new().rules(extra_sources(args)?).build(LISTING_KEY)?;
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

fn build_redactor(args: &RunArgs) -> Result<Redactor> {
    build_engine(&args.rules, args.key_file.as_deref(), args.no_structured)
}

/// The redactor from rule flags and the key (`--key-file`, else `TOKENSCRUB_KEY`, else the
/// persisted or one-run key, with its notice on stderr).
fn build_engine(rules: &RuleArgs, key_file: Option<&Path>, no_structured: bool) -> Result<Redactor> {
    let env_key = std::env::var_os(KEY_ENV);
    let key = resolve_key(
        key_file,
        env_key.as_ref().map(|v| v.as_encoded_bytes()),
        default_state_dir().as_deref(),
    )?;
    if let Some(notice) = key.notice() {
        eprintln!("{notice}");
    }
    Ok(RedactorBuilder::new()
        .rules(extra_sources(rules)?)
        .structured(!no_structured)
        .build(&key.bytes)?)
}

fn scan(args: ScanArgs) -> Result<ExitCode> {
    let redactor = build_engine(&args.rules, args.key_file.as_deref(), args.no_structured)?;
    let options = scanmode::Options {
        pipe: PipeConfig {
            read_size: args.read_size,
            window: args.max_window,
        },
        format: match args.format {
            ScanFormat::Text => scanmode::Format::Text,
            ScanFormat::Json => scanmode::Format::Json,
        },
        ignore_files: !args.no_ignore,
        progress: true,
    };
    let summary = scanmode::run(&redactor, &args.paths, &options, io::stdout().lock(), |e| {
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
    fn start(args: &ExposureArgs, redactor: &Redactor) -> Result<Self> {
        let limits = Limits {
            max_credentials: args.max_credentials,
            ..Limits::default()
        };
        let exposure = Arc::new(Exposure::new(redactor, limits));
        let metrics = match args.metrics_listen {
            Some(addr) => {
                let server = exposure::prometheus::serve(addr, Arc::clone(&exposure))
                    .with_context(|| format!("cannot serve metrics on {addr}"))?;
                eprintln!("tokenscrub: serving metrics on http://{}/metrics", server.addr);
                Some(server)
            }
            None => None,
        };
        let otlp = match &args.otlp_metrics {
            Some(url) => {
                anyhow::ensure!(
                    args.otlp_interval.is_finite() && args.otlp_interval > 0.0,
                    "--otlp-interval must be a positive number of seconds"
                );
                Some(exposure::otlp::start(
                    Arc::clone(&exposure),
                    url,
                    Duration::from_secs_f64(args.otlp_interval),
                )?)
            }
            None => None,
        };
        Ok(ExposureOutputs {
            exposure,
            _metrics: metrics,
            otlp: Arc::new(Mutex::new(otlp)),
            summary: args.summary,
            report: args.report.clone(),
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

fn source_name(args: &ExposureArgs, path: Option<&Path>) -> String {
    match (&args.source, path) {
        (Some(name), _) => name.clone(),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => "stdin".to_string(),
    }
}

fn redact(args: RunArgs) -> Result<ExitCode> {
    let redactor = build_redactor(&args)?;
    let config = PipeConfig {
        read_size: args.read_size,
        window: args.max_window,
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
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
    let outputs = if args.exposure.enabled() {
        let outputs = Arc::new(ExposureOutputs::start(&args.exposure, &redactor)?);
        handle_signals(Arc::clone(&outputs), gate)?;
        Some(outputs)
    } else {
        None
    };
    let tap = |path: Option<&Path>| {
        outputs.as_ref().map(|o| Tap {
            exposure: &o.exposure,
            source: o.exposure.source(&source_name(&args.exposure, path)),
        })
    };
    let result = (|| -> Result<()> {
        if args.files.is_empty() {
            let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
            run_parallel_tapped(&redactor, config, threads, stdin, &mut out, tap(None))?;
        } else {
            for path in &args.files {
                let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
                run_parallel_tapped(&redactor, config, threads, file, &mut out, tap(Some(path))).map_err(|e| {
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
