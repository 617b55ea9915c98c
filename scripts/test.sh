#!/usr/bin/env bash
# scripts/test.sh: THE test command of Strom. README.md gives it and .ci/run calls it, so
# developers and CI run the same tests against the same servers.
#
# Usage:  scripts/test.sh                     # every test: nextest, then the doctests
#         scripts/test.sh -p strom-window     # a subset: the args go to `cargo nextest run`
#
# What it does:
#   1. The S3-compatible test server for the object-store tests. If STROM_S3_TEST_ENDPOINT
#      is already set (non-empty), that server is used and nothing is started. Otherwise it
#      installs moto[server] at the pinned versions below into a venv under
#      ${XDG_CACHE_HOME:-$HOME/.cache}/strom/ (reused by later runs; a changed pin makes a
#      new venv), starts it on 127.0.0.1:$STROM_S3_TEST_PORT (default: a free port),
#      waits until it answers and exports STROM_S3_TEST_ENDPOINT=http://127.0.0.1:<port>.
#      The pid of the server THIS script started is kept in a shell variable and an EXIT
#      trap stops that pid, and only that one. No pidfiles.
#   2. `cargo nextest run --workspace --profile P "$@"` (no --workspace when the args name
#      packages with -p/--package), where P is `ci` when CI=true and
#      `default` otherwise (NEXTEST_PROFILE overrides; profiles are in .config/nextest.toml,
#      with slow-timeouts so that no test can hang). cargo-nextest must be installed:
#      `cargo install cargo-nextest --locked`.
#   2b. On a full run (no args), the variants: the window, join, two-input, CEP and golden
#      tests again with STROM_CHANNELS=serialized, and again with STROM_STATE_BACKEND=disk
#      (every job that does not choose a backend runs on the disk backend), and
#      `-p strom --no-default-features`.
#   3. The doctests, `cargo test --workspace --doc` (nextest does not run doctests). With
#      args, only those that select packages (-p/--package X) are passed on; any other arg
#      (a test filter, a nextest option) skips the doctests, since they are not a subset
#      nextest's args can describe.
#
# Under CI=true the S3 tests fail, rather than skip, when STROM_S3_TEST_ENDPOINT is unset;
# this script is what sets it.
#
# Environment: STROM_S3_TEST_ENDPOINT (use this server), STROM_S3_TEST_PORT (port for the
# started one), PYTHON (interpreter for the venv; default python3, needs >= 3.10),
# XDG_CACHE_HOME, CI, NEXTEST_PROFILE.
set -euo pipefail
cd "$(dirname "$0")/.."

# moto and the packages its HTTP server stands on. Bump together; the venv name follows.
MOTO_VERSION=5.2.6
MOTO_PINS=(
    "moto[server]==${MOTO_VERSION}"
    "boto3==1.44.18"
    "botocore==1.44.18"
    "Flask==3.1.3"
    "Werkzeug==3.1.9"
    "flask-cors==6.0.5"
)

log() { echo "scripts/test.sh: $*" >&2; }
die() { log "$*"; exit 1; }

if ! cargo nextest --version >/dev/null 2>&1; then
    die "cargo-nextest is missing. Install it with \`cargo install cargo-nextest --locked\` \
(or a prebuilt binary, see https://nexte.st/docs/installation/) and run this again."
fi

# ---------------------------------------------------------------------------------------
# 1. The S3 test server.
moto_pid=""
moto_log=""
stop_moto() {
    if [[ -n "${moto_pid}" ]] && kill -0 "${moto_pid}" 2>/dev/null; then
        log "stopping moto (pid ${moto_pid})"
        kill "${moto_pid}" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "${moto_pid}" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "${moto_pid}" 2>/dev/null || true
        wait "${moto_pid}" 2>/dev/null || true
    fi
    moto_pid=""
    if [[ -n "${moto_log}" ]]; then
        rm -f "${moto_log}"
    fi
}
trap stop_moto EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Exit status 0 when an HTTP server answers at 127.0.0.1:$2 (checked with python $1).
answers() {
    "$1" - "$2" <<'EOF' 2>/dev/null
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
    sys.exit(0 if s.recv(5).startswith(b"HTTP/") else 1)
except OSError:
    sys.exit(1)
EOF
}

if [[ -n "${STROM_S3_TEST_ENDPOINT:-}" ]]; then
    log "STROM_S3_TEST_ENDPOINT=${STROM_S3_TEST_ENDPOINT} is set: using that S3 server"
