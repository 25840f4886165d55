//! OTLP push of the same metrics as [`super::prometheus`], with the OpenTelemetry SDK
//! (`--otlp-metrics URL`, OTLP/HTTP with protobuf bodies, e.g. `http://127.0.0.1:4318/v1/metrics`).
//!
//! Counters and gauges are observable instruments whose callbacks read an aggregator snapshot at
//! each export, so the record path never touches the SDK. Temporality is cumulative, like the
//! Prometheus side, so a collector's `prometheus` exporter shows the same series. JWT lifetimes
//! are recorded into an SDK histogram (same bucket bounds) by a pump thread, from the
//! aggregator's list of newly discovered tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use super::{Exposure, LIFETIME_BOUNDS, Snapshot};

/// Errors setting up the OTLP exporter.
#[derive(Debug)]
pub struct OtlpError(String);

impl std::fmt::Display for OtlpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OTLP metrics exporter: {}", self.0)
    }
}

impl std::error::Error for OtlpError {}

/// A running OTLP push; [`OtlpMetrics::shutdown`] (or drop) exports a last time.
pub struct OtlpMetrics {
    provider: SdkMeterProvider,
    stop: Arc<AtomicBool>,
    pump: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for OtlpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtlpMetrics")
    }
}

type Series = Vec<(u64, Vec<KeyValue>)>;

/// An instrument: name, description, and how to read its series from a snapshot.
type Instrument = (&'static str, &'static str, fn(&Snapshot) -> Series);

fn sources(s: &Snapshot, f: fn(&super::SourceTotals) -> u64) -> Series {
    s.sources
        .iter()
        .map(|t| (f(t), vec![KeyValue::new("source", t.name.clone())]))
        .collect()
}

/// Starts pushing `exposure`'s metrics to `endpoint` every `interval`.
pub fn start(exposure: Arc<Exposure>, endpoint: &str, interval: Duration) -> Result<OtlpMetrics, OtlpError> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| OtlpError(e.to_string()))?;
    let reader = PeriodicReader::builder(exporter).with_interval(interval).build();
    let provider = SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(Resource::builder().with_service_name("tokenscrub").build())
        .build();
    let meter = provider.meter("tokenscrub");

    let counters: [Instrument; 6] = [
        ("tokenscrub_records", "Records (lines) read, by source.", |s| {
            sources(s, |t| t.records)
        }),
        ("tokenscrub_bytes", "Bytes read, by source.", |s| {
            sources(s, |t| t.bytes)
        }),
        (
            "tokenscrub_findings",
            "Credentials found and redacted, by rule, kind, location and source.",
            |s| {
                s.findings
                    .iter()
                    .map(|f| {
                        (
                            f.count,
                            vec![
                                KeyValue::new("rule", f.rule.clone()),
                                KeyValue::new("kind", f.kind.clone()),
                                KeyValue::new("location", f.location),
                                KeyValue::new("source", f.source.clone()),
                            ],
                        )
                    })
                    .collect()
            },
        ),
        (
            "tokenscrub_findings_validated",
            "Findings by kind and validation.",
            |s| {
                s.validation
                    .iter()
                    .map(|v| {
                        (
                            v.count,
                            vec![
                                KeyValue::new("kind", v.kind.clone()),
                                KeyValue::new("validation", v.validation),
                            ],
                        )
                    })
                    .collect()
            },
        ),
        (
            "tokenscrub_fail_closed",
            "Records that met a fail-closed policy.",
            |s| {
                s.fail_closed
                    .iter()
                    .map(|f| {
                        (
                            f.count,
                            vec![
                                KeyValue::new("reason", f.reason),
                                KeyValue::new("source", f.source.clone()),
                            ],
                        )
                    })
                    .collect()
            },
        ),
        (
            "tokenscrub_inventory_dropped",
            "Findings past the inventory limit.",
            |s| vec![(s.inventory_dropped, Vec::new())],
        ),
    ];
    for (name, help, series) in counters {
        let exposure = Arc::clone(&exposure);
        meter
            .u64_observable_counter(name)
            .with_description(help)
            .with_callback(move |obs| {
                for (value, attrs) in series(&exposure.snapshot(false)) {
                    obs.observe(value, &attrs);
                }
            })
            .build();
    }
    let gauges: [Instrument; 4] = [
        (
            "tokenscrub_credentials_unique",
            "Distinct credentials seen, by kind.",
            |s| {
                s.by_kind
                    .iter()
                    .map(|k| (k.unique, vec![KeyValue::new("kind", k.kind.clone())]))
                    .collect()
            },
        ),
        (
            "tokenscrub_credentials_multi_origin",
            "Distinct credentials seen from more than one origin.",
            |s| {
                s.by_kind
                    .iter()
                    .map(|k| (k.multi_origin, vec![KeyValue::new("kind", k.kind.clone())]))
                    .collect()
            },
        ),
        (
            "tokenscrub_jwt_live",
            "Distinct JWTs still valid when last seen.",
            |s| vec![(s.by_kind.iter().map(|k| k.live_jwts).sum(), Vec::new())],
        ),
        ("tokenscrub_jwt_alg_none", "Distinct unsigned (alg none) JWTs.", |s| {
            vec![(s.jwt_alg_none, Vec::new())]
        }),
    ];
    for (name, help, series) in gauges {
        let exposure = Arc::clone(&exposure);
        meter
            .u64_observable_gauge(name)
            .with_description(help)
            .with_callback(move |obs| {
                for (value, attrs) in series(&exposure.snapshot(false)) {
                    obs.observe(value, &attrs);
                }
            })
            .build();
    }
    let lifetime = meter
        .f64_histogram("tokenscrub_jwt_lifetime")
        .with_unit("s")
        .with_description("Total lifetime (exp - iat) of distinct JWTs seen.")
        .with_boundaries(LIFETIME_BOUNDS.to_vec())
        .build();

    let stop = Arc::new(AtomicBool::new(false));
    let pump = {
        let stop = Arc::clone(&stop);
        let tick = interval.min(Duration::from_millis(500));
        std::thread::Builder::new()
            .name("tokenscrub-otlp".into())
            .spawn(move || {
                let mut recorded = 0;
                loop {
                    let stopping = stop.load(Ordering::Acquire);
                    for v in exposure.jwt_lifetimes_since(recorded) {
                        lifetime.record(v, &[]);
                        recorded += 1;
                    }
                    if stopping {
                        return;
                    }
                    std::thread::park_timeout(tick);
                }
            })
            .map_err(|e| OtlpError(e.to_string()))?
    };
    Ok(OtlpMetrics {
        provider,
        stop,
        pump: Some(pump),
    })
}

impl OtlpMetrics {
    /// Records what is pending and exports a last time.
    pub fn shutdown(mut self) -> Result<(), OtlpError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), OtlpError> {
        let Some(pump) = self.pump.take() else {
            return Ok(());
        };
        self.stop.store(true, Ordering::Release);
        pump.thread().unpark();
        let _ = pump.join();
        self.provider.shutdown().map_err(|e| OtlpError(e.to_string()))
    }
}

impl Drop for OtlpMetrics {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
