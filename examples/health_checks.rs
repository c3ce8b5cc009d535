//! Two dependency health checks and the endpoints a Kubernetes probe reads.
//!
//! A stand-in database (a TCP listener) and a stand-in cache (an HTTP server) run on
//! 127.0.0.1; a critical TCP check and an optional HTTP check watch them. The example
//! prints `/readyz?verbose` and `/health`, stops the database, waits for the check to
//! fail (after 3 failures in a row), prints them again, and exits.
//!
//! ```sh
//! cargo run --example health_checks
//! ```

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use telemetry::checks::CheckStatus;
use telemetry::export::ExporterKind;
use telemetry::{HealthCheck, Telemetry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let database = TcpListener::bind("127.0.0.1:0")?;
    let database_addr = database.local_addr()?;
    let cache_addr = serve_cache()?;

    let telemetry = Telemetry::from_env_lossy()
        .default_service_name("health-checks-example")
        .traces_exporter(ExporterKind::None)
        .metrics_exporter(ExporterKind::None)
        .logs_exporter(ExporterKind::None)
        // The admin endpoint: an ephemeral port here, 127.0.0.1:9464 by default.
        .prometheus_address("127.0.0.1:0".parse()?)
        .health_check(
            HealthCheck::tcp("database", database_addr.to_string())
                .interval(Duration::from_millis(100))
                .timeout(Duration::from_millis(500)),
        )
        .health_check(
            HealthCheck::http("cache", format!("http://{cache_addr}/health"))
                .interval(Duration::from_millis(100))
                .optional(),
        )
        .build()?;
    let admin = telemetry
        .admin_address()
        .ok_or("the admin endpoint needs the `prometheus` feature")?;
    println!("admin endpoint: http://{admin}");

    wait(&telemetry, "database", CheckStatus::Pass)?;
    wait(&telemetry, "cache", CheckStatus::Pass)?;
    println!("GET /readyz?verbose\n{}", get(admin, "/readyz?verbose")?);
    println!("GET /health\n{}\n", get(admin, "/health")?);

    println!("stopping the database...");
    drop(database);
    wait(&telemetry, "database", CheckStatus::Fail)?;
    println!("GET /readyz?verbose\n{}", get(admin, "/readyz?verbose")?);
    telemetry.shutdown()?;
    Ok(())
}

/// Waits until the check `name` has `status`.
fn wait(telemetry: &Telemetry, name: &str, status: CheckStatus) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if telemetry
            .health()
            .checks
            .iter()
            .any(|c| c.name == name && c.status == status)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("{name} did not reach {status:?}"))
}

/// A GET on the admin endpoint: the status line and the body.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.lines().next().unwrap_or_default();
    Ok(format!("{status}\n{body}"))
}

/// A stand-in cache: answers 200 to every request.
fn serve_cache() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    Ok(addr)
}
