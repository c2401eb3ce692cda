#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up, build, fetch the zoo, run every test with every capability
# required (EDGEBENCH_CI=1 turns "not available here" into a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
# The set-up script's own logic (APT source derivation, qemu plan) against fixture trees, and a lint of every script.
ci/test-setup.sh
shellcheck -x ci/*.sh ci/lib/*.sh .ci/run
cargo fmt --all -- --check
cargo build --workspace --locked
./target/debug/edgebench models fetch
./target/debug/edgebench doctor
# The aarch64 runner (tract + ONNX Runtime, the library from the manylinux_2_28_aarch64 wheel beside it), for the
# qemu tests; cross-compiled with Debian's gcc-aarch64-linux-gnu.
./target/debug/edgebench build --target pi4-qemu
# A throwaway PostgreSQL server (Debian's postgresql) for the history's PostgreSQL test: a real server, not a mock.
EDGEBENCH_TEST_POSTGRES=$(ci/postgres.sh)
export EDGEBENCH_TEST_POSTGRES
EDGEBENCH_CI=1 cargo test --workspace --locked
# The report side end to end on real runs: gate (exit 10 on an injected slowdown), Markdown, JUnit, and the HTML
# report in headless chromium from file:// (no console error, no network request); artifacts in reports/ci-artifacts.
ci/report-test.sh
# A short fuzz pass (cargo-fuzz on the stable toolchain): load -> validate -> check -> feed, raw and structured.
ci/fuzz.sh 45
