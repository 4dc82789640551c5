// Command starter is coursehook's webhook server: it takes the learning
// platform's events over HTTP and starts one CourseCompletion workflow per
// event id.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/codec"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/deliveries"
	"github.com/coursehook/coursehook/export"
	"github.com/coursehook/coursehook/sgevents"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/store/verifystore"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/verify/page"
	"github.com/coursehook/coursehook/webhook"
)

const usage = `usage:
  starter                         serve the webhook (and the codec endpoint)
  starter replay-dead-letters     start the workflows of the events kept in DEAD_LETTER_DIR`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args := os.Args[1:]; {
	case len(args) == 0:
		err = run(ctx, os.Getenv, os.Stderr, nil)
	case len(args) == 1 && args[0] == "replay-dead-letters":
		err = replayDeadLetters(ctx, os.Getenv, os.Stdout, os.Stderr)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

// webhookOptions carries the settings to the handler. The source list is
// always config's: the handler's nil means everyone, which config produces
// only for an explicit "*".
func webhookOptions(cfg config.Config, log *slog.Logger) webhook.Options {
	opts := webhook.Options{
		MaxBodyBytes:   cfg.MaxBodyBytes,
		StartTimeout:   cfg.StartTimeout,
		NoticeDeadline: cfg.NoticeDeadline,
		TaskQueue:      cfg.TaskQueue,
		Namespace:      cfg.TemporalNamespace,
		AllowedSources: cfg.AllowedSources,
		TrustedProxies: cfg.TrustedProxies,
		Secret:         cfg.WebhookSecret,
		PreviousSecret: cfg.WebhookSecretPrevious,
		DeadLetters:    deadletter.Dir(cfg.DeadLetterDir),
		LearnerHashKey: cfg.LearnerHashKey,
	}
	if cfg.LearnerHashKeyDefault {
		log.Warn("LEARNER_HASH_KEY is unset: learner hashes in logs and in the LearnerHash search attribute use the public development key, so anyone can match them to an email address")
	}
	if cfg.AllowAllSources {
		opts.AllowedSources = nil
		log.Warn("ALLOWED_SOURCE_IPS is \"*\": events are accepted from every address, not only the learning platform's")
	} else if opts.AllowedSources == nil {
		// Unreachable through config.Load, but nil would open the door.
		opts.AllowedSources = []netip.Prefix{}
	}
	log.Info("webhook sources",
		"allowed", prefixList(opts.AllowedSources, cfg.AllowAllSources),
		"trustedProxies", prefixList(cfg.TrustedProxies, false),
		"secret", cfg.WebhookSecret != "", "previousSecret", cfg.WebhookSecretPrevious != "")
	return opts
}

func prefixList(ps []netip.Prefix, all bool) []string {
	if all {
		return []string{config.AllSources}
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// run serves until ctx ends. When ready is not nil it receives the bound
// address, which lets tests listen on port 0.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	cfg, err := config.Load(getenv, config.Starter)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := app.NewLogger(stderr, cfg.LogLevel)
	slog.SetDefault(log)
	gin.SetMode(gin.ReleaseMode)

	// A lazy client connects on first use, so the server comes up and answers
	// 503 while Temporal is down instead of refusing to start.
	opts, err := clientOptions(cfg, log)
	if err != nil {
		return err
	}
	if err := app.CheckTLS(ctx, opts); err != nil {
		return err
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer c.Close()

	app.LogEncryption(cfg, log)

	webhookLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wopts := webhookOptions(cfg, log)
	wopts.Metrics = webhook.NewMetrics(reg)
	// /readyz waits for the search-attribute check below: a start with
	// attributes the namespace does not know yet would be refused, and the
	// event kept as a dead letter.
	attributesChecked := make(chan struct{})
	wopts.Checked = func() error {
		select {
		case <-attributesChecked:
			return nil
		default:
			return errSearchAttributesUnchecked
		}
	}
	// The verification pages, the export and SendGrid's delivery events
	// read and write the database the worker writes, through one pool.
	st, err := openStore(ctx, cfg)
	if err != nil {
		_ = webhookLn.Close()
		return err
	}
	if st != nil {
		defer st.Close()
	}
	var hook *webhook.Server
	pages, err := verificationPages(cfg, log, st, func(c *gin.Context) string { return hook.ClientAddr(c) })
	if err != nil {
		_ = webhookLn.Close()
		return err
	}
	events, err := deliveryEvents(cfg, log, st, c, reg)
	if err != nil {
		_ = webhookLn.Close()
		return err
	}
	wopts.Public = func(r gin.IRouter) error {
		for _, register := range []func(gin.IRouter) error{pages, events} {
			if register == nil {
				continue
			}
			if err := register(r); err != nil {
				return err
			}
		}
		return nil
	}
	hook = webhook.New(c, log, wopts)
	// An event request that hook would refuse unread (source, route, token,
	// headers) is refused before it waits for a worker.
	pool := newEventPool(hook.Router(), hook.Admit, eventWorkers, cfg.StartTimeout, webhookReadTimeout, log, reg)
	// After the servers have shut down: until then, requests in flight
	// wait on it.
	defer pool.Close()
	servers := []served{{
		name: "webhook server",
		ln:   webhookLn,
		srv: &http.Server{
			Handler:           pool,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       webhookReadTimeout,
			WriteTimeout:      15 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
	}}
	log.Info("webhook server listening", "addr", webhookLn.Addr().String(), "path", webhook.Path, "temporal", cfg.TemporalAddress)

	if cfg.Encryption != nil {
		// The codec endpoint lets the Temporal UI and CLI show decrypted
		// payloads. It has a listener of its own, on loopback by default,
		// so it is never exposed beside the public webhook.
		codecLn, err := net.Listen("tcp", cfg.CodecAddr)
		if err != nil {
			_ = webhookLn.Close()
			return fmt.Errorf("listen on %s (CODEC_ADDR): %w", cfg.CodecAddr, err)
		}
		servers = append(servers, served{
			name: "codec server",
			ln:   codecLn,
			srv: &http.Server{
				Handler:           codec.Handler(*cfg.Encryption, codec.HandlerOptions{AllowedOrigin: cfg.CodecOrigin, BearerToken: cfg.CodecToken}),
				ReadHeaderTimeout: 5 * time.Second,
				ReadTimeout:       30 * time.Second,
				WriteTimeout:      30 * time.Second,
			},
		})
		log.Info("codec server listening", "addr", codecLn.Addr().String(), "origin", cfg.CodecOrigin, "token", cfg.CodecToken != "")
	}
	// Metrics and the export are for operators and their systems: they
	// have a listener of their own, on loopback by default.
	admin, err := adminServer(cfg, log, reg, st)
	if err != nil {
		for _, s := range servers {
			_ = s.ln.Close()
		}
		return err
	}
	servers = append(servers, admin.served)
	if ready != nil {
		ready <- webhookLn.Addr().String()
	}
	// The server answers (503) while Temporal is down, so the search
	// attributes are checked beside it, once Temporal answers. If they are
	// missing for good, or Temporal refuses the client's certificate or key,
	// the server stops and the process exits non-zero: every start would be
	// refused anyway.
	ctx, stop := context.WithCancelCause(ctx)
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		err := app.WaitForSearchAttributes(ctx, c, cfg.TemporalNamespace, cfg.RegisterSearchAttributes, log)
		if err == nil {
			close(attributesChecked)
		}
		if errors.Is(err, app.ErrSearchAttributes) || errors.Is(err, app.ErrCannotConnect) {
			log.Error("cannot serve", "error", err)
			stop(err)
		}
	}()
	err = serveAll(ctx, log, cfg.ShutdownTimeout, servers)
	// The check ends with ctx; nothing of this run may log after it returns.
	stop(nil)
	<-checked
	if cause := context.Cause(ctx); errors.Is(cause, app.ErrSearchAttributes) || errors.Is(cause, app.ErrCannotConnect) {
		return errors.Join(cause, err)
	}
	return err
}

// clientOptions are app.ClientOptions without gRPC compression. A start is
// mostly the event's encrypted body, which gzip cannot shrink. Compressing
// it anyway cost a tenth of the webhook server's processor time and
// allocations in a 5,000-event burst, and its compressors, of several
// hundred KB each and made afresh whenever the collector had emptied gRPC's
// pool, raised the peak RSS by about 4 MB.
func clientOptions(cfg config.Config, log *slog.Logger) (client.Options, error) {
	opts, err := app.ClientOptions(cfg, log)
	if err != nil {
		return client.Options{}, err
	}
	opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	return opts, nil
}

// webhookReadTimeout bounds reading a request of the public listener. An
// event's counts from when a worker takes it (eventPool), not from its
// arrival.
const webhookReadTimeout = 10 * time.Second

// errSearchAttributesUnchecked is /readyz's answer until the start-up check
// of the search attributes has passed.
var errSearchAttributesUnchecked = errors.New("search attributes not checked yet")

// openStore opens the database when a feature of the webhook server needs
// it (PUBLIC_BASE_URL, API_TOKEN, SENDGRID_WEBHOOK_PUBLIC_KEY), else nil.
func openStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	var needs []string
	for _, f := range []struct {
		on   bool
		name string
	}{{cfg.PublicBaseURL != "", "PUBLIC_BASE_URL"}, {cfg.APIToken != "", "API_TOKEN"}, {cfg.SendGridWebhookPublicKey != "", "SENDGRID_WEBHOOK_PUBLIC_KEY"}} {
		if f.on {
			needs = append(needs, f.name)
		}
	}
	if len(needs) == 0 {
		return nil, nil
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database (%s is set): %w", strings.Join(needs, ", "), err)
	}
	return st, nil
}

// verificationPages registers the public certificate verification pages,
// when PUBLIC_BASE_URL is set; nil otherwise.
func verificationPages(cfg config.Config, log *slog.Logger, st *store.Store, clientAddr func(*gin.Context) string) (func(gin.IRouter) error, error) {
	if cfg.PublicBaseURL == "" {
		log.Info("certificate verification off: set PUBLIC_BASE_URL (and CERTIFICATE_SIGNING_KEY) to serve /certificates/<code>")
		return nil, nil
	}
	keys, err := verify.NewKeys(cfg.CertificateSigningKey, cfg.CertificateSigningKeyPrevious...)
	if err != nil {
		return nil, fmt.Errorf("CERTIFICATE_SIGNING_KEY: %w", err)
	}
	h := &page.Handler{
		Lookup:     verifystore.Lookup{Store: st, DefaultIssuer: cfg.CertificateIssuer},
		RenderPDF:  verifystore.Renderer{Store: st, BaseURL: cfg.PublicBaseURL}.RenderPDF,
		Keys:       keys,
		BaseURL:    cfg.PublicBaseURL,
		IssuerName: cfg.CertificateIssuer,
		ClientIP:   clientAddr,
		PerMinute:  cfg.VerifyPerMinute,
		Log:        log,
	}
	// Checked here, so a handler that cannot mount stops the process with
	// the reason instead of serving without its pages.
	if err := h.Register(gin.New()); err != nil {
		return nil, err
	}
	log.Info("certificate verification on", "pages", cfg.PublicBaseURL+verify.CertificatesPath+"/<code>", "keys", verify.JWKSPath)
	return h.Register, nil
}

// deliveryEvents registers SendGrid's Event Webhook, when
// SENDGRID_WEBHOOK_PUBLIC_KEY is set; nil otherwise, and the route is a 404.
func deliveryEvents(cfg config.Config, log *slog.Logger, st *store.Store, c client.Client, reg prometheus.Registerer) (func(gin.IRouter) error, error) {
	if cfg.SendGridWebhookPublicKey == "" {
		log.Info("sendgrid delivery events off: set SENDGRID_WEBHOOK_PUBLIC_KEY to the key of SendGrid's Signed Event Webhook to receive them at " + sgevents.Path)
		return sgevents.Off, nil
	}
	v, err := sgevents.NewVerifier(cfg.SendGridWebhookPublicKey)
	if err != nil {
		return nil, err
	}
	h := deliveries.Handler(deliveries.Options{
		Verifier: v, MaxBodyBytes: cfg.SendGridEventsMaxBodyBytes, Engagement: cfg.SendGridTrackEngagement,
		Store: st, Temporal: c, TaskQueue: cfg.TaskQueue, NoticeDeadline: cfg.NoticeDeadline,
		Timeout: cfg.StartTimeout, Metrics: sgevents.NewMetrics(reg), Log: log,
	})
	log.Info("sendgrid delivery events on", "path", sgevents.Path, "engagement", cfg.SendGridTrackEngagement, "maxBodyBytes", cfg.SendGridEventsMaxBodyBytes)
	return h.Register, nil
}

// admin is the private listener with /metrics and, when API_TOKEN is set,
// the completions export.
type admin struct {
	served
}

func adminServer(cfg config.Config, log *slog.Logger, reg *prometheus.Registry, st *store.Store) (admin, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if cfg.APIToken != "" {
		// The export reads the database the worker writes.
		mux.Handle(export.Path, export.Handler(st, cfg.APIToken, log))
	}
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return admin{}, fmt.Errorf("listen on %s (ADMIN_ADDR): %w", cfg.AdminAddr, err)
	}
	log.Info("admin server listening", "addr", ln.Addr().String(), "metrics", "/metrics", "export", cfg.APIToken != "")
	return admin{
		served: served{name: "admin server", ln: ln, srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			// A page of 1000 rows as CSV is well under a second; the
			// margin is for a slow reader.
			WriteTimeout: 60 * time.Second,
		}},
	}, nil
}

// served is one HTTP server on its listener.
type served struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

// serveAll runs the servers until ctx ends or one of them fails, then shuts
// them all down: requests in flight finish (each is bounded by the start
// timeout), new connections are refused.
func serveAll(ctx context.Context, log *slog.Logger, timeout time.Duration, servers []served) error {
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", s.name, err)
			}
		}()
	}
	var failed error
	select {
	case failed = <-errc:
	case <-ctx.Done():
	}
	log.Info("webhook server shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := []error{failed}
	for _, s := range servers {
		if err := s.srv.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shut down %s: %w", s.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("webhook server stopped")
	return nil
}
