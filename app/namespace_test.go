package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coursehook/coursehook/workflows"
)

// TestMissingNamespace: every form in which a missing namespace reaches
// coursehook is known, and nothing else is taken for it.
func TestMissingNamespace(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		missing bool
		ns      string
	}{
		{"the SDK's service error", serviceerror.NewNamespaceNotFound("default"), true, "default"},
		{"wrapped", fmt.Errorf("start: %w", serviceerror.NewNamespaceNotFound("coursehook")), true, "coursehook"},
		{"gRPC status with the detail", serviceerror.ToStatus(serviceerror.NewNamespaceNotFound("default")).Err(), true, "default"},
		{"bare NotFound message", status.Error(codes.NotFound, "Namespace default is not found."), true, "default"},
		{"NotFound service error without the detail", serviceerror.NewNotFound("Namespace default is not found."), true, "default"},
		{"operator service under SQL visibility", serviceerror.NewUnavailable(
			"Unable to get namespace default info with error: Namespace default is not found."), true, "default"},
		{"nil", nil, false, ""},
		{"workflow not found", serviceerror.NewNotFound("workflow execution not found"), false, ""},
		{"connection refused", serviceerror.NewUnavailable("connection refused"), false, ""},
		{"the text under another code", serviceerror.NewInvalidArgument("Namespace default is not found."), false, ""},
		{"plain error", errors.New("Namespace default is not found."), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns, ok := MissingNamespace(c.err)
			require.Equal(t, c.missing, ok)
			require.Equal(t, c.ns, ns)
		})
	}
}

// scriptedOperator answers ListSearchAttributes with its errors, one per
// call, then with every attribute coursehook needs, or none while
// unregistered. AddSearchAttributes answers addErr, and registers them
// either way, as a rival process's registration would. The embedded
// interface is nil, so any other call panics.
type scriptedOperator struct {
	operatorservice.OperatorServiceClient
	mu           sync.Mutex
	errs         []error
	unregistered bool
	addErr       error
	adds         int
	namespaces   []string
}

func (o *scriptedOperator) AddSearchAttributes(_ context.Context, req *operatorservice.AddSearchAttributesRequest, _ ...grpc.CallOption) (*operatorservice.AddSearchAttributesResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.namespaces = append(o.namespaces, req.GetNamespace())
	o.adds++
	o.unregistered = false
	return &operatorservice.AddSearchAttributesResponse{}, o.addErr
}

func (o *scriptedOperator) ListSearchAttributes(_ context.Context, req *operatorservice.ListSearchAttributesRequest, _ ...grpc.CallOption) (*operatorservice.ListSearchAttributesResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.namespaces = append(o.namespaces, req.GetNamespace())
	if len(o.errs) > 0 {
		err := o.errs[0]
		o.errs = o.errs[1:]
		return nil, err
	}
	if o.unregistered {
		return &operatorservice.ListSearchAttributesResponse{}, nil
	}
	return &operatorservice.ListSearchAttributesResponse{CustomAttributes: workflows.SearchAttributeTypes()}, nil
}

// operatorClient is a Temporal client with only an operator service.
type operatorClient struct {
	client.Client
	operator *scriptedOperator
}

func (c operatorClient) OperatorService() operatorservice.OperatorServiceClient { return c.operator }

// steppingClock moves on by step each time it is read.
func steppingClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

