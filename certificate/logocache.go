package certificate

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"sync"
	"sync/atomic"

	"github.com/coursehook/coursehook/certificate/logo"
	"github.com/coursehook/coursehook/certificate/pdfdoc"
)

// logoCacheSize is how many prepared logos are kept. Every certificate of
// a course shows the same logo and a catalogue has few, so a handful of
// entries serve nearly every render; the bound keeps a worker that meets
// many logos from holding them all. A prepared logo is at most 708×188
// pixels: typically tens of kilobytes, at worst logo.MaxBytes (a JPEG
// kept as it is), so the cache holds at most some 64 MiB and usually
// well under one.
const logoCacheSize = 32

// logos holds the logos prepared for this process's certificates. Preparing
// a logo (decoding, shrinking, re-encoding it, then splitting its alpha
// channel off for version 2) costs far more than the rest of a certificate
// and gives the same bytes every time, so it is done once per logo. Like
// goFonts, it is process-wide rather than injected because what it holds
// depends only on the logo's bytes: it can change how fast a certificate
// renders, never what it contains.
var logos = newLogoCache(logoCacheSize, logo.Prepare)

// preparedLogo is a logo ready to draw, shared by every render that shows
// it, concurrently too. Nothing in it is ever modified: the canvases only
// read image.Data and the parsed image.
type preparedLogo struct {
	image logo.Image
	// embedded is image parsed for version 2, made on first use, since
	// version 1 never needs it.
	embedded func() (*pdfdoc.Image, error)
}

// logoKey is what a prepared logo depends on: the file's bytes, by their
// SHA-256, and the box it is fitted into.
type logoKey struct {
	sum        [sha256.Size]byte
	maxW, maxH int
}

// logoCache keeps the most recently used prepared logos, at most size of
// them. It is safe for concurrent use.
type logoCache struct {
	size    int
	prepare func(b []byte, maxW, maxH int) (logo.Image, error)
	// prepared and parsed count the logos prepared and parsed for version
	// 2, so tests can tell a cache hit from work done again.
	prepared, parsed atomic.Int64

	mu      sync.Mutex
	entries map[logoKey]*list.Element // each holding a *logoEntry
	recent  *list.List                // most recently used first
}

type logoEntry struct {
	key logoKey
	get func() (*preparedLogo, error)
}

func newLogoCache(size int, prepare func(b []byte, maxW, maxH int) (logo.Image, error)) *logoCache {
	return &logoCache{size: size, prepare: prepare, entries: make(map[logoKey]*list.Element), recent: list.New()}
}

// get returns b prepared to fit maxW×maxH pixels, as logo.Prepare
// prepares it, preparing it only if it is not kept already. The result is
// shared: callers must not modify it.
func (c *logoCache) get(b []byte, maxW, maxH int) (*preparedLogo, error) {
	key := logoKey{sum: sha256.Sum256(b), maxW: maxW, maxH: maxH}
	c.mu.Lock()
	elem, ok := c.entries[key]
	if ok {
		c.recent.MoveToFront(elem)
	} else {
		// The entry goes in before it is prepared, so renders that ask
		// for a new logo at the same time wait for one preparation
		// instead of each doing it; the lock is not held meanwhile, so
		// renders of other logos go on.
		elem = c.recent.PushFront(&logoEntry{key: key, get: sync.OnceValues(func() (*preparedLogo, error) {
			return c.load(b, maxW, maxH)
		})})
		c.entries[key] = elem
		if c.recent.Len() > c.size {
			c.remove(c.recent.Back())
		}
	}
	entry := elem.Value.(*logoEntry)
	c.mu.Unlock()

	p, err := entry.get()
	if err != nil {
		// A logo that cannot be used is not kept: a render that fails is
		// no hot path, and it would only take the place of one that works.
		c.mu.Lock()
		if cur, ok := c.entries[key]; ok && cur == elem {
			c.remove(elem)
		}
		c.mu.Unlock()
	}
	return p, err
}

// load prepares b. It runs while the get call that added the entry waits
// for it, so b cannot yet have been handed back to a caller who might
// reuse it.
func (c *logoCache) load(b []byte, maxW, maxH int) (*preparedLogo, error) {
	c.prepared.Add(1)
	// Prepare may return its input as the image (a JPEG it keeps as it
	// is), and the caller owns that: keep a copy of its own.
	img, err := c.prepare(bytes.Clone(b), maxW, maxH)
	if err != nil {
		return nil, err
	}
	return &preparedLogo{image: img, embedded: sync.OnceValues(func() (*pdfdoc.Image, error) {
		c.parsed.Add(1)
		return pdfdoc.ParseImage(img.Data)
	})}, nil
}

// remove drops elem from the cache. c.mu must be held.
func (c *logoCache) remove(elem *list.Element) {
	c.recent.Remove(elem)
	delete(c.entries, elem.Value.(*logoEntry).key)
}

// count is how many logos the cache holds.
func (c *logoCache) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recent.Len()
}
