use telemetry::prelude::*;

#[track_errors(ok_if = "expected")]
fn work() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = work();
}
