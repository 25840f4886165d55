//! The JSON exposure inventory (`--report FILE`) and the end-of-run table (`--summary`).
//!
//! The report's schema is documented in README.md ("Exposure report"); field names are stable
//! and `schema` names the version. It is written to `FILE.tmp` and renamed over `FILE`, so a
//! reader never sees half a report, even when the run is interrupted.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{CredentialReport, Snapshot};

/// The `schema` field of every report.
pub const SCHEMA: &str = "tokenscrub.exposure.v1";

fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

fn hex(fp: u64) -> String {
    format!("{fp:016x}")
}

fn credential_json(c: &CredentialReport) -> Value {
    let mut v = json!({
        "fingerprint": c.fingerprint,
        "kind": c.kind,
        "rule": c.rule,
        "count": c.count,
        "first_seen": rfc3339(c.first_seen_ms),
        "last_seen": rfc3339(c.last_seen_ms),
        "locations": c.locations,
        "sources": c.sources,
        "origins": c.origins,
        "origins_saturated": c.origins_saturated,
        "checksum": c.checksum,
    });
    if let Some(j) = &c.jwt {
        let claims = &j.claims;
        v["jwt"] = json!({
            "alg": claims.alg,
            "alg_none": claims.alg_none(),
            "encrypted": claims.encrypted,
            "kid": claims.kid,
            "iss": claims.iss,
            "aud": claims.aud,
            "jti": claims.jti,
            "exp": claims.exp,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "sub_fingerprint": claims.sub_fingerprint.map(hex),
            "email_fingerprint": claims.email_fingerprint.map(hex),
            "valid_when_seen": j.valid_when_seen,
            "valid_for_seconds": j.valid_for_seconds,
            "lifetime_seconds": claims.lifetime_seconds(),
            "expired_at_report": j.expired_at_report,
        });
    }
    v
}

/// The report as a JSON value. `complete` is false when the run was interrupted.
pub fn report_json(snapshot: &Snapshot, complete: bool) -> Value {
    let live: u64 = snapshot.by_kind.iter().map(|k| k.live_jwts).sum();
    let multi: u64 = snapshot.by_kind.iter().map(|k| k.multi_origin).sum();
    json!({
        "schema": SCHEMA,
        "generated_at": rfc3339(snapshot.taken_at_ms),
        "complete": complete,
        "totals": {
            "records": snapshot.records(),
            "bytes": snapshot.bytes(),
            "findings": snapshot.total_findings(),
            "unique_credentials": snapshot.unique_credentials,
            "live_jwts": live,
            "jwt_alg_none": snapshot.jwt_alg_none,
            "multi_origin_credentials": multi,
            "inventory_dropped": snapshot.inventory_dropped,
        },
        "sources": snapshot.sources,
        "kinds": snapshot.by_kind,
        "fail_closed": snapshot.fail_closed,
        "credentials": snapshot.credentials.iter().map(credential_json).collect::<Vec<_>>(),
    })
}

/// Writes the report to `path` atomically (temporary file, then rename).
pub fn write_report(path: &Path, snapshot: &Snapshot, complete: bool) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut file = io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut file, &report_json(snapshot, complete))?;
        file.write_all(b"\n")?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The end-of-run table: one row per kind.
pub fn write_summary<W: Write>(mut out: W, snapshot: &Snapshot) -> io::Result<()> {
    writeln!(
        out,
        "tokenscrub: {} records, {} bytes, {} findings, {} unique credentials{}",
        snapshot.records(),
        snapshot.bytes(),
        snapshot.total_findings(),
        snapshot.unique_credentials,
        if snapshot.inventory_dropped > 0 {
            format!(" ({} findings past the inventory limit)", snapshot.inventory_dropped)
        } else {
            String::new()
        }
    )?;
    if snapshot.by_kind.is_empty() {
        return Ok(());
    }
    let width = snapshot.by_kind.iter().map(|k| k.kind.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "  {:<width$}  {:>9}  {:>7}  {:>9}  {:>12}",
        "kind", "findings", "unique", "live_jwt", "multi_origin"
    )?;
    for k in &snapshot.by_kind {
        let live = if k.jwts > 0 {
            k.live_jwts.to_string()
        } else {
            "-".to_string()
        };
        writeln!(
            out,
            "  {:<width$}  {:>9}  {:>7}  {:>9}  {:>12}",
            k.kind, k.findings, k.unique, live, k.multi_origin
        )?;
    }
    let failed: u64 = snapshot.fail_closed.iter().map(|f| f.count).sum();
    if failed > 0 {
        writeln!(out, "  {failed} records met a fail-closed policy")?;
    }
    Ok(())
}
