#!/usr/bin/env bash
# Runs the whole stack on this machine: the Temporal dev server (persisted in
# .data/temporal.db, Web UI on :8233), the worker and the webhook server.
# Ctrl-C stops all three. Called by `make run`, which builds the binaries first.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
DATA=${DATA_DIR:-.data}
TEMPORAL_PORT=${TEMPORAL_PORT:-7233}
TEMPORAL_UI_PORT=${TEMPORAL_UI_PORT:-8233}
mkdir -p "$DATA"

# Every setting the binaries read passes through from this environment; these
# are only the local defaults.
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}
# The binaries read temporal.toml profiles as the Temporal CLI does; the local
# dev server is plaintext, so a developer's own default profile (TLS, an API
# key for Temporal Cloud) must not apply here unless asked for.
export TEMPORAL_CONFIG_FILE=${TEMPORAL_CONFIG_FILE:-/dev/null}
export HTTP_ADDR=${HTTP_ADDR:-:8080}
# Certificate verification is on locally, so the first certificate already
# carries its code, QR code, verification link and "Add to LinkedIn" button,
# all pointing at the webhook server above (its port, whatever HTTP_ADDR
# says). A PUBLIC_BASE_URL from the environment wins; an empty one
# (PUBLIC_BASE_URL= make run) turns verification off. Production sets its
# own public address: nothing defaults it outside this script.
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL-http://localhost:${HTTP_ADDR##*:}}
export DATABASE_URL=${DATABASE_URL:-$DATA/coursehook.db}
export OUTBOX_DIR=${OUTBOX_DIR:-$DATA/outbox}
# Onward webhooks (COURSES_FILE's webhook:) to a receiver on this machine:
# private and loopback addresses are refused unless this is on.
export WEBHOOK_OUT_ALLOW_PRIVATE=${WEBHOOK_OUT_ALLOW_PRIVATE:-true}
export DEAD_LETTER_DIR=${DEAD_LETTER_DIR:-$DATA/dead-letter}
# The webhook server takes events only from the platform's two addresses;
# locally, curl comes from loopback too. An explicit ALLOWED_SOURCE_IPS
# (even "*") is passed through untouched.
export ALLOWED_SOURCE_IPS=${ALLOWED_SOURCE_IPS:-54.243.7.71,3.83.213.76,127.0.0.1,::1}

# Payloads are encrypted before they reach Temporal. The first run makes a
# local key and keeps it in $DATA/encryption.key (owner-only); later runs
# reuse it, so earlier workflows stay readable. An ENCRYPTION_KEYS from the
# environment wins.
if [ -z "${ENCRYPTION_KEYS:-}" ]; then
  keyfile="$DATA/encryption.key"
  if [ ! -s "$keyfile" ]; then
    (umask 077 && "$BIN/genkey" >"$keyfile.tmp" && mv "$keyfile.tmp" "$keyfile")
    echo "generated a local payload encryption key in $keyfile"
  fi
  ENCRYPTION_KEYS=$(<"$keyfile")
  export ENCRYPTION_KEYS
  export ENCRYPTION_KEY_ID=${ENCRYPTION_KEYS%%:*}
fi
# The learner hash in logs and search attributes is keyed. The first run
# makes a local key; the binaries and bin/coursehookctl read it from
# .data/learner-hash.key whenever LEARNER_HASH_KEY is unset.
if [ -z "${LEARNER_HASH_KEY:-}" ] && [ ! -s "$DATA/learner-hash.key" ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 >"$DATA/learner-hash.key.tmp" && mv "$DATA/learner-hash.key.tmp" "$DATA/learner-hash.key")
fi
export LEARNER_HASH_KEY_FILE=${LEARNER_HASH_KEY_FILE:-$DATA/learner-hash.key}
# Certificate verification (PUBLIC_BASE_URL, above) needs a signing secret;
# the first run makes one in .data/certificate-signing.key, read whenever
# CERTIFICATE_SIGNING_KEY is unset, so codes and credentials survive a
# restart.
if [ -z "${CERTIFICATE_SIGNING_KEY:-}" ] && [ ! -s "$DATA/certificate-signing.key" ]; then
  (umask 077 && head -c 48 /dev/urandom | base64 >"$DATA/certificate-signing.key.tmp" && mv "$DATA/certificate-signing.key.tmp" "$DATA/certificate-signing.key")
fi
export CERTIFICATE_SIGNING_KEY_FILE=${CERTIFICATE_SIGNING_KEY_FILE:-$DATA/certificate-signing.key}
# The completions export on the admin listener needs a bearer token; the
# first run makes one and keeps it in $DATA/api-token.
if [ -z "${API_TOKEN:-}" ]; then
  if [ ! -s "$DATA/api-token" ]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$DATA/api-token.tmp" && mv "$DATA/api-token.tmp" "$DATA/api-token")
  fi
  API_TOKEN=$(<"$DATA/api-token")
  export API_TOKEN
