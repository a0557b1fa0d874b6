#!/usr/bin/env bash
# The host-site test: videogen as another team gets it. Build the wheel, install it in a
# fresh virtualenv, create a new Django project with `django-admin startproject`, add the
# app exactly as the README's "Plugging videogen into an existing site" says (on top:
# LoginRequiredMiddleware and ATOMIC_REQUESTS, which a host may well use), migrate, start
# the simulator, the site and a qcluster, and run check.py against them.
#
# Usage: tests/host_site/run.sh [WORK_DIR]   (default: a new temporary folder, removed after)
# Needs: python3 with venv, and a package index or wheel folder pip can install from.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$REPO/tests/host_site"
PYTHON="${PYTHON:-python3}"
WORK="${1:-}"
if [[ -z "$WORK" ]]; then
  WORK="$(mktemp -d -t videogen-host-site-XXXXXX)"
  KEEP=""
else
  mkdir -p "$WORK"
  KEEP=1
fi
PIDS=()

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 ]]; then
    for log in "$WORK"/*.log; do
      [[ -f "$log" ]] && { echo "----- $log"; tail -n 60 "$log"; }
    done
  fi
  [[ -z "$KEEP" ]] && rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step() { echo "-- $*"; }

step "build the wheel (from a copy of the working tree)"
mkdir -p "$WORK/src" "$WORK/dist"
(cd "$REPO" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion) \
  | tar -xf - -C "$WORK/src"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$WORK/src" 2>&1 \
  | grep -v "is ignored" || true
WHEEL="$(ls "$WORK"/dist/videogen-*.whl)"

step "install it in a fresh virtualenv"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet "videogen[postgres,redis] @ file://$WHEEL" 2>&1 \
  | grep -v "is ignored" || true

step "django-admin startproject hostsite"
mkdir -p "$WORK/site"
(cd "$WORK/site" && "$WORK/venv/bin/django-admin" startproject hostsite .)
SITE_PORT="$(free_port)"
SIMULATOR_PORT="$(free_port)"
SECRET="whsec-host-site-$RANDOM$RANDOM"
export HOST_SITE_URL="http://127.0.0.1:$SITE_PORT"
export HOST_SIMULATOR_URL="http://127.0.0.1:$SIMULATOR_PORT/api/v1"
export HOST_WEBHOOK_SECRET="$SECRET"
export DJANGO_SETTINGS_MODULE=hostsite.settings
# What the README tells a host to add, then what this host also uses.
cat "$HERE/settings_videogen.py" >> "$WORK/site/hostsite/settings.py"
cp "$HERE/urls.py" "$WORK/site/hostsite/urls.py"

cd "$WORK/site"
step "migrate"
"$VPY" manage.py migrate --noinput > "$WORK/migrate.log" 2>&1

step "start the simulator, the site and a qcluster"
start() {  # start NAME COMMAND...: in its own process group, output to NAME.log
  local name=$1; shift
  setsid "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}
start simulator "$VPY" manage.py videogen_simulator --port "$SIMULATOR_PORT" \
  --webhook-secret "$SECRET" --pending-seconds 0.3 --processing-seconds 0.7
start site "$VPY" manage.py runserver "127.0.0.1:$SITE_PORT" --noreload
start qcluster "$VPY" manage.py qcluster

step "check"
PYTHONPATH="$WORK/site" "$VPY" "$HERE/check.py"
