//! A fake OTLP collector for tests: gRPC (opentelemetry-proto's generated server) and
//! HTTP (hyper) on 127.0.0.1 with an ephemeral port, answering from a script and
//! keeping every decoded request. It runs on its own thread and runtime, so it keeps
//! answering whatever the test's own runtime is doing.

#![allow(dead_code, unreachable_pub)]

pub mod tls;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

/// What the collector answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Accept everything.
    Ok,
    /// Accept with a partial success.
    Partial {
        rejected: i64,
        message: &'static str,
    },
    /// HTTP only: this status, with an optional `Retry-After` value.
    Http {
        status: u16,
        retry_after: Option<String>,
    },
    /// gRPC only: this code, with an optional `RetryInfo` delay.
    Grpc {
        code: tonic::Code,
        retry_info: Option<Duration>,
    },
    /// Never answer (the request is still recorded).
    Hang,
    /// Answer OK after this long.
    Delay(Duration),
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body after gunzip (HTTP), for golden checks of the JSON encoding.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
    pub request: ExportTraceServiceRequest,
}

#[derive(Default)]
struct State {
    script: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Option<Reply>>,
    received: Mutex<Vec<Received>>,
    /// Log and metric requests: always answered OK (the script is for spans).
    logs: Mutex<Vec<(Received, ExportLogsServiceRequest)>>,
    metrics: Mutex<Vec<(Received, ExportMetricsServiceRequest)>>,
    /// Requests larger than this (encoded bytes) are refused as a Collector does:
    /// gRPC RESOURCE_EXHAUSTED "received message larger than max", HTTP 413.
    max_request_size: Option<usize>,
    /// Requests refused for their size.
    refused_for_size: Mutex<usize>,
    /// TLS handshakes that failed, with the server side's reason.
    handshake_failures: Mutex<Vec<String>>,
}

impl State {
    /// The refusal of an oversized gRPC request, worded as grpc-go's.
    fn too_large(&self, len: usize) -> Result<(), tonic::Status> {
        match self.max_request_size {
            Some(max) if len > max => {
                *self.refused_for_size.lock().unwrap() += 1;
                Err(tonic::Status::resource_exhausted(format!(
                    "grpc: received message larger than max ({len} vs. {max})"
                )))
            }
            _ => Ok(()),
        }
    }
}

impl State {
    fn next_reply(&self) -> Reply {
        if let Some(r) = self.script.lock().unwrap().pop_front() {
            return r;
        }
        self.otherwise
            .lock()
            .unwrap()
            .clone()
            .expect("fake collector: a request arrived that the test did not script")
    }
}

/// Which protocol the fake collector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Grpc,
    Http,
}

