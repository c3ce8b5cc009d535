use telemetry::prelude::*;

#[traced(level = "verbose")]
fn checkout() {}

fn main() {
    checkout();
}
