use telemetry::prelude::*;

#[traced]
#[measure_performance]
#[traced(level = "debug")]
fn work() {}

fn main() {
    work();
}