fi
# SendGrid's delivery events (POST /webhooks/sendgrid) are signed. While
# emails go to the outbox, the first run makes a local test key in
# $DATA/sendgrid-test.key, so the README's example batch can be signed with
# bin/sendgrid-sign and posted; with SENDGRID_API_KEY set, set
# SENDGRID_WEBHOOK_PUBLIC_KEY to your account's own key to receive them.
sendgrid_events="off   (set SENDGRID_WEBHOOK_PUBLIC_KEY to SendGrid's Signed Event Webhook key)"
if [ -z "${SENDGRID_WEBHOOK_PUBLIC_KEY:-}" ] && [ -z "${SENDGRID_API_KEY:-}" ]; then
  SENDGRID_WEBHOOK_PUBLIC_KEY=$("$BIN/sendgrid-sign" genkey "$DATA/sendgrid-test.key")
  export SENDGRID_WEBHOOK_PUBLIC_KEY
  sendgrid_events="http://localhost:${HTTP_ADDR##*:}/webhooks/sendgrid   (signed with the test key $DATA/sendgrid-test.key; try:
                bin/sendgrid-sign post -key $DATA/sendgrid-test.key -url http://localhost:${HTTP_ADDR##*:}/webhooks/sendgrid testdata/sendgrid/bounce.json)"
elif [ -n "${SENDGRID_WEBHOOK_PUBLIC_KEY:-}" ]; then
  sendgrid_events="http://localhost:${HTTP_ADDR##*:}/webhooks/sendgrid"
fi
export ADMIN_ADDR=${ADMIN_ADDR:-127.0.0.1:8082}
export CODEC_ADDR=${CODEC_ADDR:-127.0.0.1:8081}
export CODEC_CORS_ORIGIN=${CODEC_CORS_ORIGIN:-http://localhost:$TEMPORAL_UI_PORT}
codec_url="http://localhost:${CODEC_ADDR##*:}"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  # Reverse order: stop taking webhooks first, the dev server last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
}
trap stop INT TERM EXIT

# The dev server keeps its state in SQLite; write-ahead logging with normal
# syncs is safe for a local server and triples its start rate. Eager activity
# execution lets the worker run an activity its own workflow task scheduled
# without a round trip through the task queue.
"$BIN/temporal" server start-dev \
  --db-filename "$DATA/temporal.db" \
  --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
  --dynamic-config-value system.enableActivityEagerExecution=true \
  --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
  --ui-codec-endpoint "$codec_url" \
  --search-attribute CourseId=Keyword --search-attribute CompanyId=Keyword \
  --search-attribute LearnerHash=Keyword --search-attribute CompletionStatus=Keyword \
  --search-attribute FailedSteps=KeywordList \
  --log-level warn >"$DATA/temporal.log" 2>&1 &
pids+=($!)

deadline=$((SECONDS + 60))
until "$BIN/temporal" operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  if ((SECONDS > deadline)); then
    echo "the Temporal dev server did not come up within 60 s; see $DATA/temporal.log" >&2
    exit 1
  fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "the Temporal dev server exited; see $DATA/temporal.log" >&2
    exit 1
  fi
  sleep 0.5
done

"$BIN/worker" &
pids+=($!)
"$BIN/starter" &
pids+=($!)

port=${HTTP_ADDR##*:}
verification="off   (PUBLIC_BASE_URL is empty)"
if [[ -n ${PUBLIC_BASE_URL} ]]; then
  verification="${PUBLIC_BASE_URL}/certificates/<code>   (the QR code and the email's Add to LinkedIn link lead here)"
fi
# With a secret, the URL carries it; the message names the variable rather
# than printing the secret.
path=/webhooks/events
if [[ -n ${WEBHOOK_SECRET:-} ]]; then
  path='/webhooks/events/$WEBHOOK_SECRET'
fi
cat <<MSG

coursehook is running.
  webhook URL   http://localhost:${port}${path}
  Temporal UI   http://localhost:${TEMPORAL_UI_PORT}
  outbox        ${OUTBOX_DIR}   (Slack and email land here while SLACK_BOT_TOKEN / SENDGRID_API_KEY are unset)
  verification  ${verification}
  delivery      ${sendgrid_events}
  dead letters  ${DEAD_LETTER_DIR}   (events Temporal refused; bin/starter replay-dead-letters)
  export        http://${ADMIN_ADDR}/api/completions   (export API_TOKEN=\$(cat ${DATA}/api-token), then
                curl -H 'Accept: text/csv' -H "Authorization: Bearer \$API_TOKEN" ${ADMIN_ADDR}/api/completions)
  sources       ${ALLOWED_SOURCE_IPS}   (ALLOWED_SOURCE_IPS)
  codec         ${codec_url}   (the UI decrypts payloads through it; key id ${ENCRYPTION_KEY_ID})
  logs          this terminal (worker and starter), ${DATA}/temporal.log (dev server)

Try: curl -si -H 'Content-Type: application/json' --data @testdata/course-completion.json "localhost:${port}${path}"
Ctrl-C stops everything.

MSG

# Whichever process ends first ends the run, so a crash is not hidden.
wait -n "${pids[@]}"