// TestWaitForSearchAttributesWaitsForTheNamespace: a namespace that a
// separate job registers later is waited for, with a warning that says so
// and names it, logged when the cause changes and then once per repeatEvery,
// not once per attempt.
func TestWaitForSearchAttributesWaitsForTheNamespace(t *testing.T) {
	const notRegistered = "namespace default is not registered yet; waiting (deploy/temporal/create-namespace.sh or `temporal operator namespace create` registers it)"
	const unreachable = "cannot check the search attributes yet"
	missing := serviceerror.NewNamespaceNotFound("default")
	down := serviceerror.NewUnavailable("connection refused")
	cases := []struct {
		name string
		errs []error
		// step is how far the clock moves at each attempt.
		step time.Duration
		want []string
	}{
		{"namespace missing, then registered", repeat(missing, 5), time.Second, []string{notRegistered}},
		{"server down, then the namespace missing", append(repeat(down, 3), repeat(missing, 3)...), time.Second,
			[]string{unreachable, notRegistered}},
		{"namespace missing under SQL visibility", repeat(serviceerror.NewUnavailable(
			"Unable to get namespace default info with error: Namespace default is not found."), 2), time.Second, []string{notRegistered}},
		// Twelve attempts ten seconds apart: a line at 0, 30, 60 and 90 s.
		{"a long wait repeats the line every 30 s", repeat(missing, 12), 10 * time.Second,
			[]string{notRegistered, notRegistered, notRegistered, notRegistered}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op := &scriptedOperator{errs: c.errs}
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			pace := retryPace{first: time.Millisecond, max: time.Millisecond, repeatEvery: 30 * time.Second, now: steppingClock(c.step)}
			err := waitForSearchAttributes(t.Context(), operatorClient{operator: op}, "default", false, log, pace)
			require.NoError(t, err)
			require.Len(t, op.namespaces, len(c.errs)+1, "retried until the attributes were listed")
			for _, ns := range op.namespaces {
				require.Equal(t, "default", ns, "SQL visibility needs the namespace on every call")
			}
			var got []string
			for line := range strings.Lines(logs.String()) {
				var rec struct{ Level, Msg, Namespace, Error string }
				require.NoError(t, json.Unmarshal([]byte(line), &rec))
				require.Equal(t, "WARN", rec.Level)
				require.Equal(t, "default", rec.Namespace)
				require.NotEmpty(t, rec.Error)
				got = append(got, rec.Msg)
			}
			require.Equal(t, c.want, got, logs.String())
		})
	}
}

// TestWaitForSearchAttributesStopsWithTheContext: a namespace that never
// comes is waited for until the process is told to stop, not an hour more.
func TestWaitForSearchAttributesStopsWithTheContext(t *testing.T) {
	op := &scriptedOperator{errs: repeat(serviceerror.NewNamespaceNotFound("default"), 1000)}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	pace := retryPace{first: time.Hour, max: time.Hour, repeatEvery: time.Hour, now: time.Now}
	err := waitForSearchAttributes(ctx, operatorClient{operator: op}, "default", false, log, pace)
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, op.namespaces, 1)
	require.Contains(t, logs.String(), "namespace default is not registered yet")
}

// TestRacingRegistrationsAreRetried: as a new namespace appears, the worker,
// the webhook server and the namespace job may all register the search
// attributes; the server answers Unavailable to the losers, which list them
// again and find them. A refusal that no retry fixes still stops the wait.
func TestRacingRegistrationsAreRetried(t *testing.T) {
	cases := []struct {
		name    string
		addErr  error
		refused bool
	}{
		{"lost the race", serviceerror.NewUnavailable("Generated search attributes mapping unavailable."), false},
		{"namespace not seen yet", serviceerror.NewNamespaceNotFound("default"), false},
		{"too many attributes", serviceerror.NewInvalidArgument("Unable to create search attributes: cannot have more than 10 search attribute of type Keyword."), true},
		{"no right to register", serviceerror.NewPermissionDenied("Request unauthorized.", ""), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op := &scriptedOperator{unregistered: true, addErr: c.addErr}
			pace := retryPace{first: time.Millisecond, max: time.Millisecond, repeatEvery: time.Hour, now: time.Now}
			err := waitForSearchAttributes(t.Context(), operatorClient{operator: op}, "default", true, quiet, pace)
			require.Equal(t, 1, op.adds)
			for _, ns := range op.namespaces {
				require.Equal(t, "default", ns, "SQL visibility needs the namespace on every call")
			}
			if c.refused {
				require.ErrorIs(t, err, ErrSearchAttributes)
				require.ErrorContains(t, err, "registering them failed")
				require.Len(t, op.namespaces, 2, "listed once, added once")
				return
			}
			require.NoError(t, err)
			require.Len(t, op.namespaces, 3, "listed, added, listed again")
		})
	}
}
