use telemetry::prelude::*;

fn is_expected(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

#[track_errors(ok_if = is_expected)]
fn work() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = work();
}
