//! The admin endpoint (feature `prometheus`): `/metrics` in the Prometheus text format
//! (or OpenMetrics when asked for), following OpenTelemetry's naming rules for
//! Prometheus, and `/health` with the [`HealthReport`](crate::HealthReport) as JSON
//! (200 while exporting works, 503 while a circuit is open).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

/// A pull reader shared between the meter provider and the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct PullReader(pub Arc<ManualReader>);

impl MetricReader for PullReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// What the endpoint serves.
pub(crate) trait Source: Send + Sync + 'static {
    fn metrics(&self) -> Option<ResourceMetrics>;
    fn health(&self) -> (bool, String);
}

/// How much the endpoint takes from its clients before it lets go of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections held open at once; a new one past this closes the least recently
    /// active one (idle keep-alive connections and slow clients go first).
    pub max_connections: usize,
    /// A request's head must arrive within this time of the connection or of the
    /// previous response.
    pub header_read_timeout: Duration,
    /// A connection with no byte read or written for this long is closed.
    pub idle_timeout: Duration,
}

impl Limits {
    pub(crate) const DEFAULT: Limits = Limits {
        max_connections: 256,
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
    };
}

/// The longest pause between accept attempts while accepting fails (out of file
/// descriptors, say); the pause doubles from 5 ms up to this.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The running endpoint: its thread, runtime and listening socket. Stopping it (or
/// dropping it) closes the listener and every connection.
pub(crate) struct AdminServer {
    address: SocketAddr,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    stopped: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("address", &self.address)
            .finish()
    }
}

impl AdminServer {
    /// Binds `addr` and serves `source` from a thread of its own.
    pub(crate) fn start(
        addr: SocketAddr,
        source: Arc<dyn Source>,
        limits: Limits,
    ) -> std::io::Result<AdminServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let (stopped_tx, stopped) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("telemetry-admin".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, serve(listener, source, limits, stop_rx));
                // Every connection task and the listener go with the runtime.
                drop(local);
                drop(runtime);
                let _ = stopped_tx.send(());
            })?;
        Ok(AdminServer {
            address,
            stop: std::sync::Mutex::new(Some(stop)),
            stopped: std::sync::Mutex::new(Some(stopped)),
        })
    }

    /// Where the endpoint listens.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops the endpoint and waits (at most `timeout`) until its port is free; false
    /// when it did not stop in time.
    pub(crate) fn stop(&self, timeout: Duration) -> bool {
        let stop = self
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let stopped = self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match stopped {
            Some(stopped) => match stopped.recv_timeout(timeout) {
                Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => true,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
            },
            None => true,
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        // Without waiting: the thread closes everything as soon as it sees this.
        if let Ok(mut stop) = self.stop.lock() {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

/// An open connection, as the accept loop sees it.
struct Conn {
    last_active: Rc<Cell<Instant>>,
    close: tokio::sync::oneshot::Sender<()>,
}

type Conns = Rc<RefCell<BTreeMap<u64, Conn>>>;

/// Closes the connection that has been quiet the longest.
fn close_least_recently_active(conns: &Conns) {
    let mut conns = conns.borrow_mut();
    let oldest = conns
        .iter()
        .min_by_key(|(_, c)| c.last_active.get())
        .map(|(id, _)| *id);
    if let Some(conn) = oldest.and_then(|id| conns.remove(&id)) {
        let _ = conn.close.send(());
    }
}

async fn serve(
    listener: std::net::TcpListener,
    source: Arc<dyn Source>,
    limits: Limits,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let conns: Conns = Rc::default();
    let mut next_id: u64 = 0;
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = Duration::ZERO;
                stream
            }
            Err(e) => {
                // Out of file descriptors, say: try again later, not in a hot loop.
                backoff = (backoff * 2).clamp(Duration::from_millis(5), MAX_ACCEPT_BACKOFF);
                crate::diagnostics::warn(
                    "admin-accept",
                    format_args!("the admin endpoint could not accept a connection: {e}"),
                );
                tokio::select! {
                    () = tokio::time::sleep(backoff) => continue,
                    _ = &mut stop => return,
                }
            }
        };
        while conns.borrow().len() >= limits.max_connections.max(1) {
            close_least_recently_active(&conns);
        }
        let id = next_id;
        next_id = next_id.wrapping_add(1);
        let last_active = Rc::new(Cell::new(Instant::now()));
        let (close, closed) = tokio::sync::oneshot::channel();
        conns.borrow_mut().insert(
            id,
            Conn {
                last_active: last_active.clone(),
                close,
            },
        );
        tokio::task::spawn_local(connection(
            Tracked {
                stream,
                last_active,
            },
            source.clone(),
            limits,
            closed,
            conns.clone(),
            id,
        ));
    }
}

