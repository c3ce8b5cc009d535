use telemetry::prelude::*;

fn yes(_: &Result<(), String>) -> bool {
    true
}

#[track_errors(ok_if = yes, error_if = yes)]
fn work() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = work();
}
