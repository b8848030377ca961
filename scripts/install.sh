#!/usr/bin/env bash
# Installs techscout into ./.venv on a fresh machine. Options:
#   --dev      also the test and benchmark tools (pytest, ruff, mypy, ...)
#   --browser  also Debian's Chromium (needed for `render_js` sources and the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; browser=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --browser) browser=1 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "techscout needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv …" >&2
  "$python" -m venv .venv
fi
# One stamp per pyproject.toml: `.installed-<hash>-1` (with the dev tools) also satisfies a plain install, so
# switching between ./run and ./test installs nothing again.
hash=$(sha1sum pyproject.toml | cut -c1-12)
stamp=".venv/.installed-$hash-$dev"
if [ "$dev" = 0 ] && [ -f ".venv/.installed-$hash-1" ]; then
  stamp=".venv/.installed-$hash-1"
fi
if [ ! -f "$stamp" ]; then
  echo "installing Python packages …" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  if [ "$dev" = 1 ]; then
    .venv/bin/python -m pip install --quiet -e '.[dev]'
  else
    .venv/bin/python -m pip install --quiet -e .
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# the dedup stage's compiled kernels and read-only tables, built once here so that no crawl compiles anything
.venv/bin/techscout dedup --warm >&2

if [ "$browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium …" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "note: /usr/bin/chromium is missing; install Debian's 'chromium' package (as root: apt-get install chromium)" >&2
    echo "      sources with render_js: true and the browser tests need it" >&2
  fi
fi

if [ "$dev" = 1 ] && ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's redis-server (the distributed crawl tests start one) …" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq redis-server >/dev/null
  else
    echo "note: redis-server is missing; install Debian's 'redis-server' package (as root: apt-get install redis-server)" >&2
    echo "      the distributed crawl tests need it" >&2
  fi
fi
