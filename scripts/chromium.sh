#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the end-to-end browser test
# of examples/slackapp (driven with chromedp).
#
#   scripts/chromium.sh install   # apt-get installs chromium if /usr/bin/chromium is missing
#   scripts/chromium.sh path      # prints the browser path the test will use
#
# The test reads the browser from INSTALLVAULT_CHROMIUM (default /usr/bin/chromium);
# without a browser it skips in one line outside CI and fails under CI=true (INSTALLVAULT_SKIP_BROWSER=1 skips it anywhere).
set -euo pipefail

browser=${INSTALLVAULT_CHROMIUM:-/usr/bin/chromium}

log() { echo "chromium: $*" >&2; }

install() {
  if [ -x "$browser" ]; then
    log "already installed: $browser"
    return 0
  fi
  if [ "$browser" != /usr/bin/chromium ]; then
    log "INSTALLVAULT_CHROMIUM=$browser does not exist; unset it to install Debian's chromium"
    exit 1
  fi
  command -v apt-get >/dev/null || { log "apt-get is needed (Debian/Ubuntu); install chromium yourself and set INSTALLVAULT_CHROMIUM"; exit 1; }
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing Debian's chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends chromium >&2
  [ -x "$browser" ] || { log "chromium installed but $browser is missing"; exit 1; }
  log "installed: $("$browser" --version 2>/dev/null || echo "$browser")"
}

case "${1:-}" in
  install) install ;;
  path) echo "$browser" ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
