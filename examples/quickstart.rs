//! The quickstart: a small checkout service's workload, traced with one layer.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no collector configured, every finished trace prints to the console as a tree,
//! log lines written outside a span print as they come, and the metrics (span
//! durations, an event counter) print as a table at the end. Point it at a collector
//! with `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318`; with
//! `OTEL_METRICS_EXPORTER=prometheus` it stays up after its workload, serving
//! `/metrics` and `/health` on `localhost:9464` until Ctrl-C. With `--serve` it keeps
//! the flight recorder on and stays up too: look with the `telemetry` command-line
//! program (`cargo run -p telemetry --features cli --bin telemetry -- traces search`).

use std::fmt;
use std::time::Duration;

use telemetry::prelude::*;
use tracing::{info, info_span, warn, Instrument as _};

/// A payment that did not go through.
#[derive(Debug)]
struct CardDeclined {
    order: u64,
}

impl fmt::Display for CardDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "card declined for order {}", self.order)
    }
}

impl std::error::Error for CardDeclined {}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One call: reads OTEL_* variables, installs the subscriber, returns the guard that
    // flushes and shuts down when `main` returns.
    let serve = std::env::args().skip(1).any(|a| a == "--serve");
    let mut builder = telemetry::Telemetry::from_env_lossy()
        .default_service_name("checkout")
        .service_version("1.4.2");
    if serve {
        builder = builder.recorder(telemetry::recorder::RecorderConfig::default());
    }
    let _guard = builder.init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for order in [1001, 1002, 1003] {
            if let Err(e) = handle_checkout(order).await {
                warn!(order, error = %e, "checkout failed");
            }
        }
    });
    info!("quickstart finished");

    // With OTEL_METRICS_EXPORTER=prometheus or --serve, stay up so a person can look.
    if let Some(addr) = _guard.telemetry().and_then(|t| t.admin_address()) {
        if let Some(t) = _guard.telemetry() {
            let _ = t.force_flush();
        }
        if serve {
            println!("serving http://{addr}/debug/traces (the flight recorder's page), /api/traces, /api/logs, /api/metrics and /health");
            println!("try: telemetry --addr {addr} traces search    (cargo install --path telemetry --features cli)");
            println!("press Ctrl-C to stop");
        } else {
            println!(
                "serving http://{addr}/metrics and http://{addr}/health; press Ctrl-C to stop"
            );
        }
        runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
    }
    Ok(())
}

/// A server span with nested sync and async work.
async fn handle_checkout(order: u64) -> Result<(), CardDeclined> {
    let span = info_span!(
        "POST /checkout",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/checkout",
        order.id = order,
    );
    async move {
        info!(order, "processing order");
        let items = load_cart(order);
        reserve_stock(order, items)
            .instrument(info_span!("reserve_stock", items))
            .await;
        charge(order, items).await?;
        info!(order, "order confirmed");
        // A counter from an event field (`checkout.orders` in the metrics); with no
        // message, the event is a metric only, not a log line.
        info!(monotonic_counter.checkout.orders = 1_u64, payment = "card");
        Ok(())
    }
    .instrument(span)
    .await
}

/// Synchronous work in its own span, made by `#[traced]`.
#[traced]
fn load_cart(order: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    let items = order % 5 + 1;
    info!(items, "cart loaded");
    items
}

async fn reserve_stock(order: u64, items: u64) {
    for sku in 0..items.min(2) {
        async {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        .instrument(info_span!(
            "db.query",
            db.operation.name = "UPDATE",
            sku,
            order.id = order
        ))
        .await;
    }
}

/// A client call that fails for one order: the error becomes the span's status and an
/// exception event; `#[measure_performance]` records its duration and warns when it
/// takes longer than 8 ms.
#[traced(kind = "client", err)]
#[measure_performance(slow_ms = 8)]
async fn charge(order: u64, items: u64) -> Result<(), CardDeclined> {
    tokio::time::sleep(Duration::from_millis(5 * items.min(2))).await;
    if order == 1003 {
        return Err(CardDeclined { order });
    }
    Ok(())
}