else
    python="${PYTHON:-python3}"
    command -v "${python}" >/dev/null 2>&1 || die "${python} not found: moto needs Python >= 3.10"
    "${python}" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$("${python}" --version 2>&1) is too old: moto ${MOTO_VERSION} needs Python >= 3.10"

    pins_hash="$(printf '%s\n' "${MOTO_PINS[@]}" | "${python}" -c \
        'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:8])')"
    venv="${XDG_CACHE_HOME:-$HOME/.cache}/strom/moto-${MOTO_VERSION}-${pins_hash}"
    if [[ ! -f "${venv}/.installed" ]]; then
        log "installing ${MOTO_PINS[*]} into ${venv}"
        rm -rf "${venv}"
        mkdir -p "$(dirname "${venv}")"
        "${python}" -m venv "${venv}" >&2
        "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
            "${MOTO_PINS[@]}" >&2 || die "installing moto into ${venv} failed"
        touch "${venv}/.installed"
    fi

    if [[ -n "${STROM_S3_TEST_PORT:-}" ]]; then
        port="${STROM_S3_TEST_PORT}"
        if answers "${venv}/bin/python" "${port}"; then
            die "something already answers on 127.0.0.1:${port}; set \
STROM_S3_TEST_ENDPOINT=http://127.0.0.1:${port} to test against it, or pick another port"
        fi
    else
        port="$("${venv}/bin/python" -c \
            'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    fi

    moto_log="$(mktemp "${TMPDIR:-/tmp}/strom-moto.XXXXXX")"
    log "starting moto ${MOTO_VERSION} on 127.0.0.1:${port}"
    "${venv}/bin/moto_server" -H 127.0.0.1 -p "${port}" >"${moto_log}" 2>&1 </dev/null &
    moto_pid=$!
    up=""
    for _ in $(seq 1 120); do
        if ! kill -0 "${moto_pid}" 2>/dev/null; then
            cat "${moto_log}" >&2
            moto_pid=""
            die "moto_server exited at start (its log is above)"
        fi
        if answers "${venv}/bin/python" "${port}"; then
            up=1
            break
        fi
        sleep 0.5
    done
    if [[ -z "${up}" ]]; then
        cat "${moto_log}" >&2
        die "moto_server did not answer on 127.0.0.1:${port} within 60 s (its log is above)"
    fi
    export STROM_S3_TEST_ENDPOINT="http://127.0.0.1:${port}"
    log "moto is up at ${STROM_S3_TEST_ENDPOINT} (pid ${moto_pid})"
fi

# ---------------------------------------------------------------------------------------
# 2. Every test but the doctests, with nextest.
if [[ -n "${NEXTEST_PROFILE:-}" ]]; then
    profile="${NEXTEST_PROFILE}"
elif [[ "${CI:-}" == "true" ]]; then
    profile=ci
else
    profile=default
fi

# The args that also select the doctests: -p/--package only.
doc_args=()
doc_tests=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        -p | --package)
            doc_args+=("${args[i]}" "${args[i + 1]:-}")
            i=$((i + 1))
            ;;
        --package=*) doc_args+=("${args[i]}") ;;
        -p?*) doc_args+=("${args[i]}") ;;
        *) doc_tests="" ;;
    esac
done
# --workspace unless packages are named (cargo would let --workspace win over -p).
workspace=()
if [[ ${#doc_args[@]} -eq 0 ]]; then
    workspace=(--workspace)
    doc_args=(--workspace)
fi

status=0
log "cargo nextest run ${workspace[*]:+${workspace[*]} }--profile ${profile} $*"
cargo nextest run ${workspace[@]+"${workspace[@]}"} --profile "${profile}" "$@" || status=$?

# ---------------------------------------------------------------------------------------
# 2b. Variants, on a full run only (no args): the tests of windows, joins, two-input
#     operators, CEP and the golden files with every channel serialized (what crosses a
#     task boundary is encoded and decoded, as over a network), the same on the disk state
#     backend, and the façade built with no default features (the core alone).
if [[ $# -eq 0 ]]; then
    log "STROM_CHANNELS=serialized: windows, joins, two-input operators, CEP, golden files"
    STROM_CHANNELS=serialized cargo nextest run --profile "${profile}" \
        -p strom-cli --test golden --test windows --test window_properties --test joins \
        --test connected --test broadcast_state --test cep_properties --test cep_scenarios \
        --test checkpointing --test channels \
        || status=$?
    STROM_CHANNELS=serialized cargo nextest run --profile "${profile}" \
        -p strom-window -p strom-cep -p strom-nexmark || status=$?
    log "STROM_STATE_BACKEND=disk: windows, joins, CEP, golden files, checkpoints"
    state_dir="$(mktemp -d "${TMPDIR:-/tmp}/strom-state-test.XXXXXX")"
    STROM_STATE_BACKEND=disk STROM_STATE_DIR="${state_dir}" \
        cargo nextest run --profile "${profile}" \
        -p strom-cli --test golden --test windows --test window_properties --test joins \
        --test cep_properties --test cep_scenarios --test checkpointing --test keyed_process \
        || status=$?
    rm -rf "${state_dir}"
    log "the façade with --no-default-features"
    cargo nextest run --profile "${profile}" -p strom --no-default-features || status=$?
fi

# ---------------------------------------------------------------------------------------
# 3. The doctests (also after a nextest failure, so that one run reports everything).
if [[ -n "${doc_tests}" ]]; then
    log "cargo test --doc ${doc_args[*]}"
    cargo test --doc "${doc_args[@]}" || status=$?
else
    log "doctests skipped: the args are not only -p/--package selections"
fi

if [[ ${status} -ne 0 ]]; then
    log "FAILED (exit status ${status})"
fi
exit "${status}"
