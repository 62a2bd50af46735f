#!/bin/sh
# Installs the Debian packages ultrasim needs to build and test, and only the
# missing ones, so a second run costs nothing. Debian 12 (bookworm), as root or
# through sudo. Nothing is downloaded from outside the Debian archive. Extra
# packages may be named as arguments (CI adds clang).
set -eu

PACKAGES="build-essential cmake pkg-config libjansson-dev libcmocka-dev \
libsqlite3-dev libcairo2-dev libprotobuf-c-dev protobuf-c-compiler libopenmpi-dev openmpi-bin python3 python3-pytest \
python3-pandas python3-matplotlib chromium $*"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-deps: need root (or sudo) to install:$missing" >&2
        exit 1
    }
    SUDO="sudo"
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