/// Serves one connection until the client is done, it idles too long, or the accept
/// loop needs its place.
async fn connection(
    io: Tracked,
    source: Arc<dyn Source>,
    limits: Limits,
    mut closed: tokio::sync::oneshot::Receiver<()>,
    conns: Conns,
    id: u64,
) {
    let last_active = io.last_active.clone();
    let service = hyper::service::service_fn(move |req| {
        let source = source.clone();
        async move { Ok::<_, Infallible>(respond(&req, source.as_ref())) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(10));
    let mut idle_check = tokio::time::interval(tick);
    loop {
        tokio::select! {
            _ = &mut conn => break,
            _ = &mut closed => break,
            _ = idle_check.tick() => {
                if last_active.get().elapsed() >= limits.idle_timeout {
                    break;
                }
            }
        }
    }
    conns.borrow_mut().remove(&id);
}

/// A connection's socket that notes when a byte last went either way.
struct Tracked {
    stream: tokio::net::TcpStream,
    last_active: Rc<Cell<Instant>>,
}

impl tokio::io::AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.last_active.set(Instant::now());
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.last_active.set(Instant::now());
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

fn respond<B>(req: &http::Request<B>, source: &dyn Source) -> http::Response<Full<Bytes>> {
    let reply = |status: u16, content_type: &str, body: String| {
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    };
    if req.method() != http::Method::GET {
        return reply(
            405,
            "text/plain; charset=utf-8",
            "only GET is served\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => {
            let openmetrics = req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("application/openmetrics-text"));
            let Some(rm) = source.metrics() else {
                return reply(
                    503,
                    "text/plain; charset=utf-8",
                    "metrics are shut down\n".into(),
                );
            };
            let body = encode(&rm, openmetrics);
            let ct = if openmetrics {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            reply(200, ct, body)
        }
        "/health" => {
            let (healthy, json) = source.health();
            reply(if healthy { 200 } else { 503 }, "application/json", json)
        }
        _ => reply(
            404,
            "text/plain; charset=utf-8",
            "try /metrics or /health\n".into(),
        ),
    }
}

/// OpenTelemetry's rules for Prometheus names: invalid characters become `_`, repeated
/// `_` collapse, a leading digit gets a `_` in front.
fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn label_name(key: &str) -> String {
    let mut s = sanitize(key).replace(':', "_");
    if s.starts_with("__") {
        s = s.trim_start_matches('_').to_string();
        s.insert(0, '_');
    }
    if s.is_empty() {
        s.push('_');
    }
    s
}

/// The unit's Prometheus suffix: `s` → `seconds`, `By` → `bytes`, `{…}` → none.
fn unit_suffix(unit: &str) -> Option<&'static str> {
    match unit {
        "s" => Some("seconds"),
        "ms" => Some("milliseconds"),
        "us" => Some("microseconds"),
        "ns" => Some("nanoseconds"),
        "min" => Some("minutes"),
        "h" => Some("hours"),
        "By" => Some("bytes"),
        "KBy" => Some("kilobytes"),
        "MBy" => Some("megabytes"),
        "%" => Some("percent"),
        "1" => None,
        _ => None,
    }
}

fn metric_name(name: &str, unit: &str, gauge_ratio: bool) -> String {
    let mut n = sanitize(name);
    if let Some(suffix) = unit_suffix(unit) {
        if !n.ends_with(suffix) {
            n.push('_');
            n.push_str(suffix);
        }
    } else if unit == "1" && gauge_ratio && !n.ends_with("_ratio") {
        n.push_str("_ratio");
    }
    n
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.as_str().to_string(),
        other => other.to_string(),
    }
}

fn labels<'a>(
    attrs: impl Iterator<Item = &'a KeyValue>,
    scope: &str,
    version: Option<&str>,
    extra: Option<(&str, String)>,
) -> String {
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    for kv in attrs {
        let key = label_name(kv.key.as_str());
        let value = value_text(&kv.value);
        // Keys that collide after sanitising are joined with `;`, as the spec says.
        pairs
            .entry(key)
            .and_modify(|v| {
                v.push(';');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    pairs.insert("otel_scope_name".into(), scope.to_string());
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        pairs.insert("otel_scope_version".into(), v.to_string());
    }
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape_label(v));
    }
    if let Some((k, v)) = extra {
        if pairs.is_empty() {
            let _ = write!(out, "{k}=\"{v}\"");
        } else {
            let _ = write!(out, ",{k}=\"{v}\"");
        }
    }
    out.push('}');
    out
}

