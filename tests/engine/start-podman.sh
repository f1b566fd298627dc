#!/usr/bin/env bash
# Start a Podman API service (Docker-compatible) for the library's tests, if none answers yet.
# Installs Debian's podman when it is missing. Runs as root on the vfs storage driver (no
# overlay mounts needed) with storage of its own, so it never touches another Podman's images.
#
# Usage: start-podman.sh            idempotent; prints the socket and the service's pid.
#        start-podman.sh install    only install podman (`make services`: the tests start
#                                   a service of their own, in a temp dir)
#   PODMAN_SOCK   the socket           (default /tmp/layerscope-podman/podman.sock)
#   PODMAN_ROOT   storage and run dirs (default /tmp/layerscope-podman)
# The tests then set LAYERSCOPE_PODMAN_HOST=unix://$PODMAN_SOCK.
set -euo pipefail
ROOT=${PODMAN_ROOT:-/tmp/layerscope-podman}
SOCK=${PODMAN_SOCK:-$ROOT/podman.sock}
PIDFILE=$ROOT/service.pid
LOG=$ROOT/service.log

answers() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

if [ "${1:-}" != install ] && answers; then
  echo "podman already answers on unix://$SOCK (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"; exit 0
fi
if ! command -v podman >/dev/null 2>&1; then
  echo "installing podman (Debian) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq podman >/dev/null
fi
[ "${1:-}" = install ] && { echo "podman: $(podman --version)"; exit 0; }
mkdir -p "$ROOT/storage" "$ROOT/run" "$ROOT/tmp"
cat > "$ROOT/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$ROOT/storage"
runroot = "$ROOT/run"
CONF
export CONTAINERS_STORAGE_CONF=$ROOT/storage.conf TMPDIR=$ROOT/tmp
rm -f "$SOCK"
setsid podman --root "$ROOT/storage" --runroot "$ROOT/run" --storage-driver vfs \
  --tmpdir "$ROOT/tmp" system service --time=0 "unix://$SOCK" >"$LOG" 2>&1 < /dev/null &
echo $! > "$PIDFILE"
for _ in $(seq 1 100); do
  answers && { echo "podman answers on unix://$SOCK (pid $(cat "$PIDFILE"))"; exit 0; }
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
  sleep 0.1
done
echo "podman did not start; its log ($LOG):" >&2
tail -20 "$LOG" >&2
exit 1
