use telemetry::prelude::*;

type Count = u32;

#[traced(err)]
fn count() -> Count {
    3
}

fn main() {
    let _ = count();
}
