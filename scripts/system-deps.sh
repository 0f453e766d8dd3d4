#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (HSM, browser), when missing.
# fonts-wqy-microhei: Chinese glyphs for the zh-CN/zh-TW buyer page screenshots.
set -euo pipefail
needed=()
for pkg in "$@"; do needed+=("$pkg"); done
[ ${#needed[@]} -gt 0 ] || needed=(softhsm2 openssl chromium poppler-utils redis-server fonts-wqy-microhei)
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
