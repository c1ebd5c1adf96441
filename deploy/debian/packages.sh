#!/usr/bin/env bash
# The Debian packages `make test` needs beside the virtualenv and the Kafka jars, installed in ONE apt transaction
# (one `apt-get update`, downloads in parallel) before the tests start, instead of one transaction per script in
# the middle of the run:
#
#   chromium fonts-dejavu-core   the catalog UI's browser tests (deploy/chromium/install.sh)
#   postgresql                   the catalog tests' database (deploy/postgres/pg.sh)
#   prometheus                   promtool for the alert rules and the dashboard's queries (tests/fixtures/ops.py)
#   podman runc mmdebstrap       building and running the container image (deploy/image/build.sh)
#
#   deploy/debian/packages.sh    installs the missing ones as root; elsewhere prints the command to run and exits 0
#                                (each script above still installs its own package when it runs alone, or says why
#                                it cannot)
set -euo pipefail

PACKAGES=(chromium fonts-dejavu-core postgresql prometheus podman runc mmdebstrap)

log() { echo "debian/packages.sh: $*" >&2; }

command -v dpkg-query >/dev/null || { log "not a Debian system: install ${PACKAGES[*]} by your system's means"; exit 0; }

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  log "missing: ${missing[*]}; run 'sudo apt-get install --no-install-recommends ${missing[*]}' (the tests that need them say so)"
  exit 0
fi
log "installing ${missing[*]} from Debian's packages"
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
log "installed in $((SECONDS - start)) s"
