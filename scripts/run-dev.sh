#!/usr/bin/env bash
# Serve Pagoflex on 127.0.0.1:$PORT (8000) with every bundled bank simulator beside it:
# the sandbox bank ($SANDBOX_PORT, 8001), Paytm UPI ($PAYTM_PORT, 8002), Authipay ($AUTHIPAY_PORT,
# 8003) and Banco X ($BANCOX_PORT, 8004); and a Celery worker and beat for the background jobs
# (sync sweeps, expiry, webhooks to merchants). `manage.py setup_demo` gives the demo merchant one
# account per simulator (credentials below, base URL on its port, webhook URL handed to the
# simulator) and a routing configuration; then one ready curl line per connector is printed.
# Embedded defaults only: SQLite, and kombu's filesystem transport under var/celery as the
# broker (unless CELERY_BROKER_URL says otherwise), so no external service. Run it again and it
# reuses what it made (moved ports included). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# Milliseconds since the epoch (bash 5's EPOCHREALTIME; whole seconds on older shells).
now_ms() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t / 1000)); else echo $((SECONDS * 1000)); fi
}
started_ms=$(now_ms)

PORT="${PORT:-8000}"
SANDBOX_PORT="${SANDBOX_PORT:-8001}"
PAYTM_PORT="${PAYTM_PORT:-8002}"
AUTHIPAY_PORT="${AUTHIPAY_PORT:-8003}"
BANCOX_PORT="${BANCOX_PORT:-8004}"
# Seconds Banco X waits before it settles a payment and posts its webhook.
BANCOX_WEBHOOK_DELAY="${BANCOX_WEBHOOK_DELAY:-3}"
export PAGOFLEX_PUBLIC_URL="${PAGOFLEX_PUBLIC_URL:-http://127.0.0.1:${PORT}}"

# The demo credentials: each simulator and setup_demo read the same variables (setup_demo's
# DEMO_ACCOUNTS has the same defaults).
export SANDBOX_API_KEY="${SANDBOX_API_KEY:-sbx_demo_api_key}"
export SANDBOX_WEBHOOK_SECRET="${SANDBOX_WEBHOOK_SECRET:-sbx_demo_webhook_secret}"
export PAYTM_SIM_MID="${PAYTM_SIM_MID:-PAGOFXDEMO0000000001}"
export PAYTM_SIM_MERCHANT_KEY="${PAYTM_SIM_MERCHANT_KEY:-demoPaytmKey0001}"
export AUTHIPAY_API_KEY="${AUTHIPAY_API_KEY:-sim_authipay_key}"
export AUTHIPAY_API_SECRET="${AUTHIPAY_API_SECRET:-sim_authipay_secret}"
export AUTHIPAY_STORE_ID="${AUTHIPAY_STORE_ID:-12345500000}"
export BANCOX_API_KEY="${BANCOX_API_KEY:-bx_test_api_key}"
export BANCOX_SECRET="${BANCOX_SECRET:-bx_test_secret}"
export BANCOX_WEBHOOK_SECRET="${BANCOX_WEBHOOK_SECRET:-bx_test_webhook_secret}"
mkdir -p var var/celery/queue var/celery/control

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# The two simulators that are not told an account's URL start now, beside setup_demo.
$PY -m connectors.sandbox.simulator --host 127.0.0.1 --port "$SANDBOX_PORT" > var/sandbox.log 2>&1 &
pids+=($!)
$PY -m connectors.authipay.simulator --host 127.0.0.1 --port "$AUTHIPAY_PORT" > var/authipay.log 2>&1 &
pids+=($!)

# The migrations and the demo data, in one process.
SETUP=$($PY manage.py setup_demo --migrate --sandbox-url "http://127.0.0.1:${SANDBOX_PORT}" \
    --paytm-url "http://127.0.0.1:${PAYTM_PORT}" --authipay-url "http://127.0.0.1:${AUTHIPAY_PORT}" \
    --bancox-url "http://127.0.0.1:${BANCOX_PORT}")
API_KEY=$(echo "$SETUP" | awk '/^api key/ {print $3}')
# setup_demo prints "<connector> <account id> <base url> webhooks <webhook url>" per account.
PAYTM_WEBHOOK_URL=$(echo "$SETUP" | awk '$1 == "paytm" {print $NF}')
BANCOX_ACCOUNT_ID=$(echo "$SETUP" | awk '$1 == "banco_x" {print $2}')

# The server starts once the database is migrated: its own migration check must not read the
# SQLite file while migrate writes it. It runs the system checks (setup_demo does not).
$PY manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)
# Paytm notifies one URL per merchant (set in its dashboard): the demo Paytm account's webhook URL.
$PY -m connectors.paytm.simulator --host 127.0.0.1 --port "$PAYTM_PORT" \
    --notification-url "$PAYTM_WEBHOOK_URL" > var/paytm.log 2>&1 &
