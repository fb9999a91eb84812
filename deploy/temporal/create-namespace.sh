#!/bin/sh
# The namespace kiln runs in (a plain temporalio/server has none; the dev server and the old
# auto-setup image made `default`). Run once the server answers, by the admin-tools image; safe
# to repeat. The workers register kiln's search attributes themselves at start.
set -eu
address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
attempts="${ATTEMPTS:-60}"

i=1
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
  [ "$i" -ge "$attempts" ] && { echo "Temporal at $address is not healthy after $attempts tries" >&2; exit 1; }
  i=$((i + 1)); sleep 5
done
if temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  temporal operator namespace create --address "$address" --namespace "$namespace" --retention "${TEMPORAL_NAMESPACE_RETENTION:-7d}"
  echo "namespace $namespace created"
fi