pub struct FakeCollector {
    pub addr: SocketAddr,
    pub wire: Wire,
    tls: bool,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCollector {
    /// Starts a collector that answers `Ok` to everything.
    pub fn start(wire: Wire) -> FakeCollector {
        let c = FakeCollector::scripted(wire, []);
        c.otherwise(Reply::Ok);
        c
    }

    /// Starts a collector that answers these replies in order, and fails the test on
    /// any request past them unless [`otherwise`](Self::otherwise) is set.
    pub fn scripted(wire: Wire, replies: impl IntoIterator<Item = Reply>) -> FakeCollector {
        FakeCollector::scripted_on("127.0.0.1:0".parse().unwrap(), wire, replies, None, None)
    }

    /// Starts an always-`Ok` collector that speaks `wire` over TLS with this server
    /// configuration (its ALPN is set here: `h2` for gRPC).
    pub fn with_tls(wire: Wire, mut config: rustls::ServerConfig) -> FakeCollector {
        config.alpn_protocols = match wire {
            Wire::Grpc => vec![b"h2".to_vec()],
            Wire::Http => vec![b"http/1.1".to_vec()],
        };
        let c = FakeCollector::scripted_on(
            "127.0.0.1:0".parse().unwrap(),
            wire,
            [],
            None,
            Some(Arc::new(config)),
        );
        c.otherwise(Reply::Ok);
        c
    }

    /// The TLS handshakes that failed, with the collector's reason.
    pub fn handshake_failures(&self) -> Vec<String> {
        self.state.handshake_failures.lock().unwrap().clone()
    }

    /// The TLS handshakes that failed, once there is one (or `timeout` has passed): the
    /// client can learn of a refused handshake before the collector's side has noted it.
    pub fn handshake_failures_within(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let failures = self.handshake_failures();
            if !failures.is_empty() || Instant::now() >= deadline {
                return failures;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts an always-`Ok` collector that refuses requests over `max_request_size`
    /// encoded bytes, as the Collector does (gRPC RESOURCE_EXHAUSTED, HTTP 413).
    pub fn with_max_request_size(wire: Wire, max_request_size: usize) -> FakeCollector {
        let c = FakeCollector::scripted_on(
            "127.0.0.1:0".parse().unwrap(),
            wire,
            [],
            Some(max_request_size),
            None,
        );
        c.otherwise(Reply::Ok);
        c
    }

    /// How many requests were refused for their size.
    pub fn refused_for_size(&self) -> usize {
        *self.state.refused_for_size.lock().unwrap()
    }

    /// Starts an always-`Ok` collector on a given address (to bring a "crashed"
    /// collector back on the port the application was exporting to).
    pub fn start_on(addr: SocketAddr, wire: Wire) -> FakeCollector {
        let c = FakeCollector::scripted_on(addr, wire, [], None, None);
        c.otherwise(Reply::Ok);
        c
    }

    fn scripted_on(
        addr: SocketAddr,
        wire: Wire,
        replies: impl IntoIterator<Item = Reply>,
        max_request_size: Option<usize>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> FakeCollector {
        let state = Arc::new(State {
            max_request_size,
            ..State::default()
        });
        state.script.lock().unwrap().extend(replies);
        let listener = std::net::TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let is_tls = tls.is_some();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                match wire {
                    Wire::Grpc => serve_grpc(listener, acceptor, st, stopped).await,
                    Wire::Http => serve_http(listener, acceptor, st, stopped).await,
                }
            });
        });
        FakeCollector {
            addr,
            wire,
            tls: is_tls,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The reply once the script is used up.
    pub fn otherwise(&self, reply: Reply) {
        *self.state.otherwise.lock().unwrap() = Some(reply);
    }

    /// The base endpoint to configure (`http://127.0.0.1:PORT`, or `https://` with
    /// TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Every span received, in arrival order.
    pub fn spans(&self) -> Vec<Span> {
        self.requests()
            .into_iter()
            .flat_map(|r| r.request.resource_spans)
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .collect()
    }

    pub fn span_count(&self) -> usize {
        self.spans().len()
    }

    /// Every log record received.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.state
            .logs
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, r)| r.resource_logs.clone())
            .flat_map(|rl| rl.scope_logs)
            .flat_map(|sl| sl.log_records)
            .collect()
    }

    /// The metric requests received (path, headers) with their decoded bodies.
    pub fn metric_requests(&self) -> Vec<(Received, ExportMetricsServiceRequest)> {
        self.state.metrics.lock().unwrap().clone()
    }

    /// The log requests received with their decoded bodies.
    pub fn log_requests(&self) -> Vec<(Received, ExportLogsServiceRequest)> {
        self.state.logs.lock().unwrap().clone()
    }

    /// Every metric received, in arrival order.
    pub fn metrics(&self) -> Vec<Metric> {
        self.metric_requests()
            .into_iter()
            .flat_map(|(_, r)| r.resource_metrics)
            .flat_map(|rm| rm.scope_metrics)
            .flat_map(|sm| sm.metrics)
            .collect()
    }
}

impl Drop for FakeCollector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---- gRPC ----------------------------------------------------------------------------

struct Grpc(Arc<State>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.too_large(request.get_ref().encoded_len())?;
        let mut received = meta(
            &request,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        );
        received.body = request.get_ref().encode_to_vec();
        received.request = request.into_inner();
        self.0.received.lock().unwrap().push(received);
        match self.0.next_reply() {
            Reply::Ok => Ok(tonic::Response::new(ExportTraceServiceResponse::default())),
            Reply::Partial { rejected, message } => {
                Ok(tonic::Response::new(ExportTraceServiceResponse {
                    partial_success: Some(ExportTracePartialSuccess {
                        rejected_spans: rejected,
                        error_message: message.to_string(),
                    }),
                }))
            }
            Reply::Grpc { code, retry_info } => Err(grpc_status(code, retry_info)),
            Reply::Http { .. } => panic!("fake collector: HTTP reply scripted for gRPC"),
            Reply::Hang => std::future::pending().await,
            Reply::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
            }
        }
    }
}

