#!/usr/bin/env bash
# System packages the test suite uses as real peers: PostgreSQL (the ledger's second backend and the
# replicas' shared resumption state), HAProxy (the load balancer in front of several replicas,
# tests/deploy), Chromium (the browser console's end-to-end test, driven by Playwright; never
# `playwright install`) and CMU Flite (voices no scene was tuned on, for the bench's held-back
# decision scenes).
# Installed with apt when missing and when we are allowed to (root); otherwise those tests
# skip and say why.
set -uo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v flite >/dev/null || need+=(flite)  # CMU Flite: the bench's held-back voices (slt, rms, awb)
if [ ${#need[@]} -eq 0 ]; then
  echo "test-services: PostgreSQL, HAProxy, Chromium and Flite present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "test-services: missing ${need[*]} (install with: sudo apt-get install -y ${need[*]}); those tests will skip"
  exit 0
fi
echo "test-services: installing ${need[*]} with apt-get"
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || echo "test-services: could not install ${need[*]}; those tests will skip"
