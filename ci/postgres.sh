#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server (Debian's `postgresql`, installed if missing) for the history tests, on
# 127.0.0.1:${EDGEBENCH_PG_PORT:-55432} with trust authentication and a database `edgebench_test`, its files in a
# new temporary folder, and prints its URL (postgres://postgres@127.0.0.1:PORT/edgebench_test) on stdout. Stop it
# with: pg_ctl -D <folder>/data stop (the folder is printed on stderr). Runs initdb and the server as the
# `postgres` user when started as root (PostgreSQL refuses to run as root).
set -euo pipefail
port=${EDGEBENCH_PG_PORT:-55432}
if [ -z "$(find /usr/lib/postgresql -path "*/bin/initdb" 2>/dev/null)" ]; then
  echo "postgres: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  ${SUDO:-} apt-get install -y -qq postgresql >/dev/null
fi
bin=$(dirname "$(find /usr/lib/postgresql -path "*/bin/initdb" | sort -V | tail -n 1)")
url="postgres://postgres@127.0.0.1:$port/edgebench_test"
if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  # Already running (an earlier call in this session): make sure of the database and reuse it.
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres edgebench_test 2>/dev/null || true
  echo "postgres: reusing the server on port $port" >&2
  echo "$url"
  exit 0
fi
dir=$(mktemp -d /tmp/edgebench-pg.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
"${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres edgebench_test
echo "postgres: server in $dir (stop: ${as[*]} $bin/pg_ctl -D $dir/data stop)" >&2
echo "$url"
