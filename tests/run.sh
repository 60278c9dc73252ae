#!/usr/bin/env bash
# zipper's whole test suite, on a fresh Debian machine or a warm one:
#   1. installs what the tests need when it is missing (unzip, 7z, bsdtar, Java, Python, Node, curl, Debian's
#      Chromium and playwright-core for the browser test, redis-server, cargo-nextest, cargo-fuzz),
#   2. builds once and runs every test with nextest (unit, property, integration with real unzip tools,
#      including the multi-GiB and 70,000-entry groups),
#   3. runs each fuzz target for a bounded time (FUZZ_SECS, default 20 s; FUZZ_SECS=0 skips).
# Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v unzip >/dev/null || need_apt+=(unzip)
command -v 7z >/dev/null || need_apt+=(p7zip-full)
command -v bsdtar >/dev/null || need_apt+=(libarchive-tools)
command -v java >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v python3 >/dev/null || need_apt+=(python3)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v curl >/dev/null || need_apt+=(curl)
# The shared-cache tests start their own redis-server on a free loopback port (tests/it/shared_cache.rs).
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The browser test drives Debian's Chromium (never a browser downloaded by a test tool).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ ! -d tests/tools/browser/node_modules ]; then
  echo "== npm ci (tests/tools/browser: playwright-core)"
  npm ci --prefix tests/tools/browser --no-audit --no-fund
fi
cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --locked

echo "== build"
cargo build --all-targets
echo "== tests"
cargo nextest run --profile ci --no-tests=fail

FUZZ_SECS="${FUZZ_SECS:-20}"
if [ "$FUZZ_SECS" != "0" ]; then
  cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  echo "== fuzz (${FUZZ_SECS}s per target)"
  for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^zipper-fuzz$'); do
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$FUZZ_SECS" -rss_limit_mb=2048 2>&1 | tail -4)
  done
fi
echo "== all tests passed"
