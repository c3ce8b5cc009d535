use telemetry::prelude::*;

#[traced(kind = "backend")]
fn checkout() {}

fn main() {
    checkout();
}
