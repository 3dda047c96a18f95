package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// DefaultTimeout bounds one delivery attempt, connection to last byte; the
// specification recommends 15 to 30 seconds.
const DefaultTimeout = 15 * time.Second

// ErrPrivateTarget is the error for a target inside private, loopback,
// link-local or otherwise non-public address space.
var ErrPrivateTarget = errors.New("webhook target is not a public address")

// ClientOptions configure NewClient.
type ClientOptions struct {
	// AllowPrivate lets deliveries reach loopback and private networks.
	// Off by default: a subscriber could otherwise make the marketplace
	// call internal services (server-side request forgery). Turn it on for
	// tests and for a deployment whose receivers are on its own network.
	AllowPrivate bool
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
}

// NewClient returns the HTTP client deliveries use: it checks the address
// it actually connects to (after DNS, so a name that resolves to an
// internal address is refused too, and so is one rebinding between check
// and use), uses no proxy from the environment, follows no redirect (a 3xx
// is a failed attempt, as the specification says), and bounds each
// request by a timeout.
func NewClient(opts ClientOptions) *http.Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if !opts.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot read the address %q", ErrPrivateTarget, address)
			}
			if !PublicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrPrivateTarget, ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// PublicAddr reports whether a is a public unicast address.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic are ranges the netip predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 can reach IPv4 internals
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
}

// CheckURL validates a subscription's URL: http or https, a host, no
// credentials, no fragment; with allowPrivate false, an IP literal must be
// public and "localhost" is refused (names are checked again when dialled).
func CheckURL(raw string, allowPrivate bool) (*url.URL, error) {
	if len(raw) > 2048 {
		return nil, errors.New("the webhook URL is over 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("the webhook URL does not parse: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("the webhook URL %q must be http:// or https://", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("the webhook URL %q has no host", raw)
	case u.User != nil:
		return nil, errors.New("the webhook URL must not carry credentials; the signature authenticates the sender")
	case u.Fragment != "":
		return nil, errors.New("the webhook URL must not have a #fragment")
	}
	if !allowPrivate {
		host := u.Hostname()
		if host == "localhost" || len(host) > len(".localhost") && host[len(host)-len(".localhost"):] == ".localhost" {
			return nil, fmt.Errorf("%w: %s", ErrPrivateTarget, host)
		}
		if a, err := netip.ParseAddr(host); err == nil && !PublicAddr(a) {
			return nil, fmt.Errorf("%w: %s (the server must be started with private webhook targets allowed to reach it)", ErrPrivateTarget, host)
		}
	}
	return u, nil
}
