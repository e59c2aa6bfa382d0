#!/bin/sh
# setup.sh — from a fresh Debian 12 machine (as root) to a working ledger:
# installs what is missing, builds, and runs the demo (make demo) on an
# embedded default ledger under ./build/demo-ledger.
set -eu
cd "$(dirname "$0")"

PKGS="build-essential pkg-config liblmdb-dev libmsgpack-dev libzstd-dev \
libsodium-dev nettle-dev libcurl4-openssl-dev libcmocka-dev libjansson-dev \
libpcre2-dev libarchive-dev zstd tar golang-go golang-golang-x-mod-dev \
libsqlite3-dev clang clang-format jq python3 nginx-light clickhouse-server scdoc \
libsystemd-dev libmicrohttpd-dev curl iproute2 strace zsh lmdb-utils \
python3-cryptography prometheus chromium socat libprotobuf-c-dev \
protobuf-c-compiler zlib1g-dev systemd-journal-remote libnghttp2-dev \
debhelper dpkg-dev fakeroot lintian debootstrap autopkgtest piuparts"

# node and npm, for the proxy's tests with the official OpenAI and Ollama
# libraries (tests/e2e/proxy_npm.sh): Debian's packages only when they are
# missing (a nodejs from another repository conflicts with Debian's npm)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi

missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: run as root (or install these with sudo apt-get):$missing" >&2
        exit 77
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
fi
make -j"$(nproc)"
# the npm clients of tests/e2e/proxy_npm.sh and otlp_npm.sh (the OpenAI
# and Ollama libraries, the OpenTelemetry Node SDK and its exporters),
# under the build directory
mkdir -p build/npm && cp tests/npm/package.json build/npm/ &&
    npm install --prefix build/npm --no-audit --no-fund >/dev/null ||
    echo "setup: npm install into build/npm failed (proxy_npm.sh and otlp_npm.sh will try again)" >&2
make demo
