#!/usr/bin/env bash
# Make sure the services the test suite talks to are up:
#   PostgreSQL on 127.0.0.1:5432 (trust auth for user postgres, database "test")
#   Redis on 127.0.0.1:6379 (nothing kept on disk)
# and that systemd-analyze (used to verify the shipped unit file) is installed.
# Idempotent and silent when everything is already there; installs Debian packages
# and starts what is missing otherwise (needs root or sudo for that part).
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=${PG_PORT:-5432}
PG_DB=test
REDIS_PORT=${REDIS_PORT:-6379}

log() { echo "ensure-services: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@" || die "'$*' needs root: run this script as root or with passwordless sudo"
  else
    die "'$*' needs root: run this script as root"
  fi
}

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $*: no apt-get here; install it by hand"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Poll until "$@" succeeds, for at most 15 s.
wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + 15))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what did not come up within 15 s"
    sleep 0.2
  done
}

# --- PostgreSQL -------------------------------------------------------------------------

pg_accepting() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
  else
    port_open "$PG_HOST" "$PG_PORT"
  fi
}

pg_test_db_ok() {
  command -v psql >/dev/null 2>&1 &&
    psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$PG_DB" -tAc 'SELECT 1' >/dev/null 2>&1
}

as_postgres() { as_root runuser -u postgres -- "$@"; }

ensure_postgres() {
  pg_accepting && pg_test_db_ok && return 0
  if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
    apt_install postgresql
  fi
  local version cluster status hba
  read -r version cluster _ status _ < <(pg_lsclusters -h | head -n 1)
  [ -n "${version:-}" ] || die "no PostgreSQL cluster found (pg_lsclusters printed nothing)"
  hba="/etc/postgresql/$version/$cluster/pg_hba.conf"
  if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    log "enabling trust authentication on 127.0.0.1 in $hba"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    [ "$status" = online ] && as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload
  fi
  if [ "$status" != online ]; then
    log "starting PostgreSQL $version/$cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start ||
      die "PostgreSQL $version/$cluster did not start: see /var/log/postgresql/"
  fi
  wait_for "PostgreSQL on $PG_HOST:$PG_PORT" pg_accepting
  if ! pg_test_db_ok; then
    if ! as_postgres psql -X -q -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
      log "creating database $PG_DB"
      as_postgres createdb "$PG_DB"
    fi
  fi
  pg_test_db_ok || die "cannot connect as postgres to $PG_HOST:$PG_PORT/$PG_DB without a password (check $hba)"
}

# --- Redis ------------------------------------------------------------------------------

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
  else
    port_open 127.0.0.1 "$REDIS_PORT"
  fi
}

ensure_redis() {
  redis_up && return 0
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null ||
    die "redis-server did not start"
  wait_for "Redis on 127.0.0.1:$REDIS_PORT" redis_up
}

# --- Tools ------------------------------------------------------------------------------

ensure_tools() {
  command -v systemd-analyze >/dev/null 2>&1 || apt_install systemd
}

ensure_postgres
ensure_redis
ensure_tools
