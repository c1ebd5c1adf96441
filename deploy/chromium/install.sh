#!/usr/bin/env bash
# Debian's Chromium for the catalog UI's browser tests (tests/catalog/ui/), driven by Playwright for Python with
# executable_path=/usr/bin/chromium: Playwright's own browser download (`playwright install`) is never used.
#
#   deploy/chromium/install.sh   installs the `chromium` package when /usr/bin/chromium is absent (as root:
#                                apt-get install -y chromium; otherwise says what to run), then prints its version.
set -euo pipefail

log() { echo "chromium/install.sh: $*" >&2; }

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "Chromium is not installed and this is not root: run 'sudo apt-get install -y chromium'"
    exit 1
  fi
  log "installing Chromium from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi
/usr/bin/chromium --version 2>/dev/null  # the Debian wrapper script complains on stderr when asked for its version
