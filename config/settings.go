package config

// Setting is one row of the configuration reference (docs/configuration.md,
// which TestConfigurationReference keeps equal to Reference's output): the
// variables it is about, their default as a reader should see it, and what
// they mean. Which binaries read them is not written here but found by
// loading each binary's settings (readersOf), so it cannot drift; Readers
// names them only for a variable Load does not read itself.
type Setting struct {
	Names []string
	// Label replaces the names in the table where the row is about more
	// than a variable (a token's scopes).
	Label   string
	Default string
	Readers string
	Meaning string
}

// Settings are the reference's rows, in its order.
func Settings() []Setting {
	return []Setting{
		{Names: []string{"TEMPORAL_ADDRESS"}, Label: "", Default: "`127.0.0.1:7233`", Readers: "both",
			Meaning: "Temporal frontend, `host:port`"},
		{Names: []string{"TEMPORAL_NAMESPACE"}, Label: "", Default: "`default`", Readers: "both",
			Meaning: "Temporal namespace"},
		{Names: []string{"TEMPORAL_API_KEY"}, Label: "", Default: "(unset)", Readers: "both",
			Meaning: "an API key, sent as a bearer token. It turns TLS on unless `TEMPORAL_TLS=false`. Never logged"},
		{Names: []string{"TEMPORAL_TLS"}, Label: "", Default: "(off; on with an API key or any `TEMPORAL_TLS_*` setting)", Readers: "both",
			Meaning: "`true` or `false` (`1`/`0` also work). Any other value is refused"},
		{Names: []string{"TEMPORAL_TLS_CLIENT_CERT_PATH"}, Label: "", Default: "(unset)", Readers: "both",
			Meaning: "the client certificate, PEM, for mTLS. Needs `TEMPORAL_TLS_CLIENT_KEY_PATH`. Checked at start: a missing file or a key from another certificate stops the binary"},
		{Names: []string{"TEMPORAL_TLS_CLIENT_KEY_PATH"}, Label: "", Default: "(unset)", Readers: "both",
			Meaning: "that certificate's private key, PEM"},
		{Names: []string{"TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_DATA"}, Label: "", Default: "(unset)", Readers: "both",
			Meaning: "the same two in PEM, inline, instead of the paths"},
		{Names: []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_DATA"}, Label: "", Default: "(unset: the system's roots)", Readers: "both",
			Meaning: "the CA that signed the server's certificate, PEM, for a self-hosted cluster with its own CA. `TEMPORAL_TLS_SERVER_CA_CERT_DATA` gives it inline"},
		{Names: []string{"TEMPORAL_TLS_SERVER_NAME"}, Label: "", Default: "(the host of `TEMPORAL_ADDRESS`)", Readers: "both",
			Meaning: "the name the server's certificate must carry, when it differs from the address"},
		{Names: []string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"}, Label: "", Default: "`false`", Readers: "both",
			Meaning: "skips the check of the server's certificate. Only for a test cluster"},
		{Names: []string{"TEMPORAL_CLIENT_AUTHORITY"}, Label: "", Default: "(unset)", Readers: "both",
			Meaning: "overrides the `:authority` header and virtual host name, for a proxy that routes on it"},
		{Names: []string{"TEMPORAL_PROFILE"}, Label: "", Default: "`default`", Readers: "both",
			Meaning: "the profile to use from `temporal.toml`. If this is set and the file has no such profile, the binary stops and lists the profiles it has"},
		{Names: []string{"TEMPORAL_CONFIG_FILE"}, Label: "", Default: "the Temporal CLI's own file, `$XDG_CONFIG_HOME/temporalio/temporal.toml` or `~/.config/temporalio/temporal.toml` (`~/Library/Application Support/temporalio/temporal.toml` on macOS), read only if it exists", Readers: "both",
			Meaning: "the `temporal.toml` to read profiles from"},
		{Names: []string{"TEMPORAL_CODEC_ENDPOINT", "TEMPORAL_CODEC_AUTH"}, Label: "", Default: "(unset)", Readers: "",
			Meaning: "read, as Temporal's own tools read them, and not used: the binaries encrypt with `ENCRYPTION_KEYS` themselves and never call a remote codec"},
		{Names: []string{"TEMPORAL_TASK_QUEUE"}, Label: "", Default: "`coursehook`", Readers: "",
			Meaning: "task queue shared by the worker and the webhook server"},
		{Names: []string{"HTTP_ADDR"}, Label: "", Default: "`:8080`", Readers: "",
			Meaning: "where the webhook server listens"},
		{Names: []string{"DATABASE_URL"}, Label: "", Default: "`.data/coursehook.db`", Readers: "",
			Meaning: "a SQLite file path (also `sqlite://path` or `file:path`), or a `postgres://` URL for PostgreSQL. Migrations run when the worker starts"},
		{Names: []string{"SLACK_BOT_TOKEN"}, Label: "", Default: "(unset: outbox mode)", Readers: "",
			Meaning: "a bot token with `chat:write`"},
		{Names: []string{"SLACK_CHANNEL"}, Label: "", Default: "(required with a token)", Readers: "",
			Meaning: "the channel for the notices; the bot must be a member. Give the channel **id** (`C…`): a retry can then check the channel for a message an earlier attempt already posted (see [Crash windows](reliability.md)); a name works but skips that check"},
		{Names: []string{"SLACK_BOT_TOKEN"}, Label: "`SLACK_BOT_TOKEN` scopes", Default: "", Readers: "",
			Meaning: "`chat:write`, and `channels:history` (`groups:history` for a private channel) for the retry check; the bot must be a member of every course's channel too"},
		{Names: []string{"SLACK_API_URL"}, Label: "", Default: "`https://slack.com/api/`", Readers: "",
			Meaning: "Slack Web API base URL"},
		{Names: []string{"SENDGRID_API_KEY"}, Label: "", Default: "(unset: outbox mode)", Readers: "",
			Meaning: "SendGrid API key with Mail Send access"},
		{Names: []string{"SENDGRID_API_URL"}, Label: "", Default: "`https://api.sendgrid.com`", Readers: "",
			Meaning: "SendGrid API base URL"},
		{Names: []string{"EMAIL_FROM"}, Label: "", Default: "(required with a key)", Readers: "",
			Meaning: "the verified sender address"},
		{Names: []string{"EMAIL_FROM_NAME"}, Label: "", Default: "`Course Certificates`", Readers: "",
			Meaning: "the sender's display name"},
		{Names: []string{"OUTBOX_DIR"}, Label: "", Default: "`.data/outbox`", Readers: "",
			Meaning: "where outbox mode writes messages"},
		{Names: []string{"WEBHOOK_MAX_BODY_BYTES"}, Label: "", Default: "`65536`", Readers: "",
			Meaning: "largest accepted request body; at most `1048576`, since the body travels in the workflow input and Temporal refuses a payload over 2 MB"},
		{Names: []string{"ADMIN_ADDR"}, Label: "", Default: "`127.0.0.1:8082`", Readers: "webhook server",
			Meaning: "the webhook server's private listener: `/metrics`, and the completions export with `API_TOKEN`"},
		{Names: []string{"METRICS_ADDR"}, Label: "", Default: "`127.0.0.1:9091`", Readers: "worker",
			Meaning: "where the worker serves `/metrics`"},
		{Names: []string{"API_TOKEN"}, Label: "", Default: "(unset: no export)", Readers: "webhook server",
			Meaning: "the bearer token `GET /api/completions` requires; at least 16 characters. When set, the webhook server also reads `DATABASE_URL`"},
		{Names: []string{"LEARNER_HASH_KEY"}, Label: "", Default: "(unset: a public development key, with a warning)", Readers: "webhook server and `coursehookctl`",
			Meaning: "keys the learner hash in logs and in the `LearnerHash` search attribute; at least 16 characters. Set it once and keep it"},
		{Names: []string{"LEARNER_HASH_KEY_FILE"}, Label: "", Default: "`.data/learner-hash.key` when that file exists", Readers: "",
			Meaning: "a file holding the key, read when `LEARNER_HASH_KEY` is unset; `make run` writes one, so the binaries and `coursehookctl` agree"},
		{Names: []string{"TEMPORAL_REGISTER_SEARCH_ATTRIBUTES"}, Label: "", Default: "`true`", Readers: "both",
			Meaning: "whether a binary registers coursehook's search attributes when its namespace lacks them; `false` makes it exit with the commands to run instead"},
		{Names: []string{"DEAD_LETTER_DIR"}, Label: "", Default: "`.data/dead-letter`", Readers: "",
			Meaning: "where the webhook server keeps events Temporal refused for good, and the worker those the database refused for good (a worker's other failures keep theirs in the database), for `starter replay-dead-letters`; in a deployment of several hosts, a volume both see"},
		{Names: []string{"TEMPORAL_START_TIMEOUT"}, Label: "", Default: "`5s`", Readers: "",
			Meaning: "bound on starting a workflow; after it the webhook answers 503, and `coursehookctl import` retries the line"},
		{Names: []string{"NOTICE_DEADLINE"}, Label: "", Default: "`24h`", Readers: "",
			Meaning: "how long Slack and email are retried before the workflow ends `partial`"},
		{Names: []string{"SHUTDOWN_TIMEOUT"}, Label: "", Default: "`20s`", Readers: "",
			Meaning: "how long a stopping binary waits for work in flight"},
		{Names: []string{"LOG_LEVEL"}, Label: "", Default: "`info`", Readers: "",
			Meaning: "`debug`, `info`, `warn` or `error`"},
		{Names: []string{"GOGC"}, Label: "", Default: "`400` in the worker", Readers: "worker",
			Meaning: "Go's garbage collection target. The worker sets 400 unless `GOGC` is set: each certificate render leaves about 10 MB of garbage, and at Go's default (100) collecting it took a third of a render's CPU"},
		{Names: []string{"GOMEMLIMIT"}, Label: "", Default: "`256MiB` in the worker", Readers: "worker",
			Meaning: "Go's soft memory limit. The worker sets 256 MiB unless `GOMEMLIMIT` is set, so the fourfold target above cannot grow the heap without bound while the SDK caches running workflows; past it the collector works harder instead. It counts the Go runtime's memory and not the binary's own mapped pages, so the process's RSS can run about 35 MB above it"},
		{Names: []string{"WORKER_WORKFLOW_CACHE_SIZE"}, Label: "", Default: "`500`", Readers: "worker",
			Meaning: "how many running workflows the worker keeps in memory between their tasks (the Temporal SDK's sticky workflow cache, whose own default is `10000`). A workflow pushed out replays its history on its next task, which costs the worker and the Temporal server processor time; more costs memory: a 5,000-event burst peaked the worker at 221 MB of RSS with 500, 288 MB with 1,000 and 308 MB with 10,000, against the 268 MB of its 256 MiB `GOMEMLIMIT`"},
		{Names: []string{"SLACK_MESSAGES_PER_SECOND"}, Label: "", Default: "`1`", Readers: "",
			Meaning: "cap on Slack notices per second, across every worker (Slack allows about one per second per channel)"},
		{Names: []string{"COURSES_FILE"}, Label: "", Default: "(unset: every course gets the settings below)", Readers: "worker and `coursehookctl`",
			Meaning: "per-course routing, YAML: see [Courses and cohorts](courses.md#courses-and-cohorts). A malformed file stops the worker at start with its line; `SIGHUP` re-reads it"},
		{Names: []string{"SLACK_DIGEST_THRESHOLD"}, Label: "", Default: "`5`", Readers: "worker",
			Meaning: "within one digest window, a course's first N completions get a Slack message each; the rest get one digest when the window closes. `0` digests every completion"},
		{Names: []string{"SLACK_DIGEST_WINDOW"}, Label: "", Default: "`1m`", Readers: "worker",
			Meaning: "the digest window, at most `24h`; a digested completion waits for its window to close"},
		{Names: []string{"SLACK_DIGEST_ENABLED"}, Label: "", Default: "`true`", Readers: "worker",
			Meaning: "`false` posts every completion's notice at once, without the cohort digest; `COURSES_FILE` can turn it on or off per course"},
		{Names: []string{"PUBLIC_BASE_URL"}, Label: "", Default: "(unset: verification off, certificates as before, and both binaries log so; `make run` sets `http://localhost:8080`)", Readers: "both",
			Meaning: "where the public reaches the webhook server, such as `https://certificates.example.com`: certificates then carry a verification code and a QR code of `PUBLIC_BASE_URL/certificates/<code>`, which the webhook server serves (see [Verifying certificates](courses.md#verifying-certificates)). With it the webhook server also reads `DATABASE_URL`"},
		{Names: []string{"CERTIFICATE_SIGNING_KEY"}, Label: "", Default: "(required with `PUBLIC_BASE_URL`)", Readers: "both",
			Meaning: "a secret of at least 32 characters: it derives each certificate's code (HMAC-SHA-256) and the Ed25519 key that signs its credential. Keep it: codes already printed are stored, but credentials must still verify"},
		{Names: []string{"CERTIFICATE_SIGNING_KEY_FILE"}, Label: "", Default: "`.data/certificate-signing.key` when that file exists", Readers: "worker, webhook server",
			Meaning: "a file holding the key, read when `CERTIFICATE_SIGNING_KEY` is unset; `make run` writes one"},
		{Names: []string{"CERTIFICATE_SIGNING_KEY_PREVIOUS"}, Label: "", Default: "(unset)", Readers: "both",
			Meaning: "earlier keys, comma-separated, while rotating: their public keys stay in `/.well-known/jwks.json`, so credentials they signed still verify; only the current key signs"},
		{Names: []string{"CERTIFICATE_ISSUER"}, Label: "", Default: "`Course Certificates`", Readers: "",
			Meaning: "the issuer named on the page and in the credential when the course's `certificate.issuer` (COURSES_FILE) names none"},
		{Names: []string{"VERIFY_REQUESTS_PER_MINUTE"}, Label: "", Default: "`30`", Readers: "webhook server",
			Meaning: "verification requests a source address may make a minute, with a burst of 10; past it, 429 with `Retry-After`"},
		{Names: []string{"SENDGRID_WEBHOOK_PUBLIC_KEY"}, Label: "", Default: "(unset: `/webhooks/sendgrid` is off, 404; `make run` makes a test key while email goes to the outbox)", Readers: "webhook server",
			Meaning: "the public key of SendGrid's Signed Event Webhook, base64, as SendGrid shows it. Every batch's signature is checked with it. With it the webhook server also reads `DATABASE_URL`"},
		{Names: []string{"SENDGRID_TRACK_ENGAGEMENT"}, Label: "", Default: "`false`", Readers: "webhook server",
			Meaning: "`true` keeps SendGrid's open and click events and counts them per email. Off by default: they are personal data"},
		{Names: []string{"SENDGRID_EVENTS_MAX_BODY_BYTES"}, Label: "", Default: "`8388608` (8 MiB)", Readers: "webhook server",
			Meaning: "the largest batch of delivery events accepted; a larger one gets 413. SendGrid's batches are at most about 768 KB"},
		{Names: []string{"SENDGRID_EVENTS_WAIT"}, Label: "", Default: "`20s`", Readers: "worker",
			Meaning: "how long a retried certificate email waits for SendGrid's report of an earlier attempt's send before sending again, at most `20s`; `0` looks once without waiting. Only where delivery events have arrived in the last day"},
		{Names: []string{"SENDGRID_EMAILS_PER_SECOND"}, Label: "", Default: "`10`", Readers: "worker",
			Meaning: "cap on certificate emails per second, across every worker, under SendGrid's per-account rate limit"},
		{Names: []string{"CERTIFICATE_RENDERER"}, Label: "", Default: "(unset: the newest, `2`)", Readers: "worker",
			Meaning: "the certificate renderer version recorded with each new completion; a certificate is always drawn again with its own. `1` keeps new certificates on the renderer of releases before versions while workers of such a release still run beside this one (README, \"Certificate renderer versions\")"},
		{Names: []string{"WEBHOOK_OUT_PER_SECOND"}, Label: "", Default: "`10`", Readers: "worker",
			Meaning: "cap on onward webhooks per second to each destination host, per worker"},
		{Names: []string{"WEBHOOK_OUT_ALLOW_PRIVATE"}, Label: "", Default: "`false` (`true` under `make run`)", Readers: "worker",
			Meaning: "lets onward webhooks reach private, loopback and link-local addresses, for a local receiver; the worker logs a warning when it is on. Off, such addresses are refused when the connection is made, whatever the URL's name resolves to"},
		{Names: []string{"ALLOWED_SOURCE_IPS"}, Label: "", Default: "`54.243.7.71,3.83.213.76` (`make run` adds `127.0.0.1,::1`)", Readers: "",
			Meaning: "comma-separated IPv4/IPv6 addresses and CIDR prefixes that may post webhooks; anyone else gets 403. `*` allows every source and logs a warning at start. `/healthz` and `/readyz` are open to all"},
		{Names: []string{"TRUSTED_PROXIES"}, Label: "", Default: "(none)", Readers: "",
			Meaning: "proxies (addresses or CIDRs) whose `X-Forwarded-For` is believed when checking the source; no other header, loopback peer or Unix socket is trusted"},
		{Names: []string{"WEBHOOK_SECRET"}, Label: "", Default: "(unset: no token)", Readers: "",
			Meaning: "when set, events must be posted to `/webhooks/events/<secret>` or `?token=<secret>`, otherwise 401. At least 16 characters from `A-Z a-z 0-9 - . _ ~`. Never logged"},
		{Names: []string{"WEBHOOK_SECRET_PREVIOUS"}, Label: "", Default: "(unset)", Readers: "",
			Meaning: "a second accepted secret while the platform's URL is being rotated; needs `WEBHOOK_SECRET`"},
		{Names: []string{"ENCRYPTION_KEYS"}, Label: "", Default: "(unset: plaintext, with a warning at start; `make run` generates one)", Readers: "",
			Meaning: "`id:base64key` pairs, comma-separated, each key 32 bytes (AES-256). Every listed key decrypts"},
		{Names: []string{"ENCRYPTION_KEYS_FILE"}, Label: "", Default: "`.data/encryption.key` when that file exists", Readers: "",
			Meaning: "a file holding one `id:key` entry, read when `ENCRYPTION_KEYS` is unset; `make run` writes one, so `coursehookctl` beside it reads what the binaries wrote"},
		{Names: []string{"ENCRYPTION_KEY_ID"}, Label: "", Default: "(required with keys)", Readers: "",
			Meaning: "the id of the key that encrypts new payloads"},
		{Names: []string{"CODEC_ADDR"}, Label: "", Default: "`127.0.0.1:8081`", Readers: "",
			Meaning: "where the webhook server serves the codec endpoint for the Temporal UI and CLI (only when keys are set). Keep it private: whoever reaches it can decrypt"},
		{Names: []string{"CODEC_CORS_ORIGIN"}, Label: "", Default: "`http://localhost:8233`", Readers: "",
			Meaning: "the Temporal UI's origin, the only browser origin the codec endpoint answers"},
		{Names: []string{"CODEC_AUTH_TOKEN"}, Label: "", Default: "(unset)", Readers: "",
			Meaning: "when set, the codec endpoint requires `Authorization: Bearer <token>`"},
	}
}

// referenceIntro and referenceOutro are the reference's text around the
// table.
const referenceIntro = "All settings are environment variables, read once at start. An invalid value stops the binary with a\n" +
	"message that names the variable. Each binary reads and checks only its own settings, so a setting\n" +
	"meant for the other one never stops it: the Temporal settings, `LOG_LEVEL`, `SHUTDOWN_TIMEOUT` and\n" +
	"the encryption keys are read by both; the database, Slack, SendGrid and outbox settings by the\n" +
	"worker; the HTTP, webhook, codec and dead-letter settings by the webhook server.\n"

const referenceOutro = "At start, the worker logs which mode each channel is in (`\"mode\":\"outbox\"`, `\"slack\"` or\n" +
	"`\"sendgrid\"`).\n" +
	"\n" +
	"`make run` passes its environment through to the binaries. By default it also allows loopback as\n" +
	"a source and generates an encryption key. For example,\n" +
	"`SLACK_BOT_TOKEN=xoxb-… SLACK_CHANNEL=C0123 make run` posts to real Slack while email stays in the\n" +
	"outbox. It also takes `TEMPORAL_PORT` (7233) and `TEMPORAL_UI_PORT` (8233) for the dev server. The\n" +
	"dev server's state persists in `.data/temporal.db`, and its log is in `.data/temporal.log`.\n"
