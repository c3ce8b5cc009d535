use telemetry::prelude::*;

struct Secret;

#[traced]
fn use_secret(secret: Secret) {
    let _ = secret;
}

fn main() {
    use_secret(Secret);
}
