#!/usr/bin/env bash
# Create .venv and install the pinned environment. A second run with unchanged
# requirement files does nothing (a stamp file records their hash).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "setup: Python 3.11 is required (TFX 1.16 / TensorFlow 2.16 pins); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

hash=$(cat requirements.txt requirements-dev.txt requirements-tfx.txt requirements-torch.txt pyproject.toml setup.py | sha256sum | cut -c1-16)
stamp=.venv/.installed-$hash
if [ -f "$stamp" ]; then
  echo "setup: .venv is up to date"
  exit 0
fi

echo "setup: creating .venv with $($PYTHON --version) (first run takes about 5 minutes)"
"$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip==24.3.1
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# tfx 1.16 declares python<3.11 but runs on 3.11 with these pins; installing
# it without dependency resolution keeps pip from picking packages for 3.12.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python -r requirements-tfx.txt
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-torch.txt
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
rm -f .venv/.installed-*
touch "$stamp"
echo "setup: done"
