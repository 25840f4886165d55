//! Where the fingerprint key comes from: `--key-file`, `TOKENSCRUB_KEY`, or a random key kept in
//! the user's state directory. This is configuration, outside the pure core.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fingerprint::MIN_KEY_LEN;

/// Name of the environment variable holding the key text.
pub const KEY_ENV: &str = "TOKENSCRUB_KEY";

/// Where the key in use came from (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `--key-file PATH`.
    File(PathBuf),
    /// The `TOKENSCRUB_KEY` environment variable.
    Env,
    /// Generated once and kept at this path.
    StateFile(PathBuf),
    /// No state directory could be used: a key for this run only.
    Ephemeral,
}

/// A key and where it came from. `Debug` hides the bytes.
pub struct ResolvedKey {
    /// The key bytes (at least 32).
    pub bytes: Vec<u8>,
    /// Where they came from.
    pub origin: KeyOrigin,
}

impl std::fmt::Debug for ResolvedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedKey")
            .field("bytes", &"<hidden>")
            .field("origin", &self.origin)
            .finish()
    }
}

impl ResolvedKey {
    /// The one-line notice for stderr when the key is not shared configuration, else `None`.
    pub fn notice(&self) -> Option<String> {
        match &self.origin {
            KeyOrigin::StateFile(p) => Some(format!(
                "tokenscrub: using the local fingerprint key {} (replicas give the same fingerprints only with a shared key: set --key-file or {KEY_ENV})",
                p.display()
            )),
            KeyOrigin::Ephemeral => Some(format!(
                "tokenscrub: no state directory; using a random key for this run only (set --key-file or {KEY_ENV} for stable fingerprints)"
            )),
            _ => None,
        }
    }
}

/// Why no key could be had.
#[derive(Debug)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// Resolves the key: `key_file`, else `env_value`, else the state file under `state_dir`
/// (created with mode 0600 if missing), else an ephemeral key.
pub fn resolve_key(
    key_file: Option<&Path>,
    env_value: Option<&[u8]>,
    state_dir: Option<&Path>,
) -> Result<ResolvedKey, KeyError> {
    if let Some(path) = key_file {
        let raw = fs::read(path).map_err(|e| KeyError(format!("cannot read key file {}: {e}", path.display())))?;
        let bytes = trim_newline(&raw).to_vec();
        check_len(&bytes, &format!("key file {}", path.display()))?;
        return Ok(ResolvedKey {
            bytes,
            origin: KeyOrigin::File(path.to_path_buf()),
        });
    }
    if let Some(v) = env_value {
        check_len(v, KEY_ENV)?;
        return Ok(ResolvedKey {
            bytes: v.to_vec(),
            origin: KeyOrigin::Env,
        });
    }
    if let Some(dir) = state_dir {
        let path = dir.join("key");
        match fs::read(&path) {
            Ok(raw) => {
                let bytes = trim_newline(&raw).to_vec();
                check_len(&bytes, &format!("key file {}", path.display()))?;
                return Ok(ResolvedKey {
                    bytes,
                    origin: KeyOrigin::StateFile(path),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Ok(bytes) = create_state_key(dir, &path) {
                    return Ok(ResolvedKey {
                        bytes,
                        origin: KeyOrigin::StateFile(path),
                    });
                }
                // Fall through: an unwritable home still gets a working (ephemeral) key.
            }
            Err(e) => return Err(KeyError(format!("cannot read key file {}: {e}", path.display()))),
        }
    }
    Ok(ResolvedKey {
        bytes: random_key_text()?,
        origin: KeyOrigin::Ephemeral,
    })
}

/// The default state directory: `$XDG_STATE_HOME/tokenscrub`, else `$HOME/.local/state/tokenscrub`.
pub fn default_state_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".local/state"))
    })?;
    Some(base.join("tokenscrub"))
}

fn trim_newline(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

fn check_len(bytes: &[u8], what: &str) -> Result<(), KeyError> {
    if bytes.len() < MIN_KEY_LEN {
        return Err(KeyError(format!(
            "{what}: the key is {} bytes; at least {MIN_KEY_LEN} are required",
            bytes.len()
        )));
    }
    Ok(())
}

fn random_key_text() -> Result<Vec<u8>, KeyError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| KeyError(format!("cannot get random bytes for a key: {e}")))?;
    Ok(raw.iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect())
}

fn create_state_key(dir: &Path, path: &Path) -> std::io::Result<Vec<u8>> {
    fs::create_dir_all(dir)?;
    let key = random_key_text().map_err(std::io::Error::other)?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(&key)?;
            f.write_all(b"\n")?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(trim_newline(&fs::read(path)?).to_vec()),
        Err(e) => Err(e),
    }
}
