use telemetry::prelude::*;

#[traced(name = 1, kind = "server", kind = "client", colour = "blue")]
#[measure_performance(slow_ms = 1.5)]
fn work() {}

fn main() {
    work();
}
