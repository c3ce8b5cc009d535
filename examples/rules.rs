//! Writes a Prometheus rule file for the metrics this library emits: recording rules
//! for rates, error ratios and latency percentiles, and burn-rate alerts for the
//! objectives given.
//!
//! ```sh
//! cargo run --example rules -- --objective 'route=/checkout,success=99.9%,latency=250ms@99%' > rules.yml
//! promtool check rules rules.yml
//! ```

use telemetry::rules::{prometheus_rules, Objective};

fn main() {
    let mut objectives = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--objective" => match args.next().map(|o| o.parse::<Objective>()) {
                Some(Ok(o)) => objectives.push(o),
                Some(Err(e)) => {
                    eprintln!("{e}");
                    std::process::exit(2);
                }
                None => {
                    eprintln!("--objective needs a value, like 'route=/checkout,success=99.9%'");
                    std::process::exit(2);
                }
            },
            other => {
                eprintln!("unknown argument {other:?}: try --objective 'route=/checkout,success=99.9%,latency=250ms@99%'");
                std::process::exit(2);
            }
        }
    }
    print!("{}", prometheus_rules(&objectives));
}
