use telemetry::prelude::*;

#[traced(name = checkout)]
fn checkout() {}

fn main() {
    checkout();
}
