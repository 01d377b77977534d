#!/usr/bin/env bash
# Start (or stop) a throw-away PostgreSQL cluster on 127.0.0.1 for tests.
#   scripts/pg-throwaway.sh start DIR PORT   -> prints the SQLAlchemy URL
#   scripts/pg-throwaway.sh stop DIR
# initdb refuses to run as root, so as root the cluster belongs to the postgres user (runuser).
set -euo pipefail
cmd=$1 dir=$2
bin=$(dirname "$(readlink -f "$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -1)")")
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
case $cmd in
  start)
    port=$3
    mkdir -p "$dir"
    chmod 755 "$(dirname "$dir")"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    "${as[@]}" "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    "${as[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c max_connections=300" start >/dev/null
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    "${as[@]}" "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
