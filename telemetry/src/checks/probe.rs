//! Running one probe within its timeout: a TCP connect, an HTTP request, or the
//! application's function (async on the runner's runtime, blocking on a thread of the
//! runtime's blocking pool). A panic in the application's function is a failed run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{CheckContext, HealthCheck, Observed, Outcome, Probe};
use crate::export::reason_of;

/// The HTTP clients of the checks, made on the runner's runtime.
pub(crate) struct Clients {
    plain: Client<HttpConnector, Empty<Bytes>>,
    #[cfg(feature = "tls")]
    tls: Option<Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>>,
}

impl Clients {
    pub(crate) fn new() -> Clients {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        #[cfg(feature = "tls")]
        let tls = crate::export::otlp::tls::ClientTls::load(&Default::default())
            .ok()
            .and_then(|t| t.connector(http.clone(), false).ok())
            .map(|https| Client::builder(TokioExecutor::new()).build(https));
        Clients {
            plain: Client::builder(TokioExecutor::new()).build(http),
            #[cfg(feature = "tls")]
            tls,
        }
    }
}

/// Whether a blocking check is still running (it cannot be stopped, only waited for).
pub(crate) type Busy = Arc<AtomicBool>;

/// Runs `check` once; `Err` says why it failed, in words.
pub(crate) async fn run(check: &HealthCheck, run: u64, clients: &Clients, busy: &Busy) -> Outcome {
    let ctx = CheckContext {
        name: Arc::from(check.name.as_str()),
        timeout: check.timeout,
        run,
    };
    let started = Instant::now();
    let timed_out = || Err(format!("no answer within {:?}", check.timeout));
    let took = |started: Instant| Observed::value(millis(started.elapsed()), "ms");
    match &check.probe {
        Probe::Tcp { address } => {
            let connect = tokio::net::TcpStream::connect(address.as_str());
            match tokio::time::timeout(check.timeout, connect).await {
                Ok(Ok(_stream)) => Ok(took(started)),
                Ok(Err(e)) => Err(reason_of(&e)),
                Err(_) => timed_out(),
            }
        }
        Probe::Http {
            url,
            method,
            headers,
            expect,
        } => {
            let request = http_request(url, method, headers)?;
            let sent = async {
                #[cfg(feature = "tls")]
                if url.starts_with("https://") {
                    return match &clients.tls {
                        Some(tls) => tls.request(request).await,
                        None => return Err("no TLS trust roots could be loaded".to_string()),
                    }
                    .map_err(|e| reason_of(&e));
                }
                clients
                    .plain
                    .request(request)
                    .await
                    .map_err(|e| reason_of(&e))
            };
            match tokio::time::timeout(check.timeout, sent).await {
                Ok(Ok(response)) => {
                    let status = response.status();
                    let passes = if expect.is_empty() {
                        status.is_success()
                    } else {
                        expect.contains(&status.as_u16())
                    };
                    if passes {
                        Ok(took(started))
                    } else {
                        let wanted = if expect.is_empty() {
                            "2xx".to_string()
                        } else {
                            expect
                                .iter()
                                .map(u16::to_string)
                                .collect::<Vec<_>>()
                                .join(" or ")
                        };
                        Err(format!("answered {status} (expected {wanted})"))
                    }
                }
                Ok(Err(why)) => Err(why),
                Err(_) => timed_out(),
            }
        }
        Probe::Async(probe) => {
            let task = tokio::spawn(probe(ctx));
            let abort = task.abort_handle();
            match tokio::time::timeout(check.timeout, task).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(join)) => Err(panicked(join)),
                Err(_) => {
                    abort.abort();
                    timed_out()
                }
            }
        }
        Probe::Blocking(probe) => {
            if busy.swap(true, Ordering::AcqRel) {
                return Err(format!(
                    "the previous run is still going, past its timeout of {:?}",
                    check.timeout
                ));
            }
            let probe = probe.clone();
            let flag = busy.clone();
            let task = tokio::task::spawn_blocking(move || {
                struct Done(Busy);
                impl Drop for Done {
                    fn drop(&mut self) {
                        self.0.store(false, Ordering::Release);
                    }
                }
                let _done = Done(flag);
                probe(ctx)
            });
            match tokio::time::timeout(check.timeout, task).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(join)) => Err(panicked(join)),
                Err(_) => timed_out(),
            }
        }
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

fn http_request(
    url: &str,
    method: &str,
    headers: &[(String, String)],
) -> Result<http::Request<Empty<Bytes>>, String> {
    let method = http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = http::Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::USER_AGENT, "telemetry-health-check");
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    // Validated at build time; an error here names no header value.
    request
        .body(Empty::new())
        .map_err(|_| "the request cannot be made from the check's settings".to_string())
}

fn panicked(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            format!("the check panicked: {message}")
        }
        Err(_) => "the check was cancelled".into(),
    }
}
