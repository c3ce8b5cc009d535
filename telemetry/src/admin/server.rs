//! The endpoint's HTTP server: a listener on its own thread and current-thread runtime,
//! a bounded set of connections, timeouts for slow and idle clients.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::{respond, Source};

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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use std::io::{Read as _, Write as _};

    use crate::admin::Pulled;
    use std::net::TcpStream;

    struct Empty;

    impl Source for Empty {
        fn metrics(&self) -> Pulled {
            Pulled::Metrics(ResourceMetrics::default())
        }
        fn health(&self) -> Option<(crate::HealthReport, Result<(), String>)> {
            None
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
}
