package webhook

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

var errUnreadableForward = errors.New("unreadable X-Forwarded-For entry")

// clientAddr is the address a request comes from. That is the TCP peer,
// unless the peer is a trusted proxy: then X-Forwarded-For is read from the
// right, each entry being added by the hop before it, past every trusted
// proxy to the first address that is not one. Entries left of that one were
// written by whoever sent the request and prove nothing. Nothing else earns
// trust: not loopback, not a Unix socket (whose peer has no address, so it
// is refused), not X-Real-IP or Forwarded.
func clientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, error) {
	peer, err := parseAddr(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, errors.New("the connection has no IP address")
	}
	if !contains(trusted, peer) {
		return peer, nil
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A trusted proxy wrote garbage, so who sent the request is
			// unknown; guessing the proxy itself would be wrong.
			return netip.Addr{}, errUnreadableForward
		}
		client = a
		if !contains(trusted, a) {
			break
		}
	}
	return client, nil
}

// parseAddr reads an address with or without a port, as RemoteAddr and
// X-Forwarded-For write it, without a zone and with IPv4-in-IPv6 unwrapped,
// so that it compares equal to the prefixes it is matched against.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, err
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), nil
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
}

// isProbe reports whether a route is one that load balancers call from
// their own addresses.
func isProbe(route string) bool {
	return route == healthPath || route == readyPath
}

// ClientAddr is the address a request came from, as the source check sees
// it: X-Forwarded-For is believed through trusted proxies only. It falls
// back to the peer's address, and to "" for a peer without one.
func (s *Server) ClientAddr(c *gin.Context) string {
	if addr, err := clientAddr(c.Request, s.opts.TrustedProxies); err == nil {
		return addr.String()
	}
	if a, err := parseAddr(c.Request.RemoteAddr); err == nil {
		return a.String()
	}
	return ""
}

// allowSources refuses, with 403, any request to anything but the probes
// and the public pages from a source that is not allowed. It runs before routing answers 404 or
// 405, so an unknown sender learns nothing about the routes. A request
// Admit let through has met it there.
func (s *Server) allowSources(c *gin.Context) {
	if s.opts.AllowedSources == nil || isProbe(c.FullPath()) || s.public[c.FullPath()] || admitted(c.Request) {
		c.Next()
		return
	}
	addr, err := clientAddr(c.Request, s.opts.TrustedProxies)
	if err == nil && contains(s.opts.AllowedSources, addr) {
		c.Next()
		return
	}
	peer := c.Request.RemoteAddr
	if a, perr := parseAddr(peer); perr == nil {
		peer = a.String()
	}
	if err != nil {
		s.log.Warn("source refused", "reason", err.Error(), "peer", peer, "route", c.FullPath())
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "source not allowed: " + err.Error()})
		return
	}
	s.log.Warn("source refused", "source", addr.String(), "peer", peer, "route", c.FullPath())
	c.AbortWithStatusJSON(http.StatusForbidden, gin.H{
		"error":  "source not allowed",
		"source": addr.String(),
		"hint":   "only the learning platform's addresses may post events",
	})
}