pids+=($!)
# Banco X posts each webhook to the callback_url of its payment (the account's webhook URL) and
# names the account in X-BancoX-Account, so the shared /webhooks/bancox finds it too.
$PY -m connectors.banco_x.simulator --host 127.0.0.1 --port "$BANCOX_PORT" --account-id "$BANCOX_ACCOUNT_ID" \
    --webhook-delay "$BANCOX_WEBHOOK_DELAY" > var/bancox.log 2>&1 &
pids+=($!)

# True when the HTTP server on port $1 answers GET $2 (any status: it is up; Pagoflex answers
# /healthz once runserver has run its checks and serves).
answers() {
    ( exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 \
        && read -r -t 10 status <&3 && [[ "$status" == HTTP/* ]] ) 2>/dev/null
}
# Wait until every server answers; stop with the logs if one of them died.
for probe in "$PORT /healthz" "$SANDBOX_PORT /" "$PAYTM_PORT /" "$AUTHIPAY_PORT /" "$BANCOX_PORT /"; do
    until answers $probe; do
        for pid in "${pids[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                echo "a server stopped while starting (a port in use? move it: PORT, SANDBOX_PORT, PAYTM_PORT, AUTHIPAY_PORT, BANCOX_PORT)" >&2
                tail -n 5 var/*.log >&2
                exit 1
            fi
        done
        sleep 0.1
    done
done
ready_ms=$(( $(now_ms) - started_ms ))
ready_s=$(printf '%d.%d' $((ready_ms / 1000)) $((ready_ms % 1000 / 100)))

# The jobs start once the servers answer: nothing a curl line below shows waits for them.
# One task at a time (solo pool): SQLite has a single writer, and dev traffic needs no more.
$PY -m celery -A pagoflex worker --pool=solo --without-mingle --without-gossip --without-heartbeat \
    --loglevel=INFO > var/worker.log 2>&1 &
pids+=($!)
$PY -m celery -A pagoflex beat --loglevel=INFO > var/beat.log 2>&1 &
pids+=($!)

AUTH="-H \"Authorization: Bearer ${API_KEY}\" -H \"Content-Type: application/json\""
API="http://127.0.0.1:${PORT}/v1"
cat <<INFO

  Pagoflex is serving http://127.0.0.1:${PORT} (every server answered ${ready_s} s after start)
$(echo "$SETUP" | sed 's/^/  /')
  admin            http://127.0.0.1:${PORT}/admin/  (user admin, password ${ADMIN_PASSWORD:-admin})
  API docs         ${API}/docs/
  simulators       sandbox :${SANDBOX_PORT}, paytm :${PAYTM_PORT}, authipay :${AUTHIPAY_PORT}, banco_x :${BANCOX_PORT} (logs: var/<bank>.log)
  jobs             Celery worker and beat (logs: var/worker.log, var/beat.log); schedules in the admin

  Try each connector (the routing configuration picks it by payment method and currency):

  1. Sandbox bank, an EUR card payment: "status": "succeeded"
  curl -s ${API}/payments ${AUTH} \\
    -d '{"amount": 1050, "currency": "EUR", "confirm": true, "payment_method_type": "card", "payment_method_data": {"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}'

  2. Paytm, a UPI intent in INR: "status": "requires_customer_action", next_action.url is the upi://pay link
  curl -s ${API}/payments ${AUTH} \\
    -d '{"amount": 49900, "currency": "INR", "confirm": true, "payment_method_type": "upi", "payment_method_data": {"upi": {"flow": "intent"}}}'
     the customer pays in the UPI app (ATTEMPT_ID: the answer's attempts[0].id); Paytm notifies, the payment succeeds:
     curl -s -X POST http://127.0.0.1:${PAYTM_PORT}/__control__/orders/ATTEMPT_ID/pay

  3. Authipay, a GBP card payment: "status": "succeeded"
  curl -s ${API}/payments ${AUTH} \\
    -d '{"amount": 2500, "currency": "GBP", "confirm": true, "payment_method_type": "card", "payment_method_data": {"card": {"number": "4111111111111111", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}'

  4. Banco X, an MXN card payment: "status": "processing"; Banco X settles it by webhook ${BANCOX_WEBHOOK_DELAY} s later
  curl -s ${API}/payments ${AUTH} \\
    -d '{"amount": 25000, "currency": "MXN", "confirm": true, "payment_method_type": "card", "payment_method_data": {"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}'
     then the newest payment, "status": "succeeded" once the webhook arrived:
     curl -s "${API}/payments?limit=1" ${AUTH}

INFO

wait -n "${pids[@]}"
