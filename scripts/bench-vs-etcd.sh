#!/usr/bin/env bash
# bench-vs-etcd.sh — etcd's own benchmark tool against KubeBrain (SQLite default, durable) and a real etcd,
# both fresh, on this machine, in one run; prints a table of requests/s with the ratio KubeBrain/etcd.
#
#   BENCH=/path/to/etcd-benchmark ./scripts/bench-vs-etcd.sh
#
# The watch row counts events delivered per second (1000 watchers on one key, 2000 puts); a second table gives
# put → event latency (watch-latency), where the ratio is etcd's latency over KubeBrain's (higher is better). The
# last row puts what `etcdctl check perf --load=l` puts (random 256-byte keys, 1 KiB values, 500 clients on 500
# connections) as fast as the servers take them, without that check's rate limiter.
# BENCH is etcd's tools/benchmark binary (built from etcd's source: `go build ./tools/benchmark`).
# Needs etcd on PATH (Debian: apt-get install -y etcd-server etcd-client). Optional: TOTAL (20000),
# CONNS (10), CLIENTS (100), ROUNDS (1: each workload runs ROUNDS times per server, alternating, the order swapped
# every round),
# STORAGE (sqlite, or postgres: a throwaway PostgreSQL cluster with synchronous_commit=on is started for the run;
# needs Debian's postgresql; the rows per commit that group commit achieved are printed at the end),
# LATENCY_ONLY (1: only watch-latency, ROUNDS times alternating, one row per run with p50/p90/p99),
# WARMUP (1: each workload first runs WARMUP times per server unmeasured, so that the measured rounds see
# KubeBrain's code compiled by the runtime's optimizing tier, as a server that has been running does; with
# TOOL=kubebrain-bench the warm-up runs in the measuring process, whose own code it compiles too; 0: none),
# SERVER_WARMUP (5: rounds of TOTAL puts each server takes before the first workload, unmeasured; a fresh KubeBrain
# needs about four such rounds before its runtime has compiled the whole request path at the optimizing tier),
# TOOL (etcd, or kubebrain-bench: the same servers driven by the project's own tool, Tests/Benchmarks, with etcd's
# workloads and the Kubernetes-shaped ones; BENCH is then not needed),
# ONLY (an extended regular expression: only the rows whose name it matches, e.g. ONLY=k8s; the put → event
# latency table counts as the row "put → event latency").
# With etcd's tool, each row also gives the CPU seconds a measured run took, averaged over the rounds: the server
# process's (from /proc; with STORAGE=postgres, KubeBrain's includes its PostgreSQL cluster's processes, whose
# share follows in parentheses) and the benchmark client's, which shares the same cores.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=${TOOL:-etcd}
[ "$TOOL" = kubebrain-bench ] || : "${BENCH:?set BENCH to the etcd benchmark binary}"
TOTAL=${TOTAL:-20000}
CONNS=${CONNS:-10}
CLIENTS=${CLIENTS:-100}
ROUNDS=${ROUNDS:-1}
ONLY=${ONLY:-}
selected() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }
WARMUP=${WARMUP:-1}
SERVER_WARMUP=${SERVER_WARMUP:-5}
source scripts/side-by-side.sh

if [ "$TOOL" = kubebrain-bench ]; then
  dotnet build Tests/Benchmarks -c Release -v quiet -nologo >/dev/null
  kbbench() { dotnet Tests/Benchmarks/bin/Release/net10.0/kubebrain-bench.dll "$@" --conns "$CONNS" --clients "$CLIENTS"; }
  tool_workloads=(
    "put ($TOTAL keys)|put --total $TOTAL --key-size 8 --val-size 256 --key-space-size $TOTAL --sequential-keys"
    "range, linearizable|range --total $((TOTAL * 5)) --consistency l"
    "range, serializable|range --total $((TOTAL * 5)) --consistency s"
    "txn-put|txn-put --total $TOTAL --key-size 8 --val-size 256 --key-space-size $TOTAL"
    "lease-keepalive|lease-keepalive --total $TOTAL"
    "watch: 1000 watchers, events/s|watch --streams 10 --watch-per-stream 100 --put-total 2000 --put-rate 100000"
    "k8s create (txn)|k8s-create --total $TOTAL"
    "k8s GuaranteedUpdate (txn)|k8s-update --total $TOTAL --objects 1000"
    "k8s conditional delete (txn)|k8s-delete --total $TOTAL"
    "k8s paged LIST, 10k objects, limit 500|k8s-list --objects 10000 --limit 500 --total 20"
    "k8s count-only LIST, 10k objects|k8s-list --objects 10000 --count-only --total 2000"
  )
  targets="kubebrain=http://127.0.0.1:$kb_port,etcd=http://127.0.0.1:$etcd_port"
  for _ in $(seq 1 "$SERVER_WARMUP"); do
    for port in "$kb_port" "$etcd_port"; do
      kbbench put --total "$TOTAL" --key-size 8 --val-size 256 --key-space-size "$TOTAL" --sequential-keys --endpoints "http://127.0.0.1:$port" >/dev/null 2>&1
    done
  done
  echo "| workload | KubeBrain req/s | etcd req/s | KubeBrain/etcd | p99 ms KubeBrain | etcd |"
  echo "|---|---:|---:|---:|---:|---:|"
  for w in "${tool_workloads[@]}"; do
    name=${w%%|*}
    selected "$name" || continue
    read -r -a args <<<"${w#*|}"
    kbbench "${args[@]}" --compare "$targets" --warmup "$WARMUP" --rounds "$ROUNDS" 2>/dev/null \
      | awk -v name="$name" '$1 == "req/s" && NF == 5 { kb = $2; et = $3 } $1 == "eventsPerSecond" && NF == 5 { kb = $2; et = $3 }
          $1 == "p99" && $2 == "ms" { k99 = $3; e99 = $4 }
          END { printf "| %s | %.0f | %.0f | %.2f× | %.2f | %.2f |\n", name, kb, et, kb / et, k99, e99 }'
  done
  exit 0
