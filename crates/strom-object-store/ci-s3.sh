#!/usr/bin/env bash
# Start a local S3-compatible server (moto) for strom-object-store's S3 test.
#
# Usage:   eval "$(crates/strom-object-store/ci-s3.sh)"
#          cargo test -p strom-object-store
#
# Installs moto[server] if `moto_server` is missing (into the current Python with
# --break-system-packages, or else into a venv under /tmp), starts it in the background
# on $STROM_S3_TEST_HOST:$STROM_S3_TEST_PORT (default 127.0.0.1:5555) unless something
# already answers there, waits until it answers, and prints on stdout only:
#
#   export STROM_S3_TEST_ENDPOINT=http://127.0.0.1:5555
#
# Everything else goes to stderr. The server's pid is in /tmp/strom-moto-<port>.pid and its
# log in /tmp/strom-moto-<port>.log; stop it with `kill "$(cat /tmp/strom-moto-5555.pid)"`.
set -euo pipefail

host="${STROM_S3_TEST_HOST:-127.0.0.1}"
port="${STROM_S3_TEST_PORT:-5555}"
endpoint="http://${host}:${port}"
pidfile="/tmp/strom-moto-${port}.pid"
logfile="/tmp/strom-moto-${port}.log"
venv="/tmp/strom-moto-venv"

log() { echo "ci-s3: $*" >&2; }

answers() {
    # Any HTTP answer (moto replies 200 to GET / with a bucket list) means it is up.
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null --max-time 2 "${endpoint}/"
    else
        python3 - "$host" "$port" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
sys.exit(0 if s.recv(12).startswith(b"HTTP/") else 1)
EOF
    fi
}

if answers; then
    log "something already answers at ${endpoint}; using it"
    echo "export STROM_S3_TEST_ENDPOINT=${endpoint}"
    exit 0
fi

moto_bin="$(command -v moto_server || true)"
if [[ -z "${moto_bin}" || ! -x "${moto_bin}" ]] || ! "${moto_bin}" --help >/dev/null 2>&1; then
    if [[ -x "${venv}/bin/moto_server" ]]; then
        moto_bin="${venv}/bin/moto_server"
    else
        log "installing moto[server]"
        if python3 -m pip install --quiet --break-system-packages 'moto[server]' >&2 \
            && command -v moto_server >/dev/null 2>&1 \
            && moto_server --help >/dev/null 2>&1; then
            moto_bin="$(command -v moto_server)"
        else
            log "pip into the system Python failed; using a venv at ${venv}"
            python3 -m venv "${venv}" >&2
            "${venv}/bin/pip" install --quiet 'moto[server]' >&2
            moto_bin="${venv}/bin/moto_server"
        fi
    fi
fi

log "starting ${moto_bin} -H ${host} -p ${port} (log: ${logfile})"
nohup "${moto_bin}" -H "${host}" -p "${port}" >"${logfile}" 2>&1 </dev/null &
echo $! >"${pidfile}"

for _ in $(seq 1 120); do
    if answers; then
        log "moto is up at ${endpoint} (pid $(cat "${pidfile}"))"
        echo "export STROM_S3_TEST_ENDPOINT=${endpoint}"
        exit 0
    fi
    if ! kill -0 "$(cat "${pidfile}")" 2>/dev/null; then
        log "moto_server exited; its log:"
        cat "${logfile}" >&2
        exit 1
    fi
    sleep 0.5
done
log "moto_server did not answer at ${endpoint} within 60 s; its log:"
cat "${logfile}" >&2
exit 1
