use telemetry::prelude::*;

#[traced(skip(password), skip_all)]
fn login(user: &str, password: &str) -> bool {
    user.len() > password.len()
}

fn main() {
    login("a", "b");
}