fn meta<T>(request: &tonic::Request<T>, path: &str) -> Received {
    let headers = request
        .metadata()
        .iter()
        .filter_map(|kv| match kv {
            tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                Some((k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            }
            _ => None,
        })
        .collect::<Vec<_>>();
    Received {
        path: path.to_string(),
        content_type: Some("application/grpc".into()),
        content_encoding: headers
            .iter()
            .find(|(k, _)| k == "grpc-encoding")
            .map(|(_, v)| v.clone()),
        headers,
        body: Vec::new(),
        at: std::time::Instant::now(),
        request: ExportTraceServiceRequest::default(),
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.0.too_large(request.get_ref().encoded_len())?;
        let m = meta(
            &request,
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        );
        self.0.logs.lock().unwrap().push((m, request.into_inner()));
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.too_large(request.get_ref().encoded_len())?;
        let m = meta(
            &request,
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        );
        self.0
            .metrics
            .lock()
            .unwrap()
            .push((m, request.into_inner()));
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn serve_grpc(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let gzip = tonic::codec::CompressionEncoding::Gzip;
    // With a size limit the handlers refuse as grpc-go does; tonic's own check (4 MiB
    // by default) would answer OUT_OF_RANGE first.
    let decode_limit = match state.max_request_size {
        Some(_) => usize::MAX,
        None => 4 * 1024 * 1024,
    };
    let service = TraceServiceServer::new(Grpc(state.clone()))
        .accept_compressed(gzip)
        .max_decoding_message_size(decode_limit);
    let router = tonic::transport::Server::builder()
        .add_service(service)
        .add_service(
            LogsServiceServer::new(Grpc(state.clone()))
                .accept_compressed(gzip)
                .max_decoding_message_size(decode_limit),
        )
        .add_service(
            MetricsServiceServer::new(Grpc(state.clone()))
                .accept_compressed(gzip)
                .max_decoding_message_size(decode_limit),
        );
    let stopped = async {
        let _ = stopped.await;
    };
    match acceptor {
        None => router
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stopped,
            )
            .await
            .unwrap(),
        Some(acceptor) => {
            // Handshakes happen here; tonic gets the streams that made it.
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<TlsIo, std::io::Error>>(16);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (acceptor, tx, state) = (acceptor.clone(), tx.clone(), state.clone());
                    tokio::spawn(async move {
                        match acceptor.accept(stream).await {
                            Ok(tls) => {
                                let _ = tx.send(Ok(TlsIo(tls))).await;
                            }
                            Err(e) => state.handshake_failures.lock().unwrap().push(e.to_string()),
                        }
                    });
                }
            });
            router
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::ReceiverStream::new(rx),
                    stopped,
                )
                .await
                .unwrap()
        }
    }
}

/// A server-side TLS stream tonic can serve.
struct TlsIo(tokio_rustls::server::TlsStream<tokio::net::TcpStream>);

impl tonic::transport::server::Connected for TlsIo {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl tokio::io::AsyncRead for TlsIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        tokio::io::AsyncRead::poll_read(std::pin::Pin::new(&mut self.0), cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(std::pin::Pin::new(&mut self.0), cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(std::pin::Pin::new(&mut self.0), cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(std::pin::Pin::new(&mut self.0), cx)
    }
}

/// `google.rpc.Status` with a `RetryInfo` detail, as collectors send it.
fn grpc_status(code: tonic::Code, retry_info: Option<Duration>) -> tonic::Status {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<ProtoDuration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }
    let message = format!("scripted {code:?}");
    match retry_info {
        None => tonic::Status::new(code, message),
        Some(d) => {
            let info = RetryInfo {
                retry_delay: Some(ProtoDuration {
                    seconds: d.as_secs() as i64,
                    nanos: d.subsec_nanos() as i32,
                }),
            };
            let status = RpcStatus {
                code: code as i32,
                message: message.clone(),
                details: vec![Any {
                    type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                    value: info.encode_to_vec(),
                }],
            };
            tonic::Status::with_details(code, message, Bytes::from(status.encode_to_vec()))
        }
    }
}

// ---- HTTP ----------------------------------------------------------------------------

async fn serve_http(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let st = state.clone();
            let service = hyper::service::service_fn(move |req| handle_http(req, st.clone()));
            let http = hyper::server::conn::http1::Builder::new();
            match acceptor {
                None => {
                    let _ = http
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => {
                        let _ = http
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                    }
                    Err(e) => state.handshake_failures.lock().unwrap().push(e.to_string()),
                },
            }
        });
    }
}

/// Decodes an OTLP body as protobuf or JSON, failing the test on a bad one.
fn decode<M: prost::Message + Default + serde::de::DeserializeOwned>(body: &[u8], json: bool) -> M {
    if json {
        serde_json::from_slice(body).expect("fake collector: bad OTLP/JSON body")
    } else {
        M::decode(body).expect("fake collector: bad OTLP/protobuf body")
    }
}

