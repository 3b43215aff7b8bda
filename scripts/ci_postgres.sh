#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL cluster for crowdalpha's tests.
#
#   scripts/ci_postgres.sh start [--dir DIR] [--port PORT] [--env-file FILE] [--no-install] [--owner-pid PID]
#   scripts/ci_postgres.sh stop DIR
#   scripts/ci_postgres.sh reap
#
# start: finds PostgreSQL's binaries (PG_BIN, /usr/lib/postgresql/*/bin, pg_config,
# PATH; as root with apt-get and without --no-install it installs postgresql-15,
# else postgresql), runs initdb in DIR (default: a new /tmp/crowdalpha-pg.XXXXXX)
# as an unprivileged user when run as root (PostgreSQL refuses root: it uses the
# 'postgres' user if present, else creates 'crowdalpha-pg'), starts the server on
# 127.0.0.1 at the first free port from PORT (default 54329), creates the database
# crowdalpha_test owned by role crowdalpha (password auth over TCP), and prints
#
#   export CROWDALPHA_TEST_PG_URL='postgresql+psycopg://crowdalpha:...@127.0.0.1:54329/crowdalpha_test'
#   export CROWDALPHA_TEST_PG_DIR='/tmp/crowdalpha-pg.XXXXXX'
#
# on stdout (everything else goes to stderr), so a CI script can do
#
#   eval "$(bash scripts/ci_postgres.sh start)"
#   ... pytest ...
#   bash scripts/ci_postgres.sh stop "$CROWDALPHA_TEST_PG_DIR"
#
# --env-file FILE also appends KEY=VALUE lines to FILE. --owner-pid PID ties the
# cluster to a process (the pytest fixture passes its own): 'reap', which start
# also runs then, stops clusters whose owner is gone (a test run that was killed).
# A start that fails after starting the server stops it again. Exit status 3
# means no PostgreSQL could be found or installed. fsync is off: tests only.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # runuser, useradd

log() { printf 'ci_postgres: %s\n' "$*" >&2; }
die() { log "error: $1"; exit "${2:-1}"; }

MARKER=".crowdalpha-pg"
DB_NAME="crowdalpha_test"
DB_ROLE="crowdalpha"

