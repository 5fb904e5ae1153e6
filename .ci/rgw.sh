#!/usr/bin/env bash
# A throw-away single-node Ceph RGW (S3) on 127.0.0.1 for tests: one mon, one memstore OSD
# (RAM only), radosgw with the beast frontend. Every file lives under DIR.
#
#   .ci/rgw.sh install        apt-get update + install the Ceph packages (root, Debian)
#   .ci/rgw.sh start DIR      start; prints shell-eval-able S3SAVER_TEST_ENDPOINT / AWS_* lines
#   .ci/rgw.sh env DIR        print those lines again
#   .ci/rgw.sh stop DIR       stop the daemons by their recorded PIDs
#
# Usage: eval "$(.ci/rgw.sh start /tmp/rgw)"; ...; .ci/rgw.sh stop /tmp/rgw
# Progress and errors go to stderr; logs stay in DIR/log. See docs/servers.md.
set -euo pipefail

ACCESS_KEY="s3saverTESTACCESSKEY"
SECRET_KEY="s3saverTESTsecretKEY0123456789abcdefghij"
TIMEOUT="${RGW_START_TIMEOUT:-120}" # seconds for the whole start-up
DAEMONS="rgw osd mon"

say() { echo "rgw.sh: $*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}
now() { date +%s.%N; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() { # pid -> true if the process exists and is not a zombie waiting to be reaped
    [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

pid_alive() { # pid file -> true if that process still runs and is a Ceph daemon
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    running "$pid" || return 1
    grep -qE '^(ceph-mon|ceph-osd|radosgw)' "/proc/$pid/comm" 2>/dev/null
}

term_wait() { # dir, names... : SIGTERM those daemons, SIGKILL what is left after 5 s
    local dir=$1 name pids="" pid i
    shift
    for name in "$@"; do
        if pid_alive "$dir/pids/$name"; then
            pid=$(cat "$dir/pids/$name")
            kill -TERM "$pid" 2>/dev/null || true
            pids="$pids $pid"
        fi
    done
    for i in $(seq 50); do
        for pid in $pids; do running "$pid" && break; done
        running "${pid:-0}" || break
        sleep 0.1
    done
    for pid in $pids; do
        if running "$pid"; then
            say "pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) ignored SIGTERM for 5 s; killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for name in "$@"; do rm -f "$dir/pids/$name"; done
}

# Each daemon exits in ~0.2 s while the ones it talks to are up, but radosgw (without the OSD)
# and the OSD (without the mon) can hang in shutdown: stop them one after another.
do_stop() { term_wait "$1" rgw && term_wait "$1" osd && term_wait "$1" mon; }

print_env() {
    cat <<EOF
S3SAVER_TEST_ENDPOINT=http://127.0.0.1:$1
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
AWS_DEFAULT_REGION=us-east-1
EOF
}

# A signed (SigV4) ListBuckets with the Python standard library only, so start-up needs no venv.
s3_list_buckets() { # port -> exit 0 on HTTP 200
    python3 - "$1" "$ACCESS_KEY" "$SECRET_KEY" <<'PY'
import datetime, hashlib, hmac, sys, urllib.request
port, ak, sk = sys.argv[1:]
host = f"127.0.0.1:{port}"
t = datetime.datetime.now(datetime.timezone.utc)
amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
empty = hashlib.sha256(b"").hexdigest()
signed = "host;x-amz-content-sha256;x-amz-date"
canon = f"GET\n/\n\nhost:{host}\nx-amz-content-sha256:{empty}\nx-amz-date:{amz}\n\n{signed}\n{empty}"
scope = f"{day}/us-east-1/s3/aws4_request"
to_sign = f"AWS4-HMAC-SHA256\n{amz}\n{scope}\n{hashlib.sha256(canon.encode()).hexdigest()}"
key = ("AWS4" + sk).encode()
for part in (day, "us-east-1", "s3", "aws4_request"):
    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
req = urllib.request.Request(f"http://{host}/", headers={
    "x-amz-date": amz, "x-amz-content-sha256": empty,
    "Authorization": f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, Signature={sig}"})
try:
    with urllib.request.urlopen(req, timeout=3) as r:
        sys.exit(0 if r.status == 200 and b"ListAllMyBucketsResult" in r.read() else 1)
except OSError as e:
    sys.exit(f"ListBuckets: {e}")
PY
}

do_start() {
    local dir=$1 t0 deadline mon_port rgw_port fsid osd_uuid name
    for cmd in ceph ceph-mon ceph-osd ceph-authtool monmaptool radosgw radosgw-admin python3; do
        command -v "$cmd" >/dev/null || die "$cmd not found; run '$0 install' (as root) first"
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    for name in $DAEMONS; do
        pid_alive "$dir/pids/$name" && die "$name already running from $dir (pid $(cat "$dir/pids/$name")); '$0 stop $dir' first"
    done
    # A fresh cluster every time: remove only what an earlier start left here.
    rm -rf "$dir/mon.a" "$dir/osd.0" "$dir/run" "$dir/pids" "$dir/log" "$dir/crash" "$dir/rgw" \
        "$dir/ceph.conf" "$dir/keyring" "$dir/monmap" "$dir/env"
    mkdir -p "$dir/mon.a" "$dir/osd.0" "$dir/run" "$dir/pids" "$dir/log" "$dir/crash" "$dir/rgw"

    t0=$(now)
    deadline=$(($(date +%s) + TIMEOUT))
    mon_port=$(free_port)
    rgw_port=$(free_port)
    fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')

    cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
# No cephx: with auth none every ms_*_mode must be crc, or radosgw loops on auth error -13.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
crash dir = $dir/crash
log to stderr = false
err to stderr = true
# start-up in ~2 s instead of ~13 s
paxos propose interval = 0.05
paxos min wait = 0.01
# one OSD holds everything
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
osd objectstore = memstore
memstore device bytes = 1073741824
# small on a 2-core machine
osd op num shards = 1
osd op num threads per shard = 2

[mon.a]
mon data = $dir/mon.a

[osd.0]
osd data = $dir/osd.0

[client.rgw.a]
rgw data = $dir/rgw
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw thread pool size = 32
EOF
    local c=(-c "$dir/ceph.conf")

    # Everything after this point is undone if start-up fails.
    trap 'say "start-up failed; logs in $dir/log"; tail_logs "$dir"; do_stop "$dir"' ERR
    run() { "$@" >>"$dir/log/setup.log" 2>&1 || fail "'$*' failed"; }
    fail() {
        say "ERROR: $*"
        tail_logs "$dir"
        do_stop "$dir"
        exit 1
    }
    wait_for() { # description, command... : retry until it succeeds or the deadline passes
        local what=$1
        shift
        until "$@" >>"$dir/log/setup.log" 2>&1; do
            [ "$(date +%s)" -lt "$deadline" ] || fail "timed out (${TIMEOUT}s) waiting for $what"
            check_daemons
            sleep 0.2
        done
    }
    check_daemons() {
        local n
        for n in $DAEMONS; do
            if [ -s "$dir/pids/$n" ] && ! pid_alive "$dir/pids/$n"; then fail "$n died"; fi
        done
    }
    spawn() { # name, command... : run a daemon in the foreground of its own session, record its PID
        local n=$1
        shift
        setsid "$@" </dev/null >>"$dir/log/$n.out" 2>&1 &
        echo $! >"$dir/pids/$n"
    }

    run ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *'
    run monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap"
    run ceph-mon "${c[@]}" -i a --mkfs --monmap "$dir/monmap" --keyring "$dir/keyring"
    spawn mon ceph-mon "${c[@]}" -i a -f
    # 'osd new' with a fixed uuid and id is idempotent: retry it until the monitor answers.
    wait_for "the monitor (osd new)" timeout 20 ceph "${c[@]}" --connect-timeout 10 osd new "$osd_uuid" 0
    say "mon up after $(elapsed "$t0") s"
    run ceph-osd "${c[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid"
    spawn osd ceph-osd "${c[@]}" -i 0 -f
    wait_for "the OSD to be up" osd_up "${c[@]}"
    say "osd up after $(elapsed "$t0") s"

    spawn rgw radosgw "${c[@]}" -n client.rgw.a -f
    # radosgw creates its pools and the default zone; user creation fails until then.
    wait_for "the RGW zone (user create)" timeout 20 radosgw-admin "${c[@]}" user create \
        --uid=s3saver-test --display-name="s3saver tests" \
        --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY"
    wait_for "S3 ListBuckets on port $rgw_port" s3_list_buckets "$rgw_port"
    trap - ERR

    print_env "$rgw_port" >"$dir/env"
    say "RGW ready on http://127.0.0.1:$rgw_port after $(elapsed "$t0") s (logs in $dir/log)"
    cat "$dir/env"
}

osd_up() {
    timeout 10 ceph "$@" --connect-timeout 5 osd dump --format json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(o["up"] for o in d["osds"]) else 1)'
}

elapsed() { python3 -c "import sys; print(f'{$(now) - $1:.1f}')"; }

tail_logs() {
    local f
    for f in "$1"/log/*; do
        [ -s "$f" ] || continue
        echo "----- $f (last 15 lines)" >&2
        tail -n 15 "$f" >&2
    done
}

case "${1:-}" in
install)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends radosgw ceph-mon ceph-osd ceph-common ceph-base
    ;;
start)
    [ $# -eq 2 ] || die "usage: $0 start DIR"
    do_start "$2"
    ;;
stop)
    [ $# -eq 2 ] || die "usage: $0 stop DIR"
    [ -d "$2" ] || exit 0
    do_stop "$2"
    ;;
env)
    [ $# -eq 2 ] || die "usage: $0 env DIR"
    [ -s "$2/env" ] || die "no running RGW recorded in $2"
    cat "$2/env"
    ;;
*)
    die "usage: $0 install | start DIR | env DIR | stop DIR"
    ;;
esac
