//! `telemetry`: looks into a running service through its admin endpoint.
//!
//! ```text
//! telemetry traces search [--service S] [--name N] [--min-duration 100ms] [--errors] [--limit N]
//! telemetry traces show TRACE_ID
//! telemetry logs tail [--level warn] [--follow]
//! telemetry metrics list [--name PREFIX]
//! telemetry health
//! ```
//!
//! `--addr` (default `127.0.0.1:9464`, the admin endpoint's default) and `--json` work
//! with every command. Install with `cargo install telemetry --features cli`.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
            let mut since: Option<u64> = None;
            let mut first = true;
            loop {
                let mut query = vec![format!("limit={}", if first { *limit } else { 10_000 })];
                if let Some(l) = level {
                    query.push(format!("level={}", encode(l)));
                }
                if let Some(ms) = since {
                    query.push(format!("since={ms}"));
                }
                let body = get(&cli.addr, &format!("/api/logs?{}", query.join("&")))?;
                let v = json(&body)?;
                let mut logs: Vec<&serde_json::Value> =
                    v["logs"].as_array().into_iter().flatten().collect();
                // Oldest first, as a tail reads.
                logs.reverse();
                for l in &logs {
                    let t = l["time_unix_nano"].as_u64().unwrap_or(0);
                    if since.is_some_and(|s| t / 1_000_000 < s) {
                        continue;
                    }
                    if cli.json {
                        println!("{l}");
                    } else {
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
                    }
                }
                if !follow {
                    return Ok(());
                }
                let newest = logs
                    .iter()
                    .filter_map(|l| l["time_unix_nano"].as_u64())
                    .max()
                    .map(|n| n / 1_000_000 + 1);
                since = newest.or(since).or_else(|| Some(now_ms()));
                first = false;
                std::thread::sleep(Duration::from_secs(1));
            }
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A GET on the admin endpoint; the body of a 2xx, or a failure saying what to do.
fn get(addr: &str, path: &str) -> Result<String, Failure> {
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
    let mut s =
        TcpStream::connect_timeout(&target, Duration::from_secs(3)).map_err(|_| no_service())?;
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
