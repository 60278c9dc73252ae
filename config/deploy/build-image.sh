#!/usr/bin/env bash
# Builds zipper's container image FROM scratch without pulling anything: the release binary (or the one
# given with --binary), the shared libraries ldd lists for it, glibc's name-service modules, a minimal
# /etc (passwd, group, nsswitch.conf) and the host's CA bundle are staged into a build context with
# config/deploy/Dockerfile, then `docker build` runs on it.
#
#   config/deploy/build-image.sh                      # cargo build --release, tag zipper:latest
#   config/deploy/build-image.sh --binary target/debug/zipper --tag zipper:test
#
# Environment: DOCKER (the docker command, default docker; DOCKER_HOST is honoured), CARGO (default cargo).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
binary=""
tag="zipper:latest"
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --tag) tag="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "build-image.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done
docker="${DOCKER:-docker}"

if [ -z "$binary" ]; then
    (cd "$root" && "${CARGO:-cargo}" build --release --locked --bin zipper)
    binary="$root/target/release/zipper"
fi
[ -x "$binary" ] || { echo "build-image.sh: no executable at $binary" >&2; exit 1; }

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
rootfs="$ctx/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$binary" "$rootfs/usr/local/bin/zipper"

# Copies a library to the same path in the image, as a regular file (symlinks followed).
copy_lib() {
    local path="$1"
    [ -e "$path" ] || return 0
    mkdir -p "$rootfs$(dirname "$path")"
    cp -L "$path" "$rootfs$path"
}

# The libraries the binary links, and the dynamic loader (the line without "=>").
libs="$( (ldd "$binary" || true) | awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }')"
for lib in $libs; do
    copy_lib "$lib"
done
# getaddrinfo loads these at run time (ldd cannot see them): /etc/hosts lookups and DNS.
libdir="$(dirname "$( (ldd "$binary" || true) | awk '/libc\.so/ { print $3 }')")"
[ "$libdir" != "." ] || libdir=/lib/x86_64-linux-gnu
for lib in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
    copy_lib "$libdir/$lib"
done

cat > "$rootfs/etc/nsswitch.conf" <<'NSS'
passwd:   files
group:    files
hosts:    files dns
NSS
cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/:/sbin/nologin
zipper:x:10001:10001:zipper:/:/sbin/nologin
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
zipper:x:10001:
GROUP
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
else
    echo "build-image.sh: /etc/ssl/certs/ca-certificates.crt missing (apt-get install ca-certificates)" >&2
    exit 1
fi
cp "$here/Dockerfile" "$ctx/Dockerfile"

# The classic builder: BuildKit is not needed for a FROM scratch COPY and may be absent.
if ! out="$(DOCKER_BUILDKIT=0 "$docker" build --quiet --tag "$tag" "$ctx" 2>&1)"; then
    echo "$out" >&2
    exit 1
fi
echo "built $tag from $binary ($(du -sh "$rootfs" | cut -f1) staged)"