fn encode<M: prost::Message + serde::Serialize>(message: &M, json: bool) -> Vec<u8> {
    if json {
        serde_json::to_vec(message).unwrap()
    } else {
        message.encode_to_vec()
    }
}

async fn handle_http(
    req: http::Request<hyper::body::Incoming>,
    state: Arc<State>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let raw = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let content_encoding = header("content-encoding");
    if state.max_request_size.is_some_and(|max| raw.len() > max) {
        *state.refused_for_size.lock().unwrap() += 1;
        return Ok(http::Response::builder()
            .status(413)
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    let body = if content_encoding.as_deref() == Some("gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_ref())
            .read_to_end(&mut out)
            .expect("fake collector: bad gzip body");
        out
    } else {
        raw.to_vec()
    };
    let json = content_type.as_deref() == Some("application/json");
    let received = |request| Received {
        path: parts.uri.path().to_string(),
        content_type: content_type.clone(),
        content_encoding: content_encoding.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.clone(),
        at: std::time::Instant::now(),
        request,
    };
    let ok_body = |bytes: Vec<u8>| {
        http::Response::builder()
            .status(200)
            .header(
                "content-type",
                if json {
                    "application/json"
                } else {
                    "application/x-protobuf"
                },
            )
            .body(Full::new(Bytes::from(bytes)))
            .unwrap()
    };
    let reply = |bytes: Vec<u8>| Ok(ok_body(bytes));
    if parts.uri.path().ends_with("/v1/logs") {
        let logs: ExportLogsServiceRequest = decode(&body, json);
        let meta = received(ExportTraceServiceRequest::default());
        state.logs.lock().unwrap().push((meta, logs));
        return reply(encode(&ExportLogsServiceResponse::default(), json));
    }
    if parts.uri.path().ends_with("/v1/metrics") {
        let metrics: ExportMetricsServiceRequest = decode(&body, json);
        let meta = received(ExportTraceServiceRequest::default());
        state.metrics.lock().unwrap().push((meta, metrics));
        return reply(encode(&ExportMetricsServiceResponse::default(), json));
    }
    let request = if json {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body)
            .expect("fake collector: bad OTLP/JSON body")
    } else {
        ExportTraceServiceRequest::decode(body.as_slice())
            .expect("fake collector: bad OTLP/protobuf body")
    };
    state.received.lock().unwrap().push(received(request));
    let ok = |response: ExportTraceServiceResponse| {
        let (body, ct) = if json {
            (serde_json::to_vec(&response).unwrap(), "application/json")
        } else {
            (response.encode_to_vec(), "application/x-protobuf")
        };
        http::Response::builder()
            .status(200)
            .header("content-type", ct)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    Ok(match state.next_reply() {
        Reply::Ok => ok(ExportTraceServiceResponse::default()),
        Reply::Partial { rejected, message } => ok(ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message.to_string(),
            }),
        }),
        Reply::Http {
            status,
            retry_after,
        } => {
            let mut b = http::Response::builder().status(status);
            if let Some(ra) = retry_after {
                b = b.header("retry-after", ra.as_str());
            }
            b.body(Full::new(Bytes::new())).unwrap()
        }
        Reply::Grpc { .. } => panic!("fake collector: gRPC reply scripted for HTTP"),
        Reply::Hang => std::future::pending().await,
        Reply::Delay(d) => {
            tokio::time::sleep(d).await;
            ok(ExportTraceServiceResponse::default())
        }
    })
}

/// The value of the attribute `key`, if there is one.
pub fn attr<'a>(
    attrs: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<&'a opentelemetry_proto::tonic::common::v1::any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// An address on 127.0.0.1 where nothing listens (yet).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Telemetry pointed at a fake collector, with a short batch delay and the given
/// shutdown timeout.
pub fn telemetry_for(
    collector: &FakeCollector,
    protocol: telemetry::export::Protocol,
    shutdown_timeout: Duration,
) -> telemetry::Telemetry {
    telemetry::Telemetry::builder()
        .service_name("fake-collector-test")
        .endpoint(collector.endpoint())
        .protocol(protocol)
        .traces_batch(telemetry::export::BatchConfig {
            schedule_delay: Duration::from_millis(50),
            ..telemetry::export::BatchConfig::TRACES
        })
        .shutdown_timeout(shutdown_timeout)
        .build()
        .expect("telemetry for the fake collector")
}