fn float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

struct Family {
    kind: &'static str,
    help: String,
    unit: String,
    samples: Vec<String>,
}

trait Num: Copy {
    fn f(self) -> f64;
}
impl Num for u64 {
    fn f(self) -> f64 {
        self as f64
    }
}
impl Num for i64 {
    fn f(self) -> f64 {
        self as f64
    }
}
impl Num for f64 {
    fn f(self) -> f64 {
        self
    }
}

/// Adds one sample per point to the family `key`, named `sample`.
fn push_simple<'a, A>(
    families: &mut BTreeMap<String, Family>,
    key: &str,
    sample: &str,
    points: impl Iterator<Item = (A, f64)>,
    scope: &str,
    version: Option<&str>,
) where
    A: Iterator<Item = &'a KeyValue>,
{
    if let Some(f) = families.get_mut(key) {
        for (attrs, value) in points {
            f.samples.push(format!(
                "{sample}{} {}",
                labels(attrs, scope, version, None),
                float(value)
            ));
        }
    }
}

fn add<T: Num>(
    families: &mut BTreeMap<String, Family>,
    metric: &Metric,
    data: &MetricData<T>,
    scope: &str,
    version: Option<&str>,
    openmetrics: bool,
) {
    let (name, unit, help) = (metric.name(), metric.unit(), metric.description());
    let family = |families: &mut BTreeMap<String, Family>, key: String, kind: &'static str| {
        let help = if help.is_empty() {
            name.to_string()
        } else {
            help.to_string()
        };
        families
            .entry(key)
            .or_insert_with(|| Family {
                kind,
                help,
                unit: unit.to_string(),
                samples: Vec::new(),
            })
            .samples
            .len()
    };
    match data {
        MetricData::Sum(sum) if sum.is_monotonic() => {
            let base = metric_name(name, unit, false);
            let base = base.strip_suffix("_total").unwrap_or(&base).to_string();
            let key = if openmetrics {
                base.clone()
            } else {
                format!("{base}_total")
            };
            family(families, key.clone(), "counter");
            let points = sum.data_points().map(|p| (p.attributes(), p.value().f()));
            push_simple(
                families,
                &key,
                &format!("{base}_total"),
                points,
                scope,
                version,
            );
        }
        MetricData::Sum(sum) => {
            let n = metric_name(name, unit, true);
            family(families, n.clone(), "gauge");
            let points = sum.data_points().map(|p| (p.attributes(), p.value().f()));
            push_simple(families, &n, &n, points, scope, version);
        }
        MetricData::Gauge(g) => {
            let n = metric_name(name, unit, true);
            family(families, n.clone(), "gauge");
            let points = g.data_points().map(|p| (p.attributes(), p.value().f()));
            push_simple(families, &n, &n, points, scope, version);
        }
        MetricData::Histogram(h) => {
            let n = metric_name(name, unit, false);
            family(families, n.clone(), "histogram");
            if let Some(f) = families.get_mut(&n) {
                for p in h.data_points() {
                    let mut cumulative = 0u64;
                    for (bound, count) in p.bounds().zip(p.bucket_counts()) {
                        cumulative += count;
                        let l = labels(p.attributes(), scope, version, Some(("le", float(bound))));
                        f.samples.push(format!("{n}_bucket{l} {cumulative}"));
                    }
                    let l = labels(p.attributes(), scope, version, Some(("le", "+Inf".into())));
                    f.samples.push(format!("{n}_bucket{l} {}", p.count()));
                    let plain = labels(p.attributes(), scope, version, None);
                    f.samples
                        .push(format!("{n}_sum{plain} {}", float(p.sum().f())));
                    f.samples.push(format!("{n}_count{plain} {}", p.count()));
                }
            }
        }
        // Exponential histograms have no text form here; they are not produced by
        // this crate's views.
        MetricData::ExponentialHistogram(_) => {}
    }
}

