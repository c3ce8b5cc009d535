use telemetry::prelude::*;

trait Store {
    #[traced]
    fn get(&self, key: &str) -> Option<String>;
}

fn main() {}
