use telemetry::prelude::*;

#[traced]
const fn answer() -> u8 {
    42
}

fn main() {
    let _ = answer();
}
