#!/usr/bin/env bash
# PostgreSQL + N `chimein serve` replicas + HAProxy on this machine, for trying the scale-out set-up.
#   deploy/local-cluster.sh --replicas 2                  throwaway PostgreSQL, HAProxy on 8443/8080
#   deploy/local-cluster.sh --replicas 3 -- --llm-url http://127.0.0.1:8000/v1   options for every replica
# Needs Debian's postgresql and haproxy (apt-get install -y postgresql haproxy). See deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
exec "$PY" -m chimein.server.cluster "$@"
