use telemetry::prelude::*;

#[traced]
struct Checkout {
    id: u64,
}

fn main() {
    let _ = Checkout { id: 1 }.id;
}
