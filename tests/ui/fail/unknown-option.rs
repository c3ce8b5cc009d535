use telemetry::prelude::*;

#[traced(nmae = "checkout")]
fn checkout() {}

fn main() {
    checkout();
}
