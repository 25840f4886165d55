//! Prometheus exposition of an [`Exposure`], and the `/metrics` HTTP endpoint.
//!
//! The figures live in the aggregator; a `prometheus-client` [`Collector`] renders a snapshot on
//! each scrape (OpenMetrics text, which Prometheus scrapes natively). Counters get the `_total`
//! suffix from the encoder. Label cardinality is bounded by the rule catalogue and the
//! aggregator's limits (see the [`super`] module docs).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tokenscrub_records_total` | counter | `source` |
//! | `tokenscrub_bytes_total` | counter | `source` |
//! | `tokenscrub_findings_total` | counter | `rule`, `kind`, `location`, `source` |
//! | `tokenscrub_findings_validated_total` | counter | `kind`, `validation` (`checksum_valid`, `checksum_invalid`, `pattern`) |
//! | `tokenscrub_fail_closed_total` | counter | `reason`, `source` |
//! | `tokenscrub_credentials_unique` | gauge | `kind` |
//! | `tokenscrub_credentials_multi_origin` | gauge | `kind` |
//! | `tokenscrub_jwt_live` | gauge | |
//! | `tokenscrub_jwt_alg_none` | gauge | |
//! | `tokenscrub_jwt_lifetime_seconds` | histogram | |
//! | `tokenscrub_inventory_dropped_total` | counter | |

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::{Exposure, LIFETIME_BOUNDS};

/// Renders an [`Exposure`] on each scrape.
#[derive(Debug)]
pub struct ExposureCollector(pub Arc<Exposure>);

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(Vec<(&str, &str)>, u64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        metric
            .encode_family(labels)?
            .encode_counter::<NoLabelSet, _, f64>(value, None)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(Vec<(&str, &str)>, i64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        metric.encode_family(labels)?.encode_gauge(value)?;
    }
    Ok(())
}

impl Collector for ExposureCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = self.0.snapshot(false);
        let per_source = |f: fn(&super::SourceTotals) -> u64| -> Vec<(Vec<(&str, &str)>, u64)> {
            s.sources
                .iter()
                .map(|t| (vec![("source", t.name.as_str())], f(t)))
                .collect()
        };
        counter(
            &mut encoder,
            "tokenscrub_records",
            "Records (lines) read, by source.",
            &per_source(|t| t.records),
        )?;
        counter(
            &mut encoder,
            "tokenscrub_bytes",
            "Bytes read, by source.",
            &per_source(|t| t.bytes),
        )?;
        let findings: Vec<_> = s
            .findings
            .iter()
            .map(|f| {
                (
                    vec![
                        ("rule", f.rule.as_str()),
                        ("kind", f.kind.as_str()),
                        ("location", f.location),
                        ("source", f.source.as_str()),
                    ],
                    f.count,
                )
            })
            .collect();
        counter(
            &mut encoder,
            "tokenscrub_findings",
            "Credentials found and redacted, by rule, kind, location and source.",
            &findings,
        )?;
        let validated: Vec<_> = s
            .validation
            .iter()
            .map(|v| (vec![("kind", v.kind.as_str()), ("validation", v.validation)], v.count))
            .collect();
        counter(
            &mut encoder,
            "tokenscrub_findings_validated",
            "Findings by kind and validation: checksum_valid, checksum_invalid, or pattern only.",
            &validated,
        )?;
        let failed: Vec<_> = s
            .fail_closed
            .iter()
            .map(|f| (vec![("reason", f.reason), ("source", f.source.as_str())], f.count))
            .collect();
        counter(
            &mut encoder,
            "tokenscrub_fail_closed",
            "Records that met a fail-closed policy (never forwarded unscanned), by reason and source.",
            &failed,
        )?;
        counter(
            &mut encoder,
            "tokenscrub_inventory_dropped",
            "Findings of credentials first seen after the inventory limit was reached.",
            &[(Vec::new(), s.inventory_dropped)],
        )?;
        let unique: Vec<_> = s
            .by_kind
            .iter()
            .map(|k| (vec![("kind", k.kind.as_str())], k.unique as i64))
            .collect();
        gauge(
            &mut encoder,
            "tokenscrub_credentials_unique",
            "Distinct credentials (keyed fingerprints) seen, by kind.",
            &unique,
        )?;
        let multi: Vec<_> = s
            .by_kind
            .iter()
            .map(|k| (vec![("kind", k.kind.as_str())], k.multi_origin as i64))
            .collect();
        gauge(
            &mut encoder,
            "tokenscrub_credentials_multi_origin",
            "Distinct credentials seen from more than one client origin (a replay signal), by kind.",
            &multi,
        )?;
        let live: u64 = s.by_kind.iter().map(|k| k.live_jwts).sum();
        gauge(
            &mut encoder,
            "tokenscrub_jwt_live",
            "Distinct JWTs still valid (not expired) when last seen: the revocation list.",
            &[(Vec::new(), live as i64)],
        )?;
        gauge(
            &mut encoder,
            "tokenscrub_jwt_alg_none",
            "Distinct unsigned (alg none) JWTs seen.",
            &[(Vec::new(), s.jwt_alg_none as i64)],
        )?;
        let mut buckets: Vec<(f64, u64)> = LIFETIME_BOUNDS
            .iter()
            .zip(&s.jwt_lifetime.counts)
            .map(|(b, c)| (*b, *c))
            .collect();
        buckets.push((f64::INFINITY, s.jwt_lifetime.counts[LIFETIME_BOUNDS.len()]));
        let mut metric = encoder.encode_descriptor(
            "tokenscrub_jwt_lifetime",
            "Total lifetime (exp - iat) of distinct JWTs seen.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        metric.encode_histogram::<NoLabelSet>(s.jwt_lifetime.sum, s.jwt_lifetime.count, &buckets, None)?;
        Ok(())
    }
}

/// The OpenMetrics text of `exposure`.
pub fn render(exposure: &Arc<Exposure>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ExposureCollector(Arc::clone(exposure))));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

/// Content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A running `/metrics` endpoint; stops when dropped.
#[derive(Debug)]
pub struct MetricsServer {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `GET /metrics` on `addr` from a background thread (a one-thread tokio runtime, so
/// that scrapes never compete with the redaction workers for more than a sliver of one core).
/// Any other path is 404; any other method on `/metrics` is 405.
pub fn serve(addr: SocketAddr, exposure: Arc<Exposure>) -> std::io::Result<MetricsServer> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let thread = std::thread::Builder::new()
        .name("tokenscrub-metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = &mut rx => return,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let exposure = Arc::clone(&exposure);
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    let exposure = Arc::clone(&exposure);
                                    async move { Ok::<_, std::convert::Infallible>(respond(&req, &exposure)) }
                                });
                                let io = hyper_util::rt::TokioIo::new(stream);
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(io, service)
                                    .await;
                            });
                        }
                    }
                }
            });
        })?;
    Ok(MetricsServer {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

fn respond(
    req: &hyper::Request<hyper::body::Incoming>,
    exposure: &Arc<Exposure>,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    use hyper::{Method, StatusCode, header};
    let reply = |status: StatusCode, content_type: &str, body: String| {
        hyper::Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .expect("static response parts are valid")
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => reply(StatusCode::OK, CONTENT_TYPE, render(exposure)),
        (_, "/metrics") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".into(),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found; try /metrics\n".into()),
    }
}
