#!/usr/bin/env bash
# zipper's whole test suite, on a fresh Debian machine or a warm one:
#   1. installs what the tests need when it is missing (unzip, 7z, bsdtar, Java, Python, Node, Ruby, curl,
#      nginx, Caddy, redis-server, Debian's Chromium and playwright-core for the browser test; the reader
#      matrix's Go, The Unarchiver, Apache commons-compress, Node's yauzl and unzipper, Python's stream-unzip;
#      docker for the image test; cargo-nextest, cargo-fuzz),
#   2. builds once and runs every test with nextest (unit, property, integration with real unzip tools,
#      including the multi-GiB and 70,000-entry groups),
#   3. checks the deployment files: the container image built FROM scratch from the debug binary of step 2
#      (tests/image.sh: `zipper demo --check` inside it, a download from an origin named by host name;
#      starts dockerd when none runs, skipped with a message only where docker cannot start), and the
#      Kubernetes manifests validated offline (tests/k8s.sh, kubernetes-validate in a venv),
#   4. runs each fuzz target for a bounded time (FUZZ_SECS, default 20 s; FUZZ_SECS=0 skips).
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
# The Ruby snippets of docs/ (link signing, report verification) are run by tests/it/link.rs and reports.rs.
command -v ruby >/dev/null || need_apt+=(ruby)
command -v npm >/dev/null || need_apt+=(npm)
command -v curl >/dev/null || need_apt+=(curl)
# The shared-cache tests start their own redis-server on a free loopback port (tests/it/shared_cache.rs).
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The Ruby snippets of docs/ (sign.rb, the manifest-request check) run in tests/it/link.rs.
command -v ruby >/dev/null || need_apt+=(ruby)
# The reverse-proxy snippets of config/deploy/ run in front of zipper in tests/it/proxy.rs.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v caddy >/dev/null || need_apt+=(caddy)
# The browser test drives Debian's Chromium (never a browser downloaded by a test tool).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The image test: Debian's docker (dockerd, containerd, runc) and the CA bundle the image carries; the
# manifest validation and Python's stream-unzip: a Python venv.
command -v dockerd >/dev/null || need_apt+=(docker.io)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
# The reader matrix (tests/it/readers.rs): Go's archive/zip, The Unarchiver's lsar, commons-compress's jar.
command -v go >/dev/null || need_apt+=(golang-go)
command -v lsar >/dev/null || need_apt+=(unar)
[ -f /usr/share/java/commons-compress.jar ] || need_apt+=(libcommons-compress-java)
# Installer output goes to a log that is shown only when the install fails.
quiet() {
  local log
  log="$(mktemp)"
  if ! "$@" >"$log" 2>&1; then
    echo "failed: $*" >&2
    tail -n 30 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]} (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  quiet $SUDO apt-get update -qq
  quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if [ ! -d tests/tools/browser/node_modules ]; then
  echo "== npm ci (tests/tools/browser: playwright-core)"
  quiet npm ci --prefix tests/tools/browser --no-audit --no-fund
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  quiet cargo install cargo-nextest --locked
fi
if [ ! -d tests/tools/readers/node/node_modules ]; then
  echo "== npm ci (tests/tools/readers/node: yauzl, unzipper)"
  quiet npm ci --prefix tests/tools/readers/node --no-audit --no-fund
fi
if [ ! -x tests/tools/readers/.venv/bin/python ]; then
  echo "== venv (tests/tools/readers/.venv: stream-unzip)"
  quiet python3 -m venv tests/tools/readers/.venv
  quiet tests/tools/readers/.venv/bin/pip install -q -r tests/tools/readers/requirements.txt
fi

echo "== build"
cargo build --all-targets
echo "== tests"
cargo nextest run --profile ci --no-tests=fail
echo "== deployment: container image and Kubernetes manifests"
bash tests/image.sh target/debug/zipper
bash tests/k8s.sh

FUZZ_SECS="${FUZZ_SECS:-20}"
if [ "$FUZZ_SECS" != "0" ]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    quiet cargo install cargo-fuzz --locked
  fi
  echo "== fuzz (${FUZZ_SECS}s per target)"
  for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^zipper-fuzz$'); do
    echo "-- fuzz target $target"
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$FUZZ_SECS" -rss_limit_mb=2048 2>&1 | tail -4)
    echo "-- fuzz target $target: no crash in ${FUZZ_SECS}s"
  done
fi
echo "== all tests passed"