/// The exposition of a collection, with `target_info` first.
pub(crate) fn encode(rm: &ResourceMetrics, openmetrics: bool) -> String {
    let mut out = String::new();
    // target_info: one gauge = 1 with the resource's attributes as labels.
    let mut resource_labels: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in rm.resource().iter() {
        resource_labels.insert(label_name(k.as_str()), value_text(v));
    }
    let body: Vec<String> = resource_labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n");
    let _ = writeln!(out, "target_info{{{}}} 1", body.join(","));

    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for sm in rm.scope_metrics() {
        let scope = sm.scope().name();
        let version = sm.scope().version();
        for m in sm.metrics() {
            match m.data() {
                AggregatedMetrics::F64(d) => add(&mut families, m, d, scope, version, openmetrics),
                AggregatedMetrics::U64(d) => add(&mut families, m, d, scope, version, openmetrics),
                AggregatedMetrics::I64(d) => add(&mut families, m, d, scope, version, openmetrics),
            }
        }
    }
    for (name, f) in families {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
        let _ = writeln!(out, "# TYPE {name} {}", f.kind);
        if openmetrics {
            if let Some(suffix) = unit_suffix(&f.unit) {
                if name.ends_with(suffix) {
                    let _ = writeln!(out, "# UNIT {name} {suffix}");
                }
            }
        }
        for s in f.samples {
            out.push_str(&s);
            out.push('\n');
        }
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    struct Empty;

    impl Source for Empty {
        fn metrics(&self) -> Option<ResourceMetrics> {
            Some(ResourceMetrics::default())
        }
        fn health(&self) -> (bool, String) {
            (true, "{}".into())
        }
    }

    fn start(limits: Limits) -> AdminServer {
        AdminServer::start("127.0.0.1:0".parse().unwrap(), Arc::new(Empty), limits).unwrap()
    }

    fn metrics_status(addr: SocketAddr) -> u16 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
    }

    /// Whether the server has closed `s` (it reads end of file) within `within`.
    fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
        s.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 512];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    #[test]
    fn connections_past_the_limit_close_the_least_recently_active() {
        let server = start(Limits {
            max_connections: 4,
            ..Limits::DEFAULT
        });
        let mut idle: Vec<TcpStream> = Vec::new();
        for _ in 0..6 {
            idle.push(TcpStream::connect(server.address()).unwrap());
            // Accepted in this order, so the first are the least recently active.
            std::thread::sleep(Duration::from_millis(30));
        }
        assert!(closed_by_server(&mut idle[0], Duration::from_secs(2)));
        assert!(closed_by_server(&mut idle[1], Duration::from_secs(2)));
        assert!(
            !closed_by_server(&mut idle[5], Duration::from_millis(200)),
            "the newest connections stay open"
        );
        assert_eq!(metrics_status(server.address()), 200);
    }

    #[test]
    fn a_client_that_sends_half_a_request_is_let_go() {
        let server = start(Limits {
            header_read_timeout: Duration::from_millis(200),
            ..Limits::DEFAULT
        });
        let mut s = TcpStream::connect(server.address()).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n")
            .unwrap();
        assert!(
            closed_by_server(&mut s, Duration::from_secs(3)),
            "closed after the header timeout"
        );
    }

    #[test]
    fn an_idle_connection_is_closed() {
        let server = start(Limits {
            idle_timeout: Duration::from_millis(300),
            header_read_timeout: Duration::from_secs(60),
            ..Limits::DEFAULT
        });
        let mut s = TcpStream::connect(server.address()).unwrap();
        assert!(
            closed_by_server(&mut s, Duration::from_secs(3)),
            "closed after the idle timeout"
        );
    }

    #[test]
    fn stopping_frees_the_port_and_closes_connections() {
        let server = start(Limits::DEFAULT);
        let addr = server.address();
        let mut open = TcpStream::connect(addr).unwrap();
        assert_eq!(metrics_status(addr), 200);
        assert!(server.stop(Duration::from_secs(5)), "stopped in time");
        assert!(closed_by_server(&mut open, Duration::from_secs(2)));
        let again = std::net::TcpListener::bind(addr);
        assert!(again.is_ok(), "the port is free: {again:?}");
    }

    #[test]
    fn names_follow_the_otel_to_prometheus_rules() {
        assert_eq!(
            metric_name("http.server.request.duration", "s", false),
            "http_server_request_duration_seconds"
        );
        assert_eq!(metric_name("payload", "By", false), "payload_bytes");
        assert_eq!(metric_name("requests", "{request}", false), "requests");
        assert_eq!(
            metric_name("cpu.utilization", "1", true),
            "cpu_utilization_ratio"
        );
        assert_eq!(sanitize("1bad..name-x"), "_1bad_name_x");
        assert_eq!(label_name("service.name"), "service_name");
        assert_eq!(label_name("__reserved"), "_reserved");
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("line\\one\ntwo"), "line\\\\one\\ntwo");
    }
}
