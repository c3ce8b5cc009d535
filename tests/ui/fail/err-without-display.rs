use telemetry::prelude::*;

#[derive(Debug)]
struct NoDisplay;

#[traced(err)]
fn fails() -> Result<(), NoDisplay> {
    Err(NoDisplay)
}

fn main() {
    let _ = fails();
}
