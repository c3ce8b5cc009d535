//! Runs the benchmark's span lifecycle N times through one setup, for instruction
//! counting under callgrind (see `scripts/callgrind.sh`).
//!
//! ```text
//! cargo run --release --example lifecycle -- ours_full 10000 [tree]
//! ```
//!
//! With `tree`, each iteration is a root span with three children instead. `--list`
//! prints the setups' names.

#[path = "../benches/support/setups.rs"]
mod setups;

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "ours_full".to_string());
    if name == "--list" {
        for name in setups::NAMES {
            println!("{name}");
        }
        return;
    }
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let tree = args.next().as_deref() == Some("tree");
    if !setups::NAMES.contains(&name.as_str()) {
        eprintln!("unknown setup {name:?}; one of {:?}", setups::NAMES);
        std::process::exit(2);
    }
    let setup = setups::setup(&name);
    tracing::dispatcher::with_default(&setup.dispatch, || {
        for _ in 0..n {
            if tree {
                setups::lifecycle_tree();
            } else {
                setups::lifecycle();
            }
        }
    });
    let report = setup.finish();
    eprintln!(
        "{name}: {n} lifecycles, exported {:?}, dropped {:?}",
        report.exported, report.dropped
    );
}
