#!/usr/bin/env bash
# Serve Pagoflex on 127.0.0.1:8000 with the bundled sandbox bank on 127.0.0.1:8001, and a Celery
# worker and beat for the background jobs (sync sweeps, expiry, webhooks to merchants).
# Embedded defaults only: SQLite, and kombu's filesystem transport under var/celery as the
# broker (unless CELERY_BROKER_URL says otherwise), so no external service. Ctrl-C stops
# everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export SANDBOX_API_KEY="${SANDBOX_API_KEY:-sbx_demo_api_key}"
export SANDBOX_WEBHOOK_SECRET="${SANDBOX_WEBHOOK_SECRET:-sbx_demo_webhook_secret}"
PORT="${PORT:-8000}"
SANDBOX_PORT="${SANDBOX_PORT:-8001}"
export PAGOFLEX_PUBLIC_URL="${PAGOFLEX_PUBLIC_URL:-http://127.0.0.1:${PORT}}"
mkdir -p var var/celery/queue var/celery/control

$PY manage.py migrate --noinput >/dev/null
SETUP=$($PY manage.py setup_demo --sandbox-url "http://127.0.0.1:${SANDBOX_PORT}")
API_KEY=$(echo "$SETUP" | awk '/^api key/ {print $3}')

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

$PY -m connectors.sandbox.simulator --host 127.0.0.1 --port "$SANDBOX_PORT" \
    --api-key "$SANDBOX_API_KEY" --webhook-secret "$SANDBOX_WEBHOOK_SECRET" > var/sandbox.log 2>&1 &
pids+=($!)

cat <<INFO

  Pagoflex is starting on http://127.0.0.1:${PORT}
$(echo "$SETUP" | sed 's/^/  /')
  admin           http://127.0.0.1:${PORT}/admin/  (user admin, password ${ADMIN_PASSWORD:-admin})
  API docs        http://127.0.0.1:${PORT}/v1/docs/
  sandbox bank    http://127.0.0.1:${SANDBOX_PORT} (log: var/sandbox.log)
  jobs            Celery worker and beat (logs: var/worker.log, var/beat.log); schedules in the admin

  Try it:
  curl -s http://127.0.0.1:${PORT}/v1/payments -H "Authorization: Bearer ${API_KEY}" \\
    -H "Content-Type: application/json" \\
    -d '{"amount": 1050, "currency": "EUR", "confirm": true, "payment_method_type": "card",
         "payment_method_data": {"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}}'

INFO

# One task at a time (solo pool): SQLite has a single writer, and dev traffic needs no more.
$PY -m celery -A pagoflex worker --pool=solo --without-mingle --without-gossip --without-heartbeat \
    --loglevel=INFO > var/worker.log 2>&1 &
pids+=($!)
$PY -m celery -A pagoflex beat --loglevel=INFO > var/beat.log 2>&1 &
pids+=($!)

$PY manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)
wait -n "${pids[@]}"
