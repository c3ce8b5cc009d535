//! Every option of the three attributes, and the ways to name them.
use telemetry::prelude::*;

struct NotDebug;

fn is_expected(r: &Result<u8, String>) -> bool {
    matches!(r, Err(e) if e == "expected")
}

#[traced(
    name = "custom",
    level = "trace",
    target = "app::custom",
    kind = "consumer",
    skip(_secret),
    fields(user.id = id, shown = %"text", debugged = ?Some(1), empty = tracing::field::Empty),
    err(Debug, level = "warn"),
    ret(Display, level = "debug"),
    parent = None,
    follows_from = [tracing::Span::current().id()],
    crate = ::telemetry,
)]
#[track_errors(ok_if = is_expected, crate = ::telemetry)]
#[measure_performance(slow_ms = 250, crate = ::telemetry)]
fn everything(id: u64, _secret: NotDebug) -> Result<u8, String> {
    let _ = id;
    Ok(1)
}

#[traced(level = tracing::Level::WARN, skip_all, err(Display))]
#[track_errors(error_if = |r: &Result<u8, String>| r.is_err())]
fn path_level(_unrecorded: NotDebug) -> Result<u8, String> {
    Ok(2)
}

#[telemetry::traced(kind = "producer")]
#[telemetry::track_errors]
#[telemetry::measure_performance]
fn paths() {}

#[traced(kind = "server")]
fn server() {}

#[traced(kind = "client")]
fn client() {}

#[traced(kind = "internal", level = "error")]
fn internal() {}

fn main() {
    let _ = everything(1, NotDebug);
    let _ = path_level(NotDebug);
    paths();
    server();
    client();
    internal();
}
