#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright (never `playwright install`).
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null \
    || { echo "Could not install chromium (apt-get install chromium)."; exit 1; }
else
  echo "Browser tests need Debian's chromium at /usr/bin/chromium: sudo apt-get install chromium"
  exit 1
fi
