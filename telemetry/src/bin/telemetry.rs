//! `telemetry`: looks into a running service through its admin endpoint.
//!
//! ```text
//! telemetry traces search [--service S] [--name N] [--min-duration 100ms] [--errors] [--limit N]
//! telemetry traces show TRACE_ID
//! telemetry traces running
//! telemetry logs tail [--level warn] [--follow]
//! telemetry metrics list [--name PREFIX]
//! telemetry health
//! ```
//!
//! `--addr` (default `127.0.0.1:9464`, the admin endpoint's default) and `--json` work
//! with every command. Install with `cargo install telemetry --features cli`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "telemetry",
    version,
    about = "Look into a running service through its admin endpoint"
)]
struct Cli {
    /// The service's admin endpoint.
    #[arg(long, global = true, default_value = "127.0.0.1:9464")]
    addr: String,
    /// Print the endpoint's JSON as it is.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recent traces, from the flight recorder.
    #[command(subcommand)]
    Traces(Traces),
    /// Recent log records, from the flight recorder.
    #[command(subcommand)]
    Logs(Logs),
    /// Every metric series and its current value.
    #[command(subcommand)]
    Metrics(Metrics),
    /// The service's health: its checks and its export pipelines.
    Health,
}

#[derive(Subcommand)]
enum Traces {
    /// A table of the traces that match, newest first.
    Search(Search),
    /// One trace as the console prints it.
    Show {
        /// The trace id (32 hex digits).
        trace_id: String,
    },
    /// The spans running now, the longest running first.
    Running,
}

#[derive(Args)]
struct Search {
    /// The service (`service.name`).
    #[arg(long)]
    service: Option<String>,
    /// The root span's name contains this.
    #[arg(long)]
    name: Option<String>,
    /// At least this long: `100ms`, `1.5s`.
    #[arg(long)]
    min_duration: Option<String>,
    /// Only traces with an error.
    #[arg(long)]
    errors: bool,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Subcommand)]
