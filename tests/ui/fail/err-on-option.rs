use telemetry::prelude::*;

#[traced(err)]
async fn find(id: u64) -> Option<u64> {
    Some(id)
}

fn main() {
    let _ = find(1);
}
