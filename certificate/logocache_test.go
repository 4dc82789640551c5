package certificate

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/certificate/logo"
)

// forget drops b's prepared logo from the process's cache, so a test can
// count the work a render does from a cold start whatever ran before it.
// The tests in this package do not run in parallel, which the counts on
// the shared cache rely on.
func forget(t *testing.T, b []byte) {
	t.Helper()
	key := logoKey{sum: sha256.Sum256(b), maxW: pixels(logoMaxW), maxH: pixels(logoMaxH)}
	logos.mu.Lock()
	defer logos.mu.Unlock()
	if elem, ok := logos.entries[key]; ok {
		logos.remove(elem)
	}
}

// counts is how many logos the process's cache has prepared and parsed.
func counts() [2]int64 {
	return [2]int64{logos.prepared.Load(), logos.parsed.Load()}
}

func TestRenderPreparesALogoOnce(t *testing.T) {
	d := everything(t)
	d.Logo = logoPNG(t, 151, 53)
	forget(t, d.Logo)

	start := counts()
	first, err := RenderVersion(Renderer2, d)
	require.NoError(t, err)
	require.Equal(t, [2]int64{start[0] + 1, start[1] + 1}, counts(), "the first render prepares and parses the logo")

	again, err := RenderVersion(Renderer2, d)
	require.NoError(t, err)
	require.Equal(t, first, again)
	_, err = RenderVersion(Renderer1, d)
	require.NoError(t, err)
	require.Equal(t, [2]int64{start[0] + 1, start[1] + 1}, counts(),
		"a later render, of either version, prepared or parsed the logo again")

	// The same logo in another certificate is the same cache entry.
	other := d
	other.LearnerName = "Someone Else"
	_, err = RenderVersion(Renderer2, other)
	require.NoError(t, err)
	require.Equal(t, [2]int64{start[0] + 1, start[1] + 1}, counts())
}

// fakePrepare stands in for logo.Prepare, counting its calls by input and
// failing for inputs that start with "bad".
type fakePrepare struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakePrepare) prepare(b []byte, maxW, maxH int) (logo.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = make(map[string]int)
	}
	f.calls[string(b)]++
	if bytes.HasPrefix(b, []byte("bad")) {
		return logo.Image{}, errors.New("bad logo")
	}
	return logo.Image{Data: b, Type: logo.PNG, Width: maxW, Height: maxH}, nil
}

func (f *fakePrepare) count(b string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[b]
}

func TestLogoCacheIsBounded(t *testing.T) {
	var f fakePrepare
	c := newLogoCache(3, f.prepare)
	get := func(b string) {
		t.Helper()
		_, err := c.get([]byte(b), 10, 10)
		require.NoError(t, err)
	}
	for _, b := range []string{"a", "b", "c"} {
		get(b)
	}
	get("a") // now the most recently used, so "b" is the oldest
	get("d")
	require.Equal(t, 3, c.count(), "the cache grew past its size")
	get("a")
	get("c")
	require.Equal(t, 1, f.count("a"), "a recently used logo was evicted")
	require.Equal(t, 1, f.count("c"))
	get("b")
	require.Equal(t, 2, f.count("b"), "the least recently used logo was not the one evicted")

	for _, b := range []string{"e", "f", "g", "h", "i"} {
		get(b)
	}
	require.Equal(t, 3, c.count())
	for _, b := range []string{"g", "h", "i"} {
		get(b)
		require.Equal(t, 1, f.count(b), "%s was evicted while newer than the others", b)
	}
}

func TestLogoCacheKeysOnEverythingPrepareUses(t *testing.T) {
	var f fakePrepare
	c := newLogoCache(8, f.prepare)
	small, err := c.get([]byte("a"), 10, 10)
	require.NoError(t, err)
	for _, size := range [][2]int{{20, 10}, {10, 20}} {
		p, err := c.get([]byte("a"), size[0], size[1])
		require.NoError(t, err)
		require.Equal(t, size, [2]int{p.image.Width, p.image.Height}, "a logo prepared for another box was reused")
	}
	require.Equal(t, 3, f.count("a"))
	again, err := c.get([]byte("a"), 10, 10)
	require.NoError(t, err)
	require.Same(t, small, again)
}

func TestLogoCacheKeepsNoFailures(t *testing.T) {
	var f fakePrepare
	c := newLogoCache(8, f.prepare)
	for range 2 {
		_, err := c.get([]byte("bad logo"), 10, 10)
		require.ErrorContains(t, err, "bad logo")
	}
	require.Equal(t, 2, f.count("bad logo"), "a failure was kept")
	require.Zero(t, c.count())
}

// TestLogoCacheOwnsItsBytes gives the cache a JPEG that logo.Prepare keeps
// as it is, then reuses the caller's buffer, as a caller may once Render
// returns: the logo kept must not change with it.
func TestLogoCacheOwnsItsBytes(t *testing.T) {
	c := newLogoCache(8, logo.Prepare)
	jpg := logoJPEG(t, 150, 50)
	buf := bytes.Clone(jpg)
	p, err := c.get(buf, pixels(logoMaxW), pixels(logoMaxH))
	require.NoError(t, err)
	require.Equal(t, logo.JPEG, p.image.Type, "the test needs a logo that is embedded as it is")
	clear(buf)
	require.Equal(t, jpg, p.image.Data)
}

// TestRenderSharesLogosConcurrently renders certificates with three logos,
// in both versions, from many goroutines at once, starting with none of
// them prepared. Under -race any write to a shared prepared or parsed logo
// fails; every certificate must match its sequential render, and each logo
// must have been prepared and parsed once, however many asked for it at
// the same time.
func TestRenderSharesLogosConcurrently(t *testing.T) {
	base := everything(t)
	logoFiles := [][]byte{logoPNG(t, 157, 51), logoPNG(t, 90, 60), logoJPEG(t, 151, 49)}
	type input struct {
		v int
		d Data
	}
	var inputs []input
	for _, v := range versions {
		for _, l := range logoFiles {
			d := base
			d.Logo = l
			inputs = append(inputs, input{v, d})
		}
	}
	want := make([][]byte, len(inputs))
	for i, in := range inputs {
		var err error
		want[i], err = RenderVersion(in.v, in.d)
		require.NoError(t, err)
	}
	for _, l := range logoFiles {
		forget(t, l)
	}

	start := counts()
	const n = 48
	got := make([][]byte, n)
	errs := make([]error, n)
	// Every goroutine starts rendering at once, so the first renders of
	// each logo overlap.
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		in := inputs[i%len(inputs)]
		wg.Go(func() {
			<-ready
			got[i], errs[i] = RenderVersion(in.v, in.d)
		})
	}
	close(ready)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, want[i%len(inputs)], got[i], "render %d", i)
	}
	require.Equal(t, [2]int64{start[0] + 3, start[1] + 3}, counts())
}
