#!/usr/bin/env bash
# Make the lock files again from pyproject.toml: requirements/base.txt (the kiosk),
# requirements/test.txt (+ the test tools) and requirements/bench.txt (+ the bench peers), every
# package pinned to one version with the hashes of all its files on PyPI, so that every kiosk
# of a street installs the same bytes (./scripts/setup.sh installs from them).
#
# Usage: scripts/lock.sh                     keep every pin that still fits pyproject.toml
#        scripts/lock.sh --upgrade           move every package to its newest fitting version
#        scripts/lock.sh -P NAME [-P NAME…]  move only these
# Run it after changing the dependencies in pyproject.toml, then run ./scripts/test and commit
# pyproject.toml with requirements/ (tests/test_packaging.py fails while they disagree).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# pip-tools lives beside the kiosk's packages, not among them.
tools=".venv/lock-tools"
if [ ! -x "$tools/bin/pip-compile" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install -q "pip-tools>=7.5,<8"
fi

# PyPI only: a local mirror or wheel folder of this machine must neither be written into the
# files nor give the hashes (a kiosk downloads from PyPI, on x86-64 or ARM alike).
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
export PIP_CONFIG_FILE=/dev/null

# setuptools (the build back-end) is pinned too, so the project itself is built with a known
# version (setup.sh installs it with --no-build-isolation).
compile=("$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras
         --no-emit-index-url --no-emit-find-links --all-build-deps "$@")
mkdir -p requirements
# Each file takes the pins of the one before as constraints: the kiosk's packages are the
# same versions in all three.
"${compile[@]}" -o requirements/base.txt pyproject.toml
"${compile[@]}" --extra test -c requirements/base.txt -o requirements/test.txt pyproject.toml
"${compile[@]}" --extra test --extra bench -c requirements/test.txt \
  -o requirements/bench.txt pyproject.toml
