//! What an operator sees of a running server: request ids, access logs, Prometheus metrics
//! (`GET /metrics`), `GET /healthz` and `GET /readyz`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use doorman_proto::{Readiness, ReadinessCheck};
use rand::RngCore;

use crate::api::{Api, REQUEST_ID};

/// The request-id header, read from the client when sane and always set on the response.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request counters and latency histograms by route, method and status.
#[derive(Debug)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    /// The monotonic timer (the binary's, like its clock).
    timer: fn() -> Instant,
}

impl Metrics {
    pub fn new(timer: fn() -> Instant) -> Metrics {
        Metrics {
            series: Mutex::new(BTreeMap::new()),
            timer,
        }
    }

    fn record(&self, route: String, method: String, status: u16, seconds: f64) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let s = series.entry((route, method, status)).or_default();
        s.count += 1;
        s.sum += seconds;
        for (b, limit) in s.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= limit {
                *b += 1;
            }
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        use std::fmt::Write as _;
        let series = self
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP doorman_build_info The running build.\n# TYPE doorman_build_info gauge"
        );
        let _ = writeln!(
            out,
            "doorman_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            out,
            "# HELP doorman_http_requests_total HTTP requests answered, by route, method and status.\n# TYPE doorman_http_requests_total counter"
        );
        for ((route, method, status), s) in &series {
            let _ = writeln!(
                out,
                "doorman_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP doorman_http_request_duration_seconds Time to answer, by route and method.\n# TYPE doorman_http_request_duration_seconds histogram"
        );
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((route, method, _), s) in &series {
            let agg = by_route.entry((route, method)).or_default();
            agg.count += s.count;
            agg.sum += s.sum;
            for (a, b) in agg.buckets.iter_mut().zip(s.buckets) {
                *a += b;
            }
        }
        for ((route, method), s) in &by_route {
            for (limit, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "doorman_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"{limit}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "doorman_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "doorman_http_request_duration_seconds_sum{{route=\"{route}\",method=\"{method}\"}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "doorman_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\"}} {}",
                s.count
            );
        }
        for (name, help, value) in extra {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    .then(|| s.to_string())
}

/// Names the request (`x-request-id`), serves it inside that name (errors carry it), times it
/// for the metrics, and sets the headers every response gets.
pub async fn middleware(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(sane_request_id)
        .unwrap_or_else(|| {
            let mut b = [0u8; 8];
            rand::rngs::OsRng.fill_bytes(&mut b);
            hex::encode(b)
        });
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let started = (metrics.timer)();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    let seconds = (metrics.timer)()
        .saturating_duration_since(started)
        .as_secs_f64();
    metrics.record(route, method, response.status().as_u16(), seconds);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// `GET /metrics`.
pub async fn metrics(State((metrics, api)): State<(Arc<Metrics>, Arc<Api>)>) -> Response {
    let devices = device_counters(&api.devices);
    let gauges = tokio::task::spawn_blocking(move || {
        let size = api
            .log
            .latest_checkpoint()
            .ok()
            .flatten()
            .map_or(0.0, |c| c.size as f64);
        let pending = api
            .store
            .pending_outbox(100_000)
            .map_or(0.0, |p| p.len() as f64);
        (size, pending)
    })
    .await
    .unwrap_or((0.0, 0.0));
    let body = metrics.render(&[
        (
            "doorman_public_log_size",
            "Entries covered by the public log's latest checkpoint.",
            gauges.0,
        ),
        (
            "doorman_outbox_pending",
            "Log entries written by the control plane and not yet published.",
            gauges.1,
        ),
    ]) + &devices;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Device messaging's counters, as Prometheus text: events stored and repeated, and the
/// messages refused, by code (docs/mqtt.md).
fn device_counters(d: &crate::devices::Devices) -> String {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering;
    let mut out = String::new();
    for (name, help, v) in [
        (
            "doorman_device_events_stored_total",
            "Device events stored (each (device, seq) once).",
            d.events_stored.load(Ordering::Relaxed),
        ),
        (
            "doorman_device_events_repeated_total",
            "Device events uploaded again after they were stored (not stored twice).",
            d.events_repeated.load(Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP doorman_device_messages_refused_total Device messages refused, by code.\n# TYPE doorman_device_messages_refused_total counter"
    );
    for (code, n) in d.rejections() {
        let _ = writeln!(
            out,
            "doorman_device_messages_refused_total{{code=\"{code}\"}} {n}"
        );
    }
    out
}

/// `GET /readyz`: the stores answer and nothing is stuck in the outbox.
pub async fn readyz(State((_, api)): State<(Arc<Metrics>, Arc<Api>)>) -> Response {
    let checks = tokio::task::spawn_blocking(move || {
        let control = api.store.is_set_up().map(|_| ()).map_err(|e| e.to_string());
        let log = api
            .log
            .sequenced_size()
            .map(|_| ())
            .map_err(|e| e.to_string());
        let outbox = api
            .store
            .pending_outbox(1)
            .map_err(|e| e.to_string())
            .and_then(|p| match p.first() {
                Some(r)
                    if r.created_at
                        .checked_add(jiff::SignedDuration::from_secs(30))
                        .is_ok_and(|t| t < api.now()) =>
                {
                    Err(format!(
                        "outbox entry {} has waited over 30 s to be published",
                        r.id
                    ))
                }
                _ => Ok(()),
            });
        [
            ("control_store", control),
            ("public_log", log),
            ("outbox", outbox),
        ]
        .into_iter()
        .map(|(name, r)| ReadinessCheck {
            name: name.to_string(),
            ok: r.is_ok(),
            detail: r.err(),
        })
        .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let ready = !checks.is_empty() && checks.iter().all(|c| c.ok);
    let mut r = crate::api::Json(Readiness { ready, checks }).into_response();
    if !ready {
        *r.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    r
}
