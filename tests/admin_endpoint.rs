//! The admin endpoint holds up against clients that take without giving, and goes away
//! with its `Telemetry`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use telemetry::export::ExporterKind;
use telemetry::Telemetry;

fn with_endpoint(address: SocketAddr) -> Telemetry {
    Telemetry::builder()
        .traces_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::Prometheus)
        .prometheus_address(address)
        .install_globals(false)
        .build()
        .unwrap()
}

fn get_metrics(addr: SocketAddr, timeout: Duration) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    Ok(raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0))
}

#[test]
fn metrics_answer_beside_hundreds_of_idle_connections() {
    let t = with_endpoint("127.0.0.1:0".parse().unwrap());
    let addr = t.admin_address().unwrap();
    // Connections that never send a byte, and some that send half a request.
    let mut idle = Vec::new();
    for i in 0..400 {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: te").unwrap();
        }
        idle.push(s);
    }
    // An endpoint that waited on them would answer only once it gives up on them (the
    // header read timeout, 10 s): half that is no timing of speed, and fails such a one.
    for round in 0..3 {
        let started = Instant::now();
        let status = get_metrics(addr, Duration::from_secs(5));
        assert!(
            matches!(status, Ok(200)),
            "round {round}: /metrics answered {status:?} after {:?}",
            started.elapsed()
        );
    }
    // The endpoint held on to at most its limit: the oldest were let go.
    let mut closed = 0;
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {}
        }
    }
    assert!(
        closed >= 400 - 256,
        "at most 256 connections are held open; {closed} of 400 were closed"
    );
    t.shutdown().unwrap();
}

#[test]
fn shutdown_stops_the_endpoint_and_frees_its_port() {
    let first = with_endpoint("127.0.0.1:0".parse().unwrap());
    let addr = first.admin_address().unwrap();
    let mut kept_open = TcpStream::connect(addr).unwrap();
    assert_eq!(get_metrics(addr, Duration::from_secs(5)).unwrap(), 200);
    first.shutdown().unwrap();

    kept_open
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(kept_open.read(&mut buf), Ok(0) | Err(_)),
        "open connections are closed by shutdown"
    );
    assert!(
        get_metrics(addr, Duration::from_secs(1)).is_err(),
        "nothing answers on the old port"
    );
    // A second instance binds the same port right away.
    let second = with_endpoint(addr);
    assert_eq!(second.admin_address(), Some(addr));
    assert_eq!(get_metrics(addr, Duration::from_secs(5)).unwrap(), 200);
    second.shutdown().unwrap();
}
