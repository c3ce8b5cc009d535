use telemetry::prelude::*;

#[traced(err)]
fn checkout() {}

fn main() {
    checkout();
}
