use telemetry::prelude::*;

#[measure_performance(slow_ms = "250")]
fn checkout() {}

fn main() {
    checkout();
}
