package courses

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/syncbuf"
)

func writeCourses(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
}

func TestReloadSwapsTheTableAndRefusesABadOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "courses.yaml")
	writeCourses(t, path, "courses:\n  c1:\n    slack: {channel: C0123ABCD}\n")
	table, err := Load(path, Route{})
	require.NoError(t, err)
	r := NewRoutes(table)
	require.Equal(t, "C0123ABCD", r.Route("c1").Slack.Channel)

	writeCourses(t, path, "courses:\n  c1:\n    slack: {channel: C0456EFGH}\n")
	require.NoError(t, r.Reload(Route{}))
	require.Equal(t, "C0456EFGH", r.Route("c1").Slack.Channel)

	writeCourses(t, path, "courses:\n  c1:\n    slack: {chanel: C0999ZZZZ}\n")
	err = r.Reload(Route{})
	require.ErrorContains(t, err, `courses.yaml:3:13: unknown key "chanel" in slack`)
	require.Equal(t, "C0456EFGH", r.Route("c1").Slack.Channel, "a refused file keeps the routing in force")
}

func TestWatchHUPReloadsAndLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "courses.yaml")
	writeCourses(t, path, "courses:\n  c1:\n    name: One\n")
	table, err := Load(path, Route{})
	require.NoError(t, err)
	r := NewRoutes(table)
	var logs syncbuf.Buffer
	hup := make(chan os.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.WatchHUP(ctx, Route{}, hup, slog.New(slog.NewJSONHandler(&logs, nil)))
	}()

	logged := func(msg string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), msg) {
			require.True(t, time.Now().Before(deadline), "no %s in %s", msg, logs.String())
			time.Sleep(10 * time.Millisecond)
		}
	}
	writeCourses(t, path, "courses:\n  c1:\n    name: One\n  c2:\n    name: Two\n")
	hup <- os.Interrupt // any value: the watcher only counts them
	logged(`"msg":"courses file reloaded"`)
	writeCourses(t, path, "courses: [not, a, map]\n")
	hup <- os.Interrupt
	logged(`"msg":"courses file refused; keeping the old routing"`)
	cancel()
	<-done

	require.Equal(t, "Two", r.Route("c2").CourseName, "the good file was taken, the bad one refused")
	require.Contains(t, logs.String(), `"msg":"courses file reloaded"`)
	require.Contains(t, logs.String(), `"courses":2`)
	require.Contains(t, logs.String(), `"msg":"courses file refused; keeping the old routing"`)
}

func TestRoutesAreSafeToReadWhileReloading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "courses.yaml")
	writeCourses(t, path, "courses:\n  c1:\n    name: One\n")
	table, err := Load(path, Route{})
	require.NoError(t, err)
	r := NewRoutes(table)
	var wg sync.WaitGroup
	stop := time.Now().Add(200 * time.Millisecond)
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				require.Equal(t, "One", r.Route("c1").CourseName)
			}
		})
	}
	for time.Now().Before(stop) {
		require.NoError(t, r.Reload(Route{}))
	}
	wg.Wait()
}
