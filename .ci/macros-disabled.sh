#!/usr/bin/env bash
# The attribute macros compiled out (`telemetry/macros-disabled`): they must expand to
# the bare functions, so nothing is recorded. (`cargo test` runs the same test with the
# macros on.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --features telemetry/macros-disabled --test macros_disabled
