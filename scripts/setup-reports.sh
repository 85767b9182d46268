#!/bin/sh
# Install the Debian packages the reports need when they are missing (issue 8):
#   fonts-noto-cjk                 CJK font for chart text (matplotlib) and PDF rendering
#   libreoffice-writer-nogui       docx → PDF (soffice --headless --convert-to pdf)
#   poppler-utils                  PDF → PNG (pdftoppm), used by the first-page render test
# Idempotent: does nothing when everything is present. No-op (exit 0) when not root or apt-get is unavailable.
# Retries while another apt/dpkg holds the lock.
set -u

need=""
dpkg_has() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

command -v dpkg-query >/dev/null 2>&1 || { echo "setup-reports: dpkg not found, skipping (install fonts-noto-cjk, LibreOffice and poppler-utils by hand)"; exit 0; }
dpkg_has fonts-noto-cjk || need="$need fonts-noto-cjk"
if ! command -v soffice >/dev/null 2>&1 && ! command -v libreoffice >/dev/null 2>&1; then
  need="$need libreoffice-writer-nogui"
fi
command -v pdftoppm >/dev/null 2>&1 || need="$need poppler-utils"

if [ -z "$need" ]; then
  echo "setup-reports: fonts-noto-cjk, LibreOffice and poppler-utils already present"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "setup-reports: missing:$need — not root, skipping (ask an administrator: apt-get install -y$need)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-reports: missing:$need — apt-get not available, skipping"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
retry() {  # retry on the dpkg/apt lock (another apt running), up to ~10 minutes
  i=0
  while :; do
    out=$("$@" 2>&1) && { printf '%s\n' "$out" | tail -n 3; return 0; }
    if printf '%s' "$out" | grep -qiE 'lock|dpkg was interrupted|Could not get lock'; then
      i=$((i + 1)); [ "$i" -ge 60 ] && { printf '%s\n' "$out" | tail -n 5; return 1; }
      echo "setup-reports: apt is busy (lock held), retrying in 10 s …"; sleep 10
    else
      printf '%s\n' "$out" | tail -n 5; return 1
    fi
  done
}

echo "setup-reports: installing$need"
# shellcheck disable=SC2086
if ! retry apt-get install -y --no-install-recommends $need; then
  echo "setup-reports: install failed, updating package lists and retrying"
  retry apt-get update -q || true
  # shellcheck disable=SC2086
  retry apt-get install -y --no-install-recommends $need || { echo "setup-reports: could not install$need (reports still work; PDF output is skipped)"; exit 0; }
fi
echo "setup-reports: done"
