#!/bin/sh
# Throw-away PostgreSQL cluster for tests of the application DB (no system service needed).
#   scripts/pg-test-cluster.sh start DIR   -> initdb in DIR, start on a free loopback port, print the SQLAlchemy URL
#   scripts/pg-test-cluster.sh stop DIR    -> stop it (the caller removes DIR)
# initdb refuses to run as root: as root the cluster runs as the 'postgres' user (created by Debian's postgresql
# packages; otherwise set PG_USER). Binaries: PG_BIN, else /usr/local/bin, else /usr/lib/postgresql/*/bin.
set -eu
cmd=${1:?usage: pg-test-cluster.sh start|stop DIR}
dir=${2:?usage: pg-test-cluster.sh start|stop DIR}
bin=${PG_BIN:-}
if [ -z "$bin" ]; then
  if [ -x /usr/local/bin/initdb ]; then bin=/usr/local/bin
  else bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true); fi
fi
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "initdb not found (set PG_BIN)" >&2; exit 3; }

run() {  # run a command as the cluster owner
  if [ "$(id -u)" = 0 ]; then
    user=${PG_USER:-postgres}
    id "$user" >/dev/null 2>&1 || { echo "user $user does not exist (set PG_USER)" >&2; exit 3; }
    su "$user" -s /bin/sh -c "$1"
  else
    sh -c "$1"
  fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown "${PG_USER:-postgres}" "$dir"; chmod 700 "$dir"
    run "test -w '$dir'" || { echo "$dir is not reachable by ${PG_USER:-postgres} (use a folder under /tmp)" >&2; exit 3; }
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  run "$bin/initdb -D '$dir/data' -A trust -U yunying -E UTF8 --no-locale" >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 4; }
  run "$bin/pg_ctl -D '$dir/data' -l '$dir/server.log' -w -t 30 -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" start" \
    >/dev/null 2>&1 || { cat "$dir/server.log" >&2; exit 5; }
  echo "postgresql+psycopg://yunying@127.0.0.1:$port/postgres"
  ;;
stop)
  run "$bin/pg_ctl -D '$dir/data' -m fast -w stop" >/dev/null 2>&1 || true
  ;;
*) echo "usage: pg-test-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
