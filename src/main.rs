//! The `tokenscrub` command: parse flags, resolve configuration, run. All logic lives in the
//! library; this file only wires it to the shell.

use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tokenscrub::check::check_rules;
use tokenscrub::keysource::{KEY_ENV, default_state_dir, resolve_key};
use tokenscrub::pipe::{PipeConfig, run_parallel};
use tokenscrub::rules::{self, RuleSource};
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
    let env_key = std::env::var_os(KEY_ENV);
    let key = resolve_key(
        args.key_file.as_deref(),
        env_key.as_ref().map(|v| v.as_encoded_bytes()),
        default_state_dir().as_deref(),
    )?;
    if let Some(notice) = key.notice() {
        eprintln!("{notice}");
    }
    Ok(RedactorBuilder::new()
        .rules(extra_sources(&args.rules)?)
        .build(&key.bytes)?)
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
    let mut out: File = match &args.output {
        Some(path) => File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        None => File::from(io::stdout().as_fd().try_clone_to_owned()?),
    };
    if args.files.is_empty() {
        let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        run_parallel(&redactor, config, threads, stdin, &mut out)?;
    } else {
        for path in &args.files {
            let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            run_parallel(&redactor, config, threads, file, &mut out).map_err(|e| {
                if e.kind() == ErrorKind::BrokenPipe {
                    anyhow::Error::from(e)
                } else {
                    anyhow::Error::from(e).context(format!("while reading {}", path.display()))
                }
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
