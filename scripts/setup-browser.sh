#!/bin/sh
# Browser-test prerequisites: Debian's chromium (Playwright drives it via executable_path; its own browser
# download cannot work offline) and a CJK font (fonts-noto-cjk) so Chinese renders instead of boxes.
# Idempotent: does nothing when both are present. Needs root (or sudo) and a reachable Debian mirror.
set -eu
need=""
[ -x /usr/bin/chromium ] || need="$need chromium"
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || [ -d /usr/share/fonts/opentype/noto ] || need="$need fonts-noto-cjk"
[ -z "$need" ] && { echo "chromium and fonts-noto-cjk present"; exit 0; }
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo -n"
echo "installing:$need" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
[ -x /usr/bin/chromium ] || { echo "chromium was not installed" >&2; exit 1; }
echo "installed:$need"