enum Logs {
    /// The latest log records; with `--follow`, new ones as they come.
    Tail {
        /// At least this level: trace, debug, info, warn, error.
        #[arg(long)]
        level: Option<String>,
        /// Keep printing new records.
        #[arg(long)]
        follow: bool,
        /// How many to print first.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum Metrics {
    /// One line per series: name, unit, attributes, value.
    List {
        /// Only names that start with this.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Something the person can act on.
struct Failure(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("telemetry: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Traces(Traces::Search(s)) => {
            let mut query = vec![format!("limit={}", s.limit)];
            if let Some(v) = &s.service {
                query.push(format!("service={}", encode(v)));
            }
            if let Some(v) = &s.name {
                query.push(format!("name={}", encode(v)));
            }
            if let Some(v) = &s.min_duration {
                query.push(format!("min_duration={}", encode(v)));
            }
            if s.errors {
                query.push("errors=true".into());
            }
            let body = get(&cli.addr, &format!("/api/traces?{}", query.join("&")))?;
            if cli.json {
                println!("{body}");
                return Ok(());
            }
            let v = json(&body)?;
            println!(
                "{:<32}  {:<10}  {:>9}  {:>5}  {:<5}  NAME",
                "TRACE ID", "SERVICE", "DURATION", "SPANS", "ERROR"
            );
            for t in v["traces"].as_array().into_iter().flatten() {
                println!(
                    "{:<32}  {:<10}  {:>9}  {:>5}  {:<5}  {}",
                    t["trace_id"].as_str().unwrap_or(""),
                    t["service"].as_str().unwrap_or(""),
                    t["duration"].as_str().unwrap_or(""),
                    t["spans"].as_u64().unwrap_or(0),
                    if t["error"].as_bool() == Some(true) {
                        "yes"
                    } else {
                        ""
                    },
                    t["name"].as_str().unwrap_or(""),
                );
            }
            Ok(())
        }
        Command::Traces(Traces::Running) => {
            let body = get(&cli.addr, "/api/running")?;
            if cli.json {
                println!("{body}");
                return Ok(());
            }
            let v = json(&body)?;
            println!("{:<32}  {:>9}  NAME", "TRACE ID", "RUNNING");
            for s in v["running"].as_array().into_iter().flatten() {
                println!(
                    "{:<32}  {:>9}  {}",
                    s["trace_id"].as_str().unwrap_or("-"),
                    s["elapsed"].as_str().unwrap_or(""),
                    s["name"].as_str().unwrap_or(""),
                );
            }
            Ok(())
        }
        Command::Traces(Traces::Show { trace_id }) => {
            let path = if cli.json {
                format!("/api/traces/{}", encode(trace_id))
            } else {
                format!("/api/traces/{}?format=tree", encode(trace_id))
            };
            print!("{}", get(&cli.addr, &path)?);
            if cli.json {
                println!();
            }
            Ok(())
        }
        Command::Logs(Logs::Tail {
            level,
            follow,
            limit,
        }) => {
            let mut query = vec![format!("limit={limit}")];
            if let Some(l) = level {
                query.push(format!("level={}", encode(l)));
            }
            if *follow {
                // The endpoint streams the tail, then each new record, one JSON per line.
                query.push("follow".to_string());
                return stream(
                    &cli.addr,
                    &format!("/api/logs?{}", query.join("&")),
                    |line| {
                        if let Ok(l) = serde_json::from_str::<serde_json::Value>(line) {
                            print_log(&l, cli.json);
                        }
                    },
                );
            }
            let body = get(&cli.addr, &format!("/api/logs?{}", query.join("&")))?;
            let v = json(&body)?;
            // Oldest first, as a tail reads.
            for l in v["logs"].as_array().into_iter().flatten().rev() {
                print_log(l, cli.json);
            }
            Ok(())
        }
        Command::Metrics(Metrics::List { name }) => {
            let path = match name {
                Some(n) => format!("/api/metrics?name={}", encode(n)),
                None => "/api/metrics".to_string(),
            };
            let body = get(&cli.addr, &path)?;
            if cli.json {
                println!("{body}");
                return Ok(());
            }
            let v = json(&body)?;
            for m in v["metrics"].as_array().into_iter().flatten() {
                let attrs: Vec<String> = m["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| Some(format!("{}={}", a[0].as_str()?, a[1].as_str()?)))
                    .collect();
                let value = &m["value"];
                let shown = if let Some(h) = value.get("histogram") {
                    format!("count={} sum={}", h["count"], h["sum"])
                } else if let Some(v) = value.get("sum").or_else(|| value.get("gauge")) {
                    v.to_string()
                } else {
                    value.to_string()
                };
                let unit = m["unit"].as_str().unwrap_or("");
                println!(
                    "{}{}  {}  {}",
                    m["name"].as_str().unwrap_or(""),
                    if unit.is_empty() {
                        String::new()
                    } else {
                        format!(" ({unit})")
                    },
                    attrs.join(" "),
                    shown
                );
            }
            Ok(())
        }
        Command::Health => {
            let path = if cli.json {
                "/health"
            } else {
                "/health?verbose"
            };
            print!("{}", get(&cli.addr, path)?);
            if cli.json {
                println!();
            }
            Ok(())
        }
    }
}

/// One log record, as the console prints it (or as JSON).
fn print_log(l: &serde_json::Value, as_json: bool) {
    if as_json {
        println!("{l}");
        return;
    }
    let fields: Vec<String> = l["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| Some(format!("{}={}", f[0].as_str()?, f[1].as_str()?)))
        .collect();
    println!(
        "{} {:>5} {}: {}{}{}",
        l["time"].as_str().unwrap_or(""),
        l["level"].as_str().unwrap_or(""),
        l["target"].as_str().unwrap_or(""),
        l["message"].as_str().unwrap_or(""),
        if fields.is_empty() { "" } else { " " },
        fields.join(" ")
    );
    // A pipe (`| grep`) sees each record as it comes.
    let _ = std::io::stdout().flush();
}

/// Connects to the admin endpoint, or says what to check.
fn connect(addr: &str) -> Result<TcpStream, Failure> {
    let no_service = || {
        Failure(format!(
            "no service listening on {addr} (is the admin endpoint on? It runs with \
             OTEL_METRICS_EXPORTER=prometheus, a health check or the recorder; its address is \
             OTEL_EXPORTER_PROMETHEUS_HOST and OTEL_EXPORTER_PROMETHEUS_PORT; or pass --addr)"
        ))
    };
    let target = addr
        .to_socket_addrs()
        .map_err(|_| {
            Failure(format!(
                "--addr {addr:?} is not host:port, like 127.0.0.1:9464"
            ))
        })?
        .next()
        .ok_or_else(no_service)?;
    TcpStream::connect_timeout(&target, Duration::from_secs(3)).map_err(|_| no_service())
}

/// A streamed GET: calls `line` with each non-empty line of the body as it arrives,
/// until the service ends the stream.
fn stream(addr: &str, path: &str, mut line: impl FnMut(&str)) -> Result<(), Failure> {
    let s = connect(addr)?;
    let io = |e: std::io::Error| Failure(format!("{addr}: {e}"));
    write!(&s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").map_err(io)?;
    let mut r = BufReader::new(s);
    let mut head = String::new();
    let mut chunked = false;
    let mut status = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).map_err(io)? == 0 || h == "\r\n" {
            break;
        }
        if status == 0 {
            status = h.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        }
        let lower = h.to_ascii_lowercase();
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
        head.push_str(&h);
    }
    if status != 200 {
        let mut body = String::new();
        let _ = r.read_to_string(&mut body);
        return Err(Failure(format!(
            "{addr} answered {status}: {}",
            body.trim()
        )));
    }
    // The body's bytes, chunk by chunk; lines may span chunks.
    let mut pending = Vec::new();
    let mut emit = |bytes: &[u8], pending: &mut Vec<u8>| {
        pending.extend_from_slice(bytes);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let l: Vec<u8> = pending.drain(..=end).collect();
            let l = String::from_utf8_lossy(&l);
            if !l.trim().is_empty() {
                line(l.trim_end());
            }
        }
    };
    if !chunked {
        let mut buf = [0u8; 8192];
        loop {
            let n = r.read(&mut buf).map_err(io)?;
            if n == 0 {
                return Ok(());
            }
            emit(&buf[..n], &mut pending);
        }
    }
    loop {
        let mut size = String::new();
        if r.read_line(&mut size).map_err(io)? == 0 {
            return Ok(());
        }
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| Failure(format!("{addr} sent a malformed chunk size {size:?}")))?;
        if n == 0 {
            return Ok(());
        }
        let mut chunk = vec![0u8; n + 2];
        r.read_exact(&mut chunk).map_err(io)?;
        emit(&chunk[..n], &mut pending);
    }
}

/// A GET on the admin endpoint; the body of a 2xx, or a failure saying what to do.
fn get(addr: &str, path: &str) -> Result<String, Failure> {
    let mut s = connect(addr)?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| Failure(format!("{addr}: {e}")))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| Failure(format!("{addr}: {e}")))?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| Failure(format!("{addr} answered something that is not HTTP")))?;
    let status: u16 = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    match status {
        200..=299 => Ok(body.to_string()),
        // Health endpoints answer 503 with a report worth printing.
        503 if path.starts_with("/health") => Ok(body.to_string()),
        404 if path.starts_with("/api/") => Err(Failure(body.trim().to_string())),
        _ => Err(Failure(format!(
            "{addr} answered {status}: {}",
            body.trim()
        ))),
    }
}

fn json(body: &str) -> Result<serde_json::Value, Failure> {
    serde_json::from_str(body)
        .map_err(|e| Failure(format!("the endpoint's answer is not JSON: {e}")))
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
