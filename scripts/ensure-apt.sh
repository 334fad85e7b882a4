#!/bin/sh
# ensure-apt.sh BINARY PACKAGE... : install Debian packages when BINARY is missing.
set -e
bin="$1"; shift
[ -x "$bin" ] && exit 0
echo "installing $* (apt)"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "$@" || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "$@"; }
