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
source scripts/side-by-side.sh

clean() { tr '\r' '\n' | grep -a -E 'PASS|FAIL|too|Slowest|Stddev|Throughput|memory|rror'; }
for check in $CHECKS; do
  for target in "KubeBrain $kb_port" "etcd $etcd_port"; do
    read -r name port <<<"$target"
    echo "== etcdctl check ${check%%=*} --load=${check#*=} against $name"
    ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" check "${check%%=*}" --load="${check#*=}" 2>&1 | clean || true
  done
done
