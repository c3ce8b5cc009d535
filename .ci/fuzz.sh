#!/usr/bin/env bash
# Fuzzes propagation-header extraction with cargo-fuzz for a bounded time
# (FUZZ_SECONDS, default 60). Needs a nightly toolchain and cargo-fuzz; without them it
# says so and exits 0 (tests/propagation_fuzz.rs, a proptest, runs in `cargo test`
# everywhere). FUZZ_INSTALL=1 installs cargo-fuzz from crates.io first.
# The first build compiles the crate with sanitizers: about 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-60}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain here; skipped"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if [ "${FUZZ_INSTALL:-0}" = 1 ]; then
        cargo install cargo-fuzz --locked
    else
        echo "fuzz: cargo-fuzz is not installed (cargo install cargo-fuzz); skipped"
        exit 0
    fi
fi
cd fuzz
cargo +nightly fuzz run extract -- -max_total_time="$secs" -max_len=512
echo "fuzz: extract ran ${secs}s without a failure"
