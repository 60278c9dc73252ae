#!/usr/bin/env bash
# The container image (config/deploy/Dockerfile, built FROM scratch by config/deploy/build-image.sh from an
# already-built binary, the debug one by default): `zipper demo --check` passes inside it, it runs as user
# 10001, and it serves a download from an origin named by host name (resolved by glibc from the
# container's /etc/hosts, where --add-host puts origin.zipper.test). Containers use the host's network
# (loopback only) or none; the daemon runs without a bridge or iptables rules.
#
# Uses a running docker daemon, else starts dockerd on a private socket and stops it afterwards. Skipped,
# saying why, only where docker cannot start. Usage: bash tests/image.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${1:-target/debug/zipper}"
tag="zipper:image-test"
work="$(mktemp -d /tmp/zipper-image.XXXXXX)"
dockerd_pid=""
origin_pid=""
container=""

cleanup() {
  if [ -n "$container" ]; then docker rm -f "$container" >/dev/null 2>&1 || true; fi
  if [ -n "$origin_pid" ]; then kill "$origin_pid" 2>/dev/null || true; fi
  if [ -n "$dockerd_pid" ]; then
    docker rmi -f "$tag" >/dev/null 2>&1 || true
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
    # dockerd leaves its default network namespace mounted under its exec root.
    for ns in "$work"/exec/netns/*; do
      if [ -e "$ns" ]; then umount "$ns" 2>/dev/null || true; fi
    done
  fi
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

fail() {
  echo "image test FAILED: $*" >&2
  if [ -n "$container" ]; then docker logs "$container" 2>&1 | tail -20 >&2 || true; fi
  exit 1
}

[ -x "$binary" ] || fail "no binary at $binary (cargo build first)"
command -v docker >/dev/null || { echo "== image: SKIPPED: no docker command (apt-get install docker.io)"; exit 0; }

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    echo "== image: SKIPPED: no docker daemon and no dockerd to start (apt-get install docker.io)"
    exit 0
  fi
  export DOCKER_HOST="unix://$work/docker.sock"
  dockerd --host "$DOCKER_HOST" --data-root "$work/data" --exec-root "$work/exec" \
    --pidfile "$work/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    echo "== image: SKIPPED: dockerd cannot start on this machine; its last words:"
    tail -5 "$work/dockerd.log" | sed 's/^/   /'
    exit 0
  fi
fi

echo "== image: build FROM scratch with $binary"
config/deploy/build-image.sh --binary "$binary" --tag "$tag"

user="$(docker image inspect --format '{{.Config.User}}' "$tag")"
[ "$user" = "10001:10001" ] || fail "the image runs as '$user', not 10001:10001"

echo "== image: zipper demo --check inside it (no network)"
timeout 120 docker run --rm --network none "$tag" demo --check --listen 127.0.0.1:0 >"$work/demo.out" 2>&1 \
  || { cat "$work/demo.out" >&2; fail "demo --check failed in the image"; }
grep -q "check passed" "$work/demo.out" || fail "demo --check said: $(tail -3 "$work/demo.out")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
oport="$(free_port)"; zport="$(free_port)"; aport="$(free_port)"

echo "== image: a download from an origin named origin.zipper.test"
mkdir -p "$work/origin"
printf 'hello from an origin reached by its name\n' >"$work/origin/hello.txt"
head -c 200000 /dev/urandom >"$work/origin/data.bin"
cat >"$work/origin/manifest.json" <<JSON
{"files": [
  {"url": "http://origin.zipper.test:$oport/hello.txt", "path": "hello.txt", "size": $(stat -c %s "$work/origin/hello.txt")},
  {"url": "http://origin.zipper.test:$oport/data.bin", "path": "dir/data.bin", "size": 200000}
]}
JSON
python3 -m http.server "$oport" --bind 127.0.0.1 --directory "$work/origin" >"$work/origin.log" 2>&1 &
origin_pid=$!

secret="image-test-secret-$$"
container="zipper-image-test-$$"
docker run -d --name "$container" --network host --add-host "origin.zipper.test:127.0.0.1" \
  -e "ZIPPER_KEYS=main:$secret" -e "ZIPPER_LISTEN=127.0.0.1:$zport" -e "ZIPPER_ADMIN_LISTEN=127.0.0.1:$aport" \
  -e ZIPPER_ALLOW_PRIVATE_NETWORKS=true -e ZIPPER_LOG_FORMAT=json "$tag" >/dev/null
ready=""
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$aport/readyz" >/dev/null 2>&1 && curl -fsS "http://127.0.0.1:$oport/hello.txt" >/dev/null 2>&1; then
    ready=1; break
  fi
  sleep 0.25
done
[ -n "$ready" ] || fail "zipper in the container (or the origin) did not become ready"

link="$(ZIPPER_SECRET="$secret" "$binary" sign --key-id main --secret-env ZIPPER_SECRET --now \
  --base "http://127.0.0.1:$zport" --filename image.zip "http://origin.zipper.test:$oport/manifest.json")"
curl -fsS --max-time 60 -o "$work/out.zip" "$link" || fail "the download failed"
unzip -tq "$work/out.zip" >/dev/null || fail "the archive does not test clean"
cmp <(unzip -p "$work/out.zip" hello.txt) "$work/origin/hello.txt" || fail "hello.txt differs"
cmp <(unzip -p "$work/out.zip" dir/data.bin) "$work/origin/data.bin" || fail "dir/data.bin differs"
for _ in $(seq 1 20); do
  docker logs "$container" 2>&1 | grep -q '"message":"download ended"' && break
  sleep 0.25
done
docker logs "$container" 2>&1 | grep '"message":"download ended"' | grep -q "\"callback_host\":\"origin.zipper.test:$oport\"" \
  || fail "no JSON 'download ended' line naming origin.zipper.test"
docker logs "$container" 2>&1 | grep -q "$secret" && fail "the secret appears in the logs"
echo "== image: passed (demo --check, user 10001, download via origin.zipper.test)"
