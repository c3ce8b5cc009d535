//! Runs the benchmark's span lifecycle N times through one setup, for instruction
//! counting under callgrind (see `scripts/callgrind.sh`).
//!
//! ```text
//! cargo run --release --example lifecycle -- ours_full 10000 [tree]
//! cargo run --release --example lifecycle -- traced 10000
//! ```
//!
//! With `tree`, each iteration is a root span with three children instead. The names
//! `traced`, `hand_written`, `traced_filtered` and `hand_written_filtered` run the
//! macro bench's functions instead. `--list` prints every name.

#[path = "../benches/support/setups.rs"]
mod setups;

#[path = "../benches/support/macro_work.rs"]
mod macro_work;

use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "ours_full".to_string());
    let macro_names = macro_work::NAMES.map(|(name, _)| name);
    if name == "--list" {
        for name in setups::NAMES.iter().chain(&macro_names) {
            println!("{name}");
        }
        return;
    }
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let tree = args.next().as_deref() == Some("tree");
    if let Some((_, work)) = macro_work::NAMES.iter().find(|(m, _)| *m == name) {
        let (dispatch, _telemetry) = macro_work::dispatch();
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..n {
                black_box(work(black_box(i)));
            }
        });
        eprintln!("{name}: {n} calls");
        return;
    }
    if !setups::NAMES.contains(&name.as_str()) {
        eprintln!(
            "unknown setup {name:?}; one of {:?} or {macro_names:?}",
            setups::NAMES
        );
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
