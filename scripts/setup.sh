#!/usr/bin/env bash
# Shared set-up for ./scripts/run and ./scripts/test: system packages, .venv, the project.
# Usage: scripts/setup.sh [test|bench]   (bench = the test set-up plus the bench-only peers)    (sourced or run; idempotent and quiet when nothing is missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extra="${1:-}"
# libzbar0: pyzbar decodes QR cards; fonts-wqy-zenhei: the embedded CJK font for PDFs/previews;
# espeak-ng: reads questions aloud (the kiosk hides the button without it); libpq5: psycopg
# talks to the central PostgreSQL through it.
system_packages=(libzbar0 fonts-wqy-zenhei espeak-ng libpq5)
if [ "$extra" = "test" ] || [ "$extra" = "bench" ]; then
  # The tablet test drives Debian's Chromium with Playwright (no browser download);
  # poppler-utils' pdftoppm turns the card sheets into images for the scanning tests.
  # libreoffice-calc-nogui opens our XLSX exports as a real spreadsheet client would.
  # postgresql: the tests start a throwaway server of their own (initdb in a temp dir);
  # openssl makes the throwaway CA and server certificate of the TLS test.
  # cage, xwayland and grim: the appliance test runs the hall screen headless (cage on
  # wlroots' headless backend, which needs Xwayland on Debian 12) and screenshots it.
  # pspp: GNU PSPP reads our .sav and .dta exports back, as an analyst's SPSS would.
  system_packages+=(chromium poppler-utils libreoffice-calc-nogui postgresql openssl pspp
                    cage xwayland grim)
fi

missing=()
for package in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi

if ((${#missing[@]})); then
  echo "Installing system packages: ${missing[*]}" >&2
  if [ "$(id -u)" = 0 ]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt_get=(sudo apt-get)
  else
    echo "Cannot install them without root. Please run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { "${apt_get[@]}" update -q >/dev/null && \
         "${apt_get[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed; this python3 is $(python3 --version 2>&1)." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi

# Every package at the version, and with the hashes, of the lock file of this set-up, so that
# every kiosk of a street runs the same (scripts/lock.sh makes them from pyproject.toml);
# then the project itself, built by the locked setuptools.
lock="requirements/${extra:-base}.txt"
# Reinstall only when pyproject.toml, the lock file or the wanted extra changed since the last
# install.
stamp=".venv/.installed-$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16)-${extra:-base}"
if [ ! -f "$stamp" ]; then
  log=".venv/pip-install.log"
  if ! { .venv/bin/python -m pip install --require-hashes -r "$lock" &&
         .venv/bin/python -m pip install --no-deps --no-build-isolation -e .; } >"$log" 2>&1
  then
    tail -n 40 "$log" >&2
    echo "pip install failed; the whole log is in $log" >&2
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
