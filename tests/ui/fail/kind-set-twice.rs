use telemetry::prelude::*;

#[traced(kind = "server", fields(otel.kind = "client"))]
fn handle() {}

fn main() {
    handle();
}
