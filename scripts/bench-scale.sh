#!/usr/bin/env bash
# bench-scale.sh — KubeBrain (SQLite default, durable) and a real etcd, both fresh, grown side by side to 1M
# Kubernetes-shaped keys; at each step prints the load rate, LIST latencies and the server's memory, with ratios.
#
#   ./scripts/bench-scale.sh
#
# Keys are /registry/pods/ns-NNNNN/pod-NNNNNNNN, PER_NAMESPACE (1000) pods a namespace, VAL_SIZE (1024) byte values,
# loaded with `kubebrain-bench k8s-load` (plain puts, CONNS 10 connections, CLIENTS 100 clients) in STEPS (the key
# counts to reach: "100000 250000 500000 1000000"). At each step, against each server in turn:
#   load keys/s   the step's puts per second
#   first page    a LIST's first page: range over /registry/pods/ with limit 500 (p50 of LISTS runs, default 20)
#   count         a count-only range over /registry/pods/ (p50 of 5)
#   namespace     a full paged LIST (limit 500) of one namespace, ns-00000 (p50 of LISTS runs)
#   RSS           the server process's VmRSS (/proc/PID/status) after the step, in MiB
#   settled RSS   the same once both servers have sat idle for SETTLE seconds (15) after the step: etcd's Go
#                 runtime and KubeBrain's quiet-process trim (--memory-trim-interval) give memory back meanwhile
# Ratios: load KubeBrain/etcd (above 1: KubeBrain faster); latency etcd/KubeBrain (above 1: KubeBrain faster);
# RSS KubeBrain/etcd (below 1: KubeBrain smaller).
# Needs etcd on PATH (Debian: apt-get install -y etcd-server etcd-client) and jq. etcd gets --quota-backend-bytes
# of QUOTA (8 GiB; its default of 2 GiB is too small for 1M keys of 1 KiB with their history).
# STORAGE=postgres runs KubeBrain on a throwaway PostgreSQL cluster (as bench-vs-etcd.sh; its memory is not in the
# RSS column, which is the KubeBrain process only).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-100000 250000 500000 1000000}
PER_NAMESPACE=${PER_NAMESPACE:-1000}
VAL_SIZE=${VAL_SIZE:-1024}
CONNS=${CONNS:-10}
CLIENTS=${CLIENTS:-100}
LISTS=${LISTS:-20}
SETTLE=${SETTLE:-15}
QUOTA=${QUOTA:-$((8 * 1024 * 1024 * 1024))}
command -v jq >/dev/null || { echo "jq is not on PATH" >&2; exit 1; }
etcd_flags=(--quota-backend-bytes="$QUOTA")
source scripts/side-by-side.sh
dotnet build Tests/Benchmarks -c Release -v quiet -nologo >/dev/null
bench=(dotnet Tests/Benchmarks/bin/Release/net10.0/kubebrain-bench.dll)

run() { # endpoint, workload args... → "requests/s p50-ms" of the run
  "${bench[@]}" "${@:2}" --endpoints "http://$1" --json "$work/run.json" >"$work/run.out" 2>&1 \
    || { cat "$work/run.out" >&2; exit 1; }
  jq -r '[.. | objects | select(has("throughput"))][0] | "\(.throughput) \(.latency.p50 / 1000)"' "$work/run.json"
}
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

echo "| keys | load keys/s KubeBrain | etcd | ratio | first page ms KubeBrain | etcd | ratio | count ms KubeBrain | etcd | ratio | namespace LIST ms KubeBrain | etcd | ratio | RSS MiB KubeBrain | etcd | ratio | settled RSS MiB KubeBrain | etcd | ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
loaded=0
for step in $STEPS; do
  row=()
  for target in "$kb_port $kb_pid" "$etcd_port $etcd_pid"; do
    read -r port pid <<<"$target"
    ep="127.0.0.1:$port"
    read -r rate _ <<<"$(run "$ep" k8s-load --start "$loaded" --total $((step - loaded)) --per-namespace "$PER_NAMESPACE" \
      --val-size "$VAL_SIZE" --conns "$CONNS" --clients "$CLIENTS")"
    read -r _ first <<<"$(run "$ep" k8s-list --prefix /registry/pods/ --limit 500 --pages 1 --total "$LISTS")"
    read -r _ count <<<"$(run "$ep" k8s-list --prefix /registry/pods/ --count-only --total 5)"
    read -r _ ns <<<"$(run "$ep" k8s-list --prefix /registry/pods/ns-00000/ --limit 500 --total "$LISTS")"
    row+=("$rate $first $count $ns $(rss_mib "$pid")")
  done
  sleep "$SETTLE"
  row[0]+=" $(rss_mib "$kb_pid")"
  row[1]+=" $(rss_mib "$etcd_pid")"
  awk -v n="$step" -v kb="${row[0]}" -v et="${row[1]}" 'BEGIN {
    split(kb, k, " "); split(et, e, " ");
    printf "| %d | %.0f | %.0f | %.2f× | %.2f | %.2f | %.2f× | %.2f | %.2f | %.2f× | %.2f | %.2f | %.2f× | %d | %d | %.2f× | %d | %d | %.2f× |\n",
      n, k[1], e[1], k[1] / e[1], k[2], e[2], e[2] / k[2], k[3], e[3], e[3] / k[3], k[4], e[4], e[4] / k[4], k[5], e[5], k[5] / e[5], k[6], e[6], k[6] / e[6] }'
  loaded=$step
done
