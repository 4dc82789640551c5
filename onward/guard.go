package onward

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// CheckURL is the parse-time check of a destination (run when COURSES_FILE
// is loaded, and again by Send): https only, except http://localhost and
// http://127.0.0.1 on any port for local tests; no user name or password;
// a host is required. The error never repeats the URL, which may carry a
// customer's token.
//
// It cannot know where a host name will resolve at send time; the dial-time
// guard (see Options.AllowPrivate) covers that.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("webhook url is not a valid URL: %w", unwrapURLError(err))
	}
	switch u.Scheme {
	case "https", "http":
	case "":
		return errors.New("webhook url has no scheme; use https://")
	default:
		return fmt.Errorf("webhook url scheme %q is not allowed; use https://", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("webhook url has no host")
	}
	if u.User != nil {
		return errors.New("webhook url must not carry a user name or password; put credentials in the secret or the path")
	}
	if u.Scheme == "http" && !isLocalTestHost(u.Hostname()) {
		return errors.New("webhook url must use https:// (plain http only for localhost and 127.0.0.1)")
	}
	return nil
}

// isLocalTestHost reports whether plain http is acceptable for host: the
// event and its signature would cross the network in clear otherwise.
func isLocalTestHost(host string) bool {
	return strings.EqualFold(host, "localhost") || host == "127.0.0.1"
}

// refusedAddrError is the dial-time guard's refusal.
type refusedAddrError struct {
	addr  string
	class string
}

func (e *refusedAddrError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address (set WEBHOOK_OUT_ALLOW_PRIVATE to allow)", e.addr, e.class)
}

// refuseNonPublic is a net.Dialer Control function. It runs after name
// resolution and before connect(2), on the very address about to be used,
// so neither a DNS name pointing inwards nor a rebinding between check and
// use gets through.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address we cannot read is one we cannot vouch for.
		return &refusedAddrError{addr: address, class: "unparsable"}
	}
	if class := addrClass(ap.Addr()); class != "" {
		return &refusedAddrError{addr: address, class: class}
	}
	return nil
}

var (
	// Ranges netip has no predicate for, each one reaching this machine,
	// its network or its provider's network rather than the Internet.
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")     // RFC 1122: "this host on this network"
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598: carrier-grade NAT
	broadcast   = netip.MustParseAddr("255.255.255.255")
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: embeds an IPv4 address
)

// addrClass names why a is not a public unicast address, or returns "".
func addrClass(a netip.Addr) string {
	// ::ffff:10.0.0.1 is 10.0.0.1 to the kernel.
	a = a.Unmap()
	if nat64Prefix.Contains(a) {
		// A NAT64 gateway would translate 64:ff9b::7f00:1 to 127.0.0.1.
		b := a.As16()
		if class := addrClass(netip.AddrFrom4([4]byte(b[12:]))); class != "" {
			return class + " (via NAT64)"
		}
		return ""
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsUnspecified(), thisNetwork.Contains(a):
		return "unspecified"
	case a.IsMulticast():
		return "multicast"
	case a == broadcast:
		return "broadcast"
	case sharedSpace.Contains(a):
		return "shared (carrier-grade NAT)"
	}
	return ""
}
