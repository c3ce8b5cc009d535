//! The `/debug/traces` page in a real browser (headless Chromium from Debian's
//! `chromium`, driven by playwright-core from npm; `.ci/run` installs both): the list
//! shows the service's traces with the error one highlighted, and opening it shows its
//! spans as a waterfall, with details on click.

use std::process::Command;

#[path = "../telemetry/tests/recorded_service/mod.rs"]
mod recorded_service;

use recorded_service::recorded_service;
use tracing_subscriber::prelude::*;

#[test]
fn the_page_lists_the_traces_and_opens_one_as_a_waterfall() {
    let root = env!("CARGO_MANIFEST_DIR");
    let driver = format!("{root}/.ci/debug_page.mjs");
    assert!(
        std::path::Path::new(&format!("{root}/.ci/node_modules/playwright-core")).exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Debian's `chromium` and `npm install --prefix .ci playwright-core` (.ci/run does both)"
    );
    let t = recorded_service("page-test");
    let subscriber = tracing_subscriber::registry().with(t.layer());
    let dispatch = tracing::Dispatch::new(subscriber);
    // A span still running while the page loads.
    let consumer = tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("consume orders");
        span.in_scope(|| {});
        span
    });
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("GET /orders", otel.kind = "server").in_scope(|| {});
        tracing::info_span!("POST /checkout", otel.kind = "server").in_scope(|| {
            tracing::info_span!("load_cart").in_scope(|| {});
            tracing::info_span!("charge", otel.kind = "client", amount = 42_u64).in_scope(|| {
                tracing::error!(error = "card declined", "payment failed");
            });
        });
    });
    t.force_flush().unwrap();
    let url = format!("http://{}/debug/traces", t.admin_address().unwrap());
    let shot = std::env::var("DEBUG_PAGE_SCREENSHOT").unwrap_or_default();
    let out = Command::new("node")
        .arg(&driver)
        .arg(&url)
        .args((!shot.is_empty()).then_some(shot.as_str()))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let rows = seen["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{seen}");
    assert_eq!(rows[0]["name"], "POST /checkout");
    assert_eq!(rows[0]["error"], true);
    assert_eq!(rows[1]["error"], false);
    let spans: Vec<&str> = seen["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(spans, ["POST /checkout", "load_cart", "charge"], "{seen}");
    assert_eq!(seen["errorBars"], 1, "{seen}");
    let details = seen["details"].as_str().unwrap();
    assert!(details.starts_with("charge"), "{details}");
    assert!(details.contains("amount = 42"), "{details}");
    assert!(details.contains("payment failed"), "{details}");
    assert!(seen["logs"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!(
        seen["running"],
        serde_json::json!(["consume orders"]),
        "{seen}"
    );
    assert_eq!(seen["errors"].as_array().unwrap().len(), 0, "{seen}");
    drop(consumer);
    let _ = t.shutdown();
}
