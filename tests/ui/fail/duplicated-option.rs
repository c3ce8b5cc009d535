use telemetry::prelude::*;

#[traced(level = "info", level = "debug")]
fn checkout() {}

fn main() {
    checkout();
}