fi

rate() { # endpoint, workload args... → requests/s
  "$BENCH" --endpoints="$1" --conns="$CONNS" --clients="$CLIENTS" "${@:2}" 2>&1 | tr '\r' '\n' | sed -n 's/.*Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' | tail -n 1
}

workloads=(
  "put (one key)|put --key-size=8 --sequential-keys --total=$TOTAL --val-size=256"
  "put ($TOTAL keys)|put --key-size=8 --sequential-keys --key-space-size=$TOTAL --total=$TOTAL --val-size=256"
  "range, linearizable|range bench-range-key --consistency=l --total=$((TOTAL * 5))"
  "range, serializable|range bench-range-key --consistency=s --total=$((TOTAL * 5))"
  "txn-put|txn-put --key-size=8 --val-size=256 --key-space-size=$TOTAL --total=$TOTAL"
  "stm (2 keys per txn)|stm --isolation=r --keys=1000 --keys-per-txn=2 --total=$((TOTAL / 4)) --val-size=256"
  "lease-keepalive|lease-keepalive --total=$TOTAL"
  "watch: 1000 watchers, events/s|watch --streams=10 --watch-per-stream=100 --watched-key-total=1 --put-total=2000 --put-rate=100000 --key-size=32"
  "put, check perf's shape|put --conns=500 --clients=500 --key-size=256 --val-size=1024 --key-space-size=1000000000 --total=$((TOTAL * 5))"
)
if [ "${LATENCY_ONLY:-0}" = 1 ]; then
  echo "| run | server | p50 ms | p90 ms | p99 ms |"
  echo "|---|---|---:|---:|---:|"
  for round in $(seq 1 "$ROUNDS"); do
    for target in "KubeBrain $kb_port" "etcd $etcd_port"; do
      read -r name port <<<"$target"
      "$BENCH" --endpoints="127.0.0.1:$port" --conns="$CONNS" --clients="$CLIENTS" watch-latency --total=2000 --put-rate=200 --key-size=32 --val-size=32 2>&1 \
        | tr '\r' '\n' | awk -v r="$round" -v n="$name" '/ 50% in/ { a = $3 * 1000 } / 90% in/ { b = $3 * 1000 } / 99% in/ { c = $3 * 1000 }
            END { printf "| %d | %s | %.2f | %.2f | %.2f |\n", r, n, a, b, c }'
    done
  done
  exit 0
fi
for _ in $(seq 1 "$SERVER_WARMUP"); do
  for port in "$kb_port" "$etcd_port"; do
    rate "127.0.0.1:$port" put --key-size=8 --sequential-keys --key-space-size="$TOTAL" --total="$TOTAL" --val-size=256 >/dev/null
  done
