# side-by-side.sh — sourced by the comparison scripts (bench-vs-etcd.sh, check-vs-etcd.sh, bench-scale.sh): starts
# a fresh KubeBrain (Release build, SQLite, or with STORAGE=postgres a throwaway PostgreSQL 15 cluster with
# synchronous_commit=on, initdb'd into the run's directory and run as the postgres user when run as root) and a
# fresh etcd on free loopback ports, waits until both answer a put, and stops everything and removes the run's
# directory on exit. Sets work, kb_port, kb_pid, etcd_port, etcd_pid and, with PostgreSQL, pg_port.
# The caller may set etcd_flags (extra etcd flags) before sourcing it; it runs from the repository root.
command -v etcd >/dev/null || { echo "etcd is not on PATH" >&2; exit 1; }
declare -p etcd_flags >/dev/null 2>&1 || etcd_flags=()

# Ports are taken below the kernel's range for outgoing connections (a port that a connection is using cannot be
# listened on, yet nothing answers there), each at most once per run (a server binds its ports only once started).
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
taken_ports=" "
free_port() { # sets the variable named $1 to a loopback port nothing listens on, not handed out before in this run
  local p
  while :; do
    p=$((10000 + RANDOM % (ephemeral_low - 10000)))
    [[ "$taken_ports" == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { taken_ports+="$p "; printf -v "$1" %s "$p"; return; }
  done
}
work=$(mktemp -d /tmp/kubebrain-side-by-side.XXXXXX)
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
  free_port pg_port
  as_postgres "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c max_connections=200" start >/dev/null
  storage=(--storage postgres --postgres-connection-string "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres")
fi

dotnet build Silo -c Release -v quiet -nologo >/dev/null
free_port kb_port
free_port silo_port
free_port gateway_port
dotnet Silo/bin/Release/net10.0/kubebrain.dll --listen-client-urls "http://127.0.0.1:$kb_port" --data-dir "$work/kubebrain" "${storage[@]}" \
  --silo-port "$silo_port" --gateway-port "$gateway_port" >"$work/kubebrain.log" 2>&1 &
kb_pid=$!
pids+=("$kb_pid")
free_port etcd_port
free_port peer_port
etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" --initial-cluster "bench=http://127.0.0.1:$peer_port" \
  "${etcd_flags[@]}" >"$work/etcd.log" 2>&1 &
etcd_pid=$!
pids+=("$etcd_pid")
for server in "$kb_port $kb_pid kubebrain" "$etcd_port $etcd_pid etcd"; do
  read -r port pid name <<<"$server"
  for attempt in $(seq 1 300); do
    ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=1s put bench-range-key "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null && [ "$attempt" -lt 300 ] || { echo "$name did not start:" >&2; tail -n 5 "$work/$name.log" >&2; exit 1; }
    sleep 0.2
  done
done
