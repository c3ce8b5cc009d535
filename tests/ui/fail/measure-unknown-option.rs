use telemetry::prelude::*;

#[measure_performance(slow = 250)]
fn work() {}

fn main() {
    work();
}
