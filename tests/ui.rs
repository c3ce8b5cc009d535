//! Compile tests of the attribute macros: `ui/pass/` holds every supported shape and
//! option (compiled and run), `ui/fail/` one mistake per file with the compiler's
//! message checked in beside it (`.stderr`). Regenerate with `TRYBUILD=overwrite` and
//! review the diff like code.
//!
//! Messages change between compiler releases, so this runs on the toolchain the
//! `.stderr` files were written with only, and says so elsewhere.

const PINNED: &str = "1.95.";

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default()
}

#[test]
fn ui() {
    let version = rustc_version();
    if !version.starts_with(&format!("rustc {PINNED}")) {
        eprintln!("ui tests skipped: they are pinned to rustc {PINNED}x, this is {version}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