done
ticks_per_second=$(getconf CLK_TCK)
ticks() { # pids... → the CPU clock ticks they used, with their exited children's
  for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done | awk '{ t += $14 + $15 + $16 + $17 } END { print t + 0 }'
}
postgres_ticks() { # server pid → the ticks of KubeBrain's PostgreSQL cluster (postmaster, exited and live backends), 0 for none
  if [ "$1" = "$kb_pid" ] && [ "$STORAGE" = postgres ]; then
    local postmaster
    postmaster=$(head -n 1 "$work/pg/data/postmaster.pid")
    ticks "$postmaster" $(pgrep -P "$postmaster")
  else
    echo 0
  fi
}
measured() { # server pid, endpoint, workload args... → "requests/s server-CPU-s client-CPU-s PostgreSQL-CPU-s" of one run
  local before after pg_before pg_after
  before=$(ticks "$1"); pg_before=$(postgres_ticks "$1")
  { TIMEFORMAT='%U %S'; time rate "${@:2}" >"$work/rate"; } 2>"$work/client-cpu"
  after=$(ticks "$1"); pg_after=$(postgres_ticks "$1")
  awk -v r="$(cat "$work/rate")" -v s="$(( after - before ))" -v p="$(( pg_after - pg_before ))" -v hz="$ticks_per_second" \
    '{ printf "%s %.2f %.2f %.2f", r, (s + p) / hz, $1 + $2, p / hz }' "$work/client-cpu"
}
echo "| workload | KubeBrain req/s | etcd req/s | KubeBrain/etcd | CPU s per run, KubeBrain: server + client | etcd: server + client |"
echo "|---|---:|---:|---:|---:|---:|"
for w in "${workloads[@]}"; do
  name=${w%%|*}
  selected "$name" || continue
  read -r -a args <<<"${w#*|}"
  kb=(); et=()
  for _ in $(seq 1 "$WARMUP"); do
    rate "127.0.0.1:$kb_port" "${args[@]}" >/dev/null
    rate "127.0.0.1:$etcd_port" "${args[@]}" >/dev/null
  done
  for round in $(seq 1 "$ROUNDS"); do # KubeBrain first in odd rounds, etcd first in even ones
    if [ $((round % 2)) = 1 ]; then
      kb+=("$(measured "$kb_pid" "127.0.0.1:$kb_port" "${args[@]}")")
      et+=("$(measured "$etcd_pid" "127.0.0.1:$etcd_port" "${args[@]}")")
    else
      et+=("$(measured "$etcd_pid" "127.0.0.1:$etcd_port" "${args[@]}")")
      kb+=("$(measured "$kb_pid" "127.0.0.1:$kb_port" "${args[@]}")")
    fi
  done
  awk -v name="$name" -v kb="${kb[*]}" -v et="${et[*]}" -v postgres="$([ "$STORAGE" = postgres ] && echo 1)" 'BEGIN {
    n = split(kb, k, " ") / 4; split(et, e, " ");
    for (i = 0; i < n; i++) {
      kr += k[4 * i + 1]; ks += k[4 * i + 2]; kc += k[4 * i + 3]; kp += k[4 * i + 4]
      er += e[4 * i + 1]; es += e[4 * i + 2]; ec += e[4 * i + 3]
    }
    server = sprintf("%.2f", ks / n)
    if (postgres) server = server sprintf(" (PostgreSQL %.2f)", kp / n)
    printf "| %s | %.0f | %.0f | %.2f× | %s + %.2f | %.2f + %.2f |\n", name, kr / n, er / n, kr / er, server, kc / n, es / n, ec / n }'
done

latency() { # endpoint → "p50 p99" of put→event latency in ms
  "$BENCH" --endpoints="$1" --conns="$CONNS" --clients="$CLIENTS" watch-latency --total=2000 --put-rate=200 --key-size=32 --val-size=32 2>&1 \
    | tr '\r' '\n' | awk '/ 50% in/ { p50 = $3 * 1000 } / 99% in/ { p99 = $3 * 1000 } END { printf "%.2f %.2f", p50, p99 }'
}
if selected "put → event latency"; then
  read -r kb50 kb99 <<<"$(latency "127.0.0.1:$kb_port")"
  read -r et50 et99 <<<"$(latency "127.0.0.1:$etcd_port")"
  echo
  echo "| put → event latency | KubeBrain ms | etcd ms | etcd/KubeBrain |"
  echo "|---|---:|---:|---:|"
  awk -v a="$kb50" -v b="$et50" 'BEGIN { printf "| p50 | %.2f | %.2f | %.2f× |\n", a, b, b / a }'
  awk -v a="$kb99" -v b="$et99" 'BEGIN { printf "| p99 | %.2f | %.2f | %.2f× |\n", a, b, b / a }'
fi
if [ "$STORAGE" = postgres ]; then
  read -r rows batches <<<"$(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -tA -F ' ' \
    -c "SELECT (SELECT count(*) FROM kv_log), (SELECT last_batch_id FROM meta)")"
  awk -v r="$rows" -v b="$batches" 'BEGIN { printf "\nGroup commit: %d log rows in %d append transactions, %.1f rows per commit\n", r, b, r / b }'
fi
