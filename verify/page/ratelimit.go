package page

import (
	"container/list"
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps one token bucket per client, for at most max clients. When a
// new client arrives and the table is full, the least recently seen one is
// forgotten, so a flood of addresses costs a bounded amount of memory. A
// forgotten client starts again with a full bucket, which only ever errs on
// the side of letting someone in.
type limiter struct {
	every rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	recent  *list.List // of *bucket, most recently seen first
	buckets map[string]*list.Element
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newLimiter(perMinute, burst, maxClients int) *limiter {
	return &limiter{
		every:   rate.Limit(float64(perMinute) / 60),
		burst:   burst,
		max:     maxClients,
		recent:  list.New(),
		buckets: make(map[string]*list.Element, min(maxClients, 1024)),
	}
}

// allow takes a token for client at now, or says how long until one is
// available.
func (l *limiter) allow(client string, now time.Time) (bool, time.Duration) {
	key := clientKey(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.buckets[key]; ok {
		l.recent.MoveToFront(e)
		b = e.Value.(*bucket)
	} else {
		if l.recent.Len() >= l.max {
			oldest := l.recent.Back()
			l.recent.Remove(oldest)
			delete(l.buckets, oldest.Value.(*bucket).key)
		}
		b = &bucket{key: key, lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = l.recent.PushFront(b)
	}
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Duration(math.MaxInt64)
	}
	if d := r.DelayFrom(now); d > 0 {
		// The request is refused, so it must not consume the token it
		// reserved from the future.
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey groups IPv6 clients by /64, the block a single subscriber
// usually gets, so one host cannot reset its limit by changing its address
// within it. Anything that is not an address is its own key.
func clientKey(client string) string {
	a, err := netip.ParseAddr(client)
	if err != nil {
		return client
	}
	a = a.Unmap()
	if a.Is6() {
		// Prefix fails only for a bit count out of range, and 64 is not.
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}
