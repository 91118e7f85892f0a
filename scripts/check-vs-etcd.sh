#!/usr/bin/env bash
# check-vs-etcd.sh — etcdctl's own checks against KubeBrain (SQLite default, durable) and a real etcd, both fresh,
# in one run: `etcdctl check datascale --load=m` (100k keys of 1 KiB; the memory the server's RSS grew by, read from
# process_resident_memory_bytes on the client port's /metrics) and `etcdctl check perf --load=l` (500 clients,
# 8000 puts/s for 60 s; PASS needs over 90 % of that rate, no request slower than 0.5 s and a standard deviation of
# at most 0.1 s). Prints each check's result lines for both servers.
#
#   ./scripts/check-vs-etcd.sh
#
# CHECKS ("datascale=m perf=l") lists the checks in order; datascale wants a fresh server, so it comes first.
# Needs etcd and etcdctl 3.4 on PATH (Debian: apt-get install -y etcd-server etcd-client). STORAGE=postgres runs
# KubeBrain on a throwaway PostgreSQL cluster (as bench-vs-etcd.sh); its memory is not in KubeBrain's RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKS=${CHECKS:-datascale=m perf=l}
command -v etcd >/dev/null || { echo "etcd is not on PATH" >&2; exit 1; }

free_port() { # a loopback port nothing listens on
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
work=$(mktemp -d /tmp/kubebrain-check.XXXXXX)
pids=()
STORAGE=${STORAGE:-sqlite}
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -d "$work/pg" ] && as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" stop -m immediate >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

storage=(--storage sqlite)
if [ "$STORAGE" = postgres ]; then
  [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
  chmod 755 "$work"
  mkdir -p "$work/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  as_postgres "$pg_bin/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
  pg_port=$(free_port)
  as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c max_connections=200" start >/dev/null
  storage=(--storage postgres --postgres-connection-string "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres")
fi

dotnet build Silo -c Release -v quiet -nologo >/dev/null
kb_port=$(free_port)
dotnet Silo/bin/Release/net10.0/kubebrain.dll --listen-client-urls "http://127.0.0.1:$kb_port" --data-dir "$work/kubebrain" "${storage[@]}" \
  --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$work/kubebrain.log" 2>&1 &
kb_pid=$!
pids+=("$kb_pid")
etcd_port=$(free_port)
peer_port=$(free_port)
etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" --initial-cluster "bench=http://127.0.0.1:$peer_port" \
  >"$work/etcd.log" 2>&1 &
etcd_pid=$!
pids+=("$etcd_pid")
for ep in "127.0.0.1:$kb_port" "127.0.0.1:$etcd_port"; do
  for _ in $(seq 1 300); do
    ETCDCTL_API=3 etcdctl --endpoints="$ep" --dial-timeout=1s put bench-ready 1 >/dev/null 2>&1 && break
    sleep 0.2
  done
done


clean() { tr '\r' '\n' | grep -a -E 'PASS|FAIL|too|Slowest|Stddev|Throughput|memory|rror'; }
for check in $CHECKS; do
  for target in "KubeBrain $kb_port" "etcd $etcd_port"; do
    read -r name port <<<"$target"
    echo "== etcdctl check ${check%%=*} --load=${check#*=} against $name"
    ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" check "${check%%=*}" --load="${check#*=}" 2>&1 | clean || true
  done
done
