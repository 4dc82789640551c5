package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/internal/samples"
	"github.com/coursehook/coursehook/internal/syncbuf"
)

// platform is the learning platform's two addresses, as the starter's
// default configuration allows them.
func platform() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("54.243.7.71/32"), netip.MustParsePrefix("3.83.213.76/32")}
}

// platformPeer is a connection from the platform, as RemoteAddr shows it.
const platformPeer = "54.243.7.71:40000"

// countingTemporal stands in for Temporal and counts the workflows it was
// asked to start, so a test can prove a refusal started none.
type countingTemporal struct {
	mu     sync.Mutex
	starts []client.StartWorkflowOptions
	inputs []any
	// panics makes ExecuteWorkflow panic, to exercise the recoverer.
	panics bool
	// err, when set, is Temporal's answer to every start.
	err error
	// healthErr and describeErr, when set, answer CheckHealth and
	// DescribeNamespace; described records the namespaces asked about.
	healthErr   error
	describeErr error
	described   []string
}

func (c *countingTemporal) ExecuteWorkflow(_ context.Context, options client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	if c.panics {
		panic("temporal stand-in told to panic")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	c.starts = append(c.starts, options)
	c.inputs = append(c.inputs, args...)
	return fakeRun{id: options.ID}, nil
}

func (c *countingTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &client.CheckHealthResponse{}, c.healthErr
}

func (c *countingTemporal) WorkflowService() workflowservice.WorkflowServiceClient {
	return describingService{c: c}
}

// describingService answers DescribeNamespace for a countingTemporal. The
// embedded interface is nil, so any other call panics.
type describingService struct {
	workflowservice.WorkflowServiceClient
	c *countingTemporal
}

func (s describingService) DescribeNamespace(_ context.Context, req *workflowservice.DescribeNamespaceRequest, _ ...grpc.CallOption) (*workflowservice.DescribeNamespaceResponse, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.described = append(s.c.described, req.GetNamespace())
	if s.c.describeErr != nil {
		return nil, s.c.describeErr
	}
	return &workflowservice.DescribeNamespaceResponse{NamespaceInfo: &namespacepb.NamespaceInfo{Name: req.GetNamespace()}}, nil
}

// Described are the namespaces DescribeNamespace was asked about.
func (c *countingTemporal) Described() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.described)
}

// Starts is how many workflows were started.
func (c *countingTemporal) Starts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.starts)
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return "run-" + r.id }

// harness is a router over a counting Temporal, with its logs captured.
type harness struct {
	router   http.Handler
	temporal *countingTemporal
	logs     *syncbuf.Buffer
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{temporal: &countingTemporal{}, logs: &syncbuf.Buffer{}}
	if opts.DeadLetters == "" {
		opts.DeadLetters = deadletter.Dir(t.TempDir())
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.router = New(h.temporal, log, opts).Router()
	return h
}

// request is a POST of body from the platform, as JSON.
func request(target string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.RemoteAddr = platformPeer
	req.Header.Set("Content-Type", "application/json")
	return req
}

// serve runs req through the router and decodes the answer, which must be
// JSON whatever the status.
func (h *harness) serve(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	raw, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "every answer is JSON, got %d %q", rec.Code, raw)
	return rec.Code, m
}

// serveRaw runs req through the router and returns the recorded answer.
func serveRaw(h *harness, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	return rec
}

// largestBody pads body to exactly size bytes.
func largestBody(t *testing.T, body []byte, size int) []byte {
	t.Helper()
	b, err := samples.Pad(body, size)
	require.NoError(t, err)
	return b
}
