package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"

	"github.com/coursehook/coursehook/workflows"
)

// ErrSearchAttributes reports that the namespace lacks coursehook's search
// attributes and they could not be registered; its message says what to run.
var ErrSearchAttributes = errors.New("search attributes missing")

// ErrCannotConnect reports that Temporal refused the connection itself (the
// client certificate, the API key, the server's certificate), which no retry
// fixes.
var ErrCannotConnect = errors.New("temporal refused the connection")

// CheckTLS makes one TLS connection to Temporal when the options use TLS,
// and returns an ErrCannotConnect when the server refuses the client's
// certificate (or the client the server's). The webhook server connects
// lazily, to answer 503 while Temporal is down; this lets it stop at start
// on a refusal no retry can fix, as the worker does. An unreachable server is
// not a refusal: the lazy client waits for it.
func CheckTLS(ctx context.Context, opts client.Options) error {
	if opts.ConnectionOptions.TLS == nil {
		return nil
	}
	if why, err := refusal(ctx, opts, errNotDialled); why != "" {
		return fmt.Errorf("%w at %s: %s: %v", ErrCannotConnect, opts.HostPort, why, err)
	}
	return nil
}

// errNotDialled stands for the dial CheckTLS did not make.
var errNotDialled = errors.New("not dialled yet")

// EnsureSearchAttributes makes sure the namespace has every search attribute
// the workflow sets (workflows.SearchAttributeTypes), so no workflow ever
// runs with one Temporal does not know. Missing ones are registered when
// register is true and the server allows it (a self-hosted cluster; Temporal
// Cloud registers through its own API). Otherwise the error names the
// missing attributes and the exact `temporal operator search-attribute
// create` commands to run. An attribute registered with another type cannot
// be fixed here and is always an error.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, register bool, log *slog.Logger) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list the search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enums.IndexedValueType{}
	var wrong []string
	for name, want := range workflows.SearchAttributeTypes() {
		got, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			wrong = append(wrong, fmt.Sprintf("%s is %s, not %s", name, workflows.SearchAttributeTypeName(got), workflows.SearchAttributeTypeName(want)))
		}
	}
	if len(wrong) > 0 {
		slices.Sort(wrong)
		return fmt.Errorf("%w: namespace %s has search attributes of the wrong type (%s); remove them with `temporal operator search-attribute remove` and start again",
			ErrSearchAttributes, namespace, strings.Join(wrong, "; "))
	}
	if len(missing) == 0 {
		return nil
	}
	names := sortedNames(missing)
	if !register {
		return missingError(namespace, missing, "TEMPORAL_REGISTER_SEARCH_ATTRIBUTES is false")
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	if registrationMayPass(err) {
		// Not ErrSearchAttributes: WaitForSearchAttributes lists them
		// again, and finds them if another process registered them.
		return fmt.Errorf("register the search attributes of namespace %s: %w", namespace, err)
	}
	if err != nil {
		return missingError(namespace, missing, "registering them failed: "+err.Error())
	}
	log.Info("registered search attributes", "namespace", namespace, "attributes", names)
	return nil
}

// registrationMayPass reports whether a failed AddSearchAttributes may pass
// if tried again. As a new namespace appears, the worker, the webhook server
// and the namespace job may all register the attributes at once; under SQL
// visibility a registration that loses the race for a field is answered
// Unavailable ("Generated search attributes mapping unavailable."), as is
// one the server cannot read or save the namespace for.
func registrationMayPass(err error) bool {
	if _, missing := MissingNamespace(err); missing {
		return true
	}
	switch serviceerror.ToStatus(err).Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	}
	return false
}

func missingError(namespace string, missing map[string]enums.IndexedValueType, why string) error {
	byType := map[enums.IndexedValueType][]string{}
	for _, name := range sortedNames(missing) {
		byType[missing[name]] = append(byType[missing[name]], name)
	}
	var cmds []string
	for _, typ := range []enums.IndexedValueType{enums.INDEXED_VALUE_TYPE_KEYWORD, enums.INDEXED_VALUE_TYPE_KEYWORD_LIST} {
		if names := byType[typ]; len(names) > 0 {
			cmd := "temporal operator search-attribute create --namespace " + namespace
			for _, n := range names {
				cmd += " --name " + n
			}
			cmds = append(cmds, cmd+" --type "+workflows.SearchAttributeTypeName(typ))
		}
	}
	return fmt.Errorf("%w: namespace %s lacks %s (%s); register them with:\n  %s",
		ErrSearchAttributes, namespace, strings.Join(sortedNames(missing), ", "), why, strings.Join(cmds, "\n  "))
}

func sortedNames(m map[string]enums.IndexedValueType) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// WaitForSearchAttributes runs EnsureSearchAttributes until it succeeds or
// finds them missing for good (ErrSearchAttributes), retrying while Temporal
// cannot answer (it may still be starting) or the namespace does not exist
// yet (a separate job registers it, and may run after this process starts).
// It returns ctx's error if ctx ends first.
func WaitForSearchAttributes(ctx context.Context, c client.Client, namespace string, register bool, log *slog.Logger) error {
	return waitForSearchAttributes(ctx, c, namespace, register, log, defaultRetryPace())
}

// retryPace is how WaitForSearchAttributes waits between attempts.
type retryPace struct {
	// first is the first wait, doubled after each attempt up to max.
	first, max time.Duration
	// repeatEvery is how often one warning is repeated while the cause
	// stays the same; a new cause is logged at once.
	repeatEvery time.Duration
	now         func() time.Time
}

func defaultRetryPace() retryPace {
	return retryPace{first: 500 * time.Millisecond, max: 10 * time.Second, repeatEvery: 30 * time.Second, now: time.Now}
}

func waitForSearchAttributes(ctx context.Context, c client.Client, namespace string, register bool, log *slog.Logger, pace retryPace) error {
	wait := pace.first
	var lastCause string
	var loggedAt time.Time
	for {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := EnsureSearchAttributes(callCtx, c, namespace, register, log)
		cancel()
		if err == nil || errors.Is(err, ErrSearchAttributes) {
			return err
		}
		if why := DialRefusal(err); why != "" {
			// A refused certificate or key does not heal by waiting.
			return fmt.Errorf("%w: %s: %v", ErrCannotConnect, why, err)
		}
		// The wait can last as long as the namespace job takes: one line
		// when the cause changes, then one every repeatEvery.
		msg := "cannot check the search attributes yet"
		if _, missing := MissingNamespace(err); missing {
			msg = "namespace " + namespace + " is not registered yet; waiting (deploy/temporal/create-namespace.sh or `temporal operator namespace create` registers it)"
		}
		if now := pace.now(); msg != lastCause || now.Sub(loggedAt) >= pace.repeatEvery {
			log.Warn(msg, "namespace", namespace, "error", err, "retryIn", wait.String())
			lastCause, loggedAt = msg, now
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("check search attributes: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, pace.max)
	}
}