find_bin() {
    local dir
    if [[ -n "${PG_BIN:-}" && -x "${PG_BIN}/initdb" ]]; then echo "$PG_BIN"; return 0; fi
    # newest major version first; CROWDALPHA_PG_GLOB overrides where to look (for tests)
    for dir in $(ls -d ${CROWDALPHA_PG_GLOB:-/usr/lib/postgresql/*/bin} 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
    done
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir)"
        if [[ -x "$dir/initdb" ]]; then echo "$dir"; return 0; fi
    fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
    return 1
}

install_postgres() {
    command -v apt-get >/dev/null 2>&1 || return 1
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    apt-get install -y -qq postgresql-15 >&2 || apt-get install -y -qq postgresql >&2
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_start() {
    local dir="" port="${CROWDALPHA_PG_PORT:-54329}" env_file="" install=1 owner_pid=""
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dir) dir="$2"; shift 2 ;;
            --port) port="$2"; shift 2 ;;
            --env-file) env_file="$2"; shift 2 ;;
            --no-install) install=0; shift ;;
            --owner-pid) owner_pid="$2"; shift 2 ;;
            *) die "unknown option '$1' for start" 2 ;;
        esac
    done

    local bin
    if ! bin="$(find_bin)"; then
        if [[ $install -eq 1 && $EUID -eq 0 ]] && install_postgres; then
            bin="$(find_bin)" || die "PostgreSQL was installed but initdb is still not found" 3
        else
            die "no PostgreSQL binaries found (looked at PG_BIN, /usr/lib/postgresql/*/bin, pg_config, PATH)" 3
        fi
    fi
    if [[ -n "$owner_pid" ]]; then cmd_reap; fi
    log "using PostgreSQL binaries in $bin ($("$bin/postgres" --version))"

    local user="" run=()
    if [[ $EUID -eq 0 ]]; then
        if id postgres >/dev/null 2>&1; then
            user="${CROWDALPHA_PG_OS_USER:-postgres}"
        else
            user="${CROWDALPHA_PG_OS_USER:-crowdalpha-pg}"
        fi
        if ! id "$user" >/dev/null 2>&1; then
            log "creating unprivileged user '$user'"
            useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
        fi
        run=(runuser -u "$user" --)
    fi

    if [[ -z "$dir" ]]; then
        dir="$(mktemp -d /tmp/crowdalpha-pg.XXXXXX)"
    else
        mkdir -p "$dir"
        [[ -z "$(ls -A "$dir")" ]] || die "cluster folder '$dir' is not empty" 2
    fi
    dir="$(cd "$dir" && pwd)"
    touch "$dir/$MARKER"
    mkdir -p "$dir/socket"
    local password
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$password" >"$dir/pwfile"
    printf '%s\n' "$bin" >"$dir/bin"
    printf '%s\n' "$user" >"$dir/os_user"
    if [[ -n "$owner_pid" ]]; then printf '%s\n' "$owner_pid" >"$dir/owner_pid"; fi
    chmod 700 "$dir"
    chmod 600 "$dir/pwfile"
    if [[ -n "$user" ]]; then chown -R "$user" "$dir"; fi
    cd "$dir"

    "${run[@]}" "$bin/initdb" -D "$dir/data" -U "$DB_ROLE" --pwfile="$dir/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed in $dir/data"; }
    rm -f "$dir/pwfile"

    local attempt started=0
    for attempt in 1 2 3 4 5 6 7 8; do
        while port_in_use "$port"; do port=$((port + 1)); done
        if "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >&2; then
            started=1
            break
        fi
        log "start on port $port failed (attempt $attempt), trying the next port"
        port=$((port + 1))
    done
    if [[ $started -ne 1 ]]; then
        tail -n 20 "$dir/server.log" >&2 || true
        die "PostgreSQL did not start; cluster left in $dir"
    fi
    if ! "${run[@]}" "$bin/createdb" -h "$dir/socket" -p "$port" -U "$DB_ROLE" "$DB_NAME" >&2; then
        cmd_stop "$dir"
        die "createdb failed; server stopped"
    fi

    local url="postgresql+psycopg://$DB_ROLE:$password@127.0.0.1:$port/$DB_NAME"
    log "PostgreSQL is up on 127.0.0.1:$port, database $DB_NAME, cluster in $dir"
    printf "export CROWDALPHA_TEST_PG_URL='%s'\n" "$url"
    printf "export CROWDALPHA_TEST_PG_DIR='%s'\n" "$dir"
    if [[ -n "$env_file" ]]; then
        printf 'CROWDALPHA_TEST_PG_URL=%s\nCROWDALPHA_TEST_PG_DIR=%s\n' "$url" "$dir" >>"$env_file"
    fi
}

cmd_stop() {
    local dir="${1:-}"
    [[ -n "$dir" ]] || die "usage: $0 stop DIR" 2
    [[ -f "$dir/$MARKER" ]] || die "'$dir' is not a cluster made by this script" 2
    local bin user run=()
    bin="$(cat "$dir/bin")"
    user="$(cat "$dir/os_user")"
    if [[ -n "$user" && $EUID -eq 0 ]]; then run=(runuser -u "$user" --); fi
    cd "$dir"
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || log "pg_ctl stop failed"
    fi
    cd /
    rm -rf "$dir"
    log "stopped and removed $dir"
}

cmd_reap() {
    local dir pid
    for dir in /tmp/crowdalpha-pg.*; do
        [[ -f "$dir/$MARKER" && -f "$dir/owner_pid" ]] || continue
        pid="$(cat "$dir/owner_pid")"
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            log "reaping $dir: its owner process $pid is gone"
            (cmd_stop "$dir") || true
        fi
    done
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    reap) cmd_reap ;;
    *) die "usage: $0 start [--dir DIR] [--port PORT] [--env-file FILE] [--no-install] [--owner-pid PID] | stop DIR | reap" 2 ;;
esac
