#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, builds, runs every test and ends with
# the line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
# The PostgreSQL tests run their own throwaway clusters from these binaries.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
# The dashboard test renders the Orleans dashboard in headless Chromium.
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    # Debian starts a system etcd on 2379 and a PostgreSQL cluster on 5432; the tests start their own.
    if [[ " ${need[*]} " == *" etcd-server "* ]]; then
      systemctl stop etcd >/dev/null 2>&1 || pkill -x etcd || true
    fi
    if [[ " ${need[*]} " == *" postgresql "* ]]; then
      systemctl stop postgresql >/dev/null 2>&1 || service postgresql stop >/dev/null 2>&1 || true
    fi
  else
    echo "missing ${need[*]}: run as root or install them (apt-get install -y ${need[*]})" >&2
  fi
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
dotnet test KubeBrain.slnx -c Release --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$status"
