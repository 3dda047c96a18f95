package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"gatehouse.dev/gatehouse/hostapi"
)

// twoPorts starts two HTTP servers on the same loopback address. The first
// answers /ok with "hello" and redirects /to/URL to URL; the second counts
// the requests it was made to answer, which must stay at zero.
func twoPorts(t *testing.T) (granted, other *httptest.Server, otherHits *atomic.Int32) {
	t.Helper()
	otherHits = new(atomic.Int32)
	other = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		fmt.Fprint(w, "other")
	}))
	t.Cleanup(other.Close)
	granted = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			fmt.Fprint(w, "hello")
			return
		}
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	t.Cleanup(granted.Close)
	return granted, other, otherHits
}

// loopbackName returns "localhost" when it resolves to 127.0.0.1 (where
// httptest listens), and skips the test otherwise.
func loopbackName(t *testing.T) string {
	t.Helper()
	addrs, err := net.DefaultResolver.LookupHost(context.Background(), "localhost")
	if err != nil || !slices.Contains(addrs, "127.0.0.1") {
		t.Skipf("localhost does not resolve to 127.0.0.1 here (%v, %v)", addrs, err)
	}
	return "localhost"
}

func portOf(t *testing.T, s *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// TestFetchGrantIsOneHostAndPort guards the port of a network grant: a
// plugin granted http://127.0.0.1:P reaches P and no other port of that
// address, whether it names the other port literally, through a granted
// host name that resolves to the same address, or through a redirect from
// the granted port. The refusal is a denial (StatusDenied, the denials
// metric, KindDenied), and the other server never sees a request.
func TestFetchGrantIsOneHostAndPort(t *testing.T) {
	name := loopbackName(t)
	granted, other, otherHits := twoPorts(t)
	byName := "http://" + net.JoinHostPort(name, portOf(t, other))

	env := newEnv(t, nil)
	// The second grant is a host name for the other port: names never
	// unlock a loopback address, so it must not reach the other server
	// just because the first grant names its address.
	p := hostile(t, env, "network", []string{"fetch"}, nil, "net:"+granted.URL, "net:"+byName)
	call := func(u string) (Result, error) {
		in, _ := json.Marshal(map[string]string{"URL": u})
		return p.Call(context.Background(), "fetch", in)
	}
	redirect := func(to string) string { return granted.URL + "/redirect?to=" + url.QueryEscape(to) }

	res, err := call(granted.URL + "/ok")
	if err != nil {
		t.Fatalf("fetch from the granted port: %v", err)
	}
	if want := `"body":"hello"`; !strings.Contains(string(res.Output), want) {
		t.Fatalf("output = %s, want it to hold %s", res.Output, want)
	}

	denied := []struct{ name, url string }{
		{"the other port by address", other.URL + "/"},
		{"the other port by a granted name", byName + "/"},
		{"a redirect to the other port by address", redirect(other.URL + "/")},
		{"a redirect to the other port by a granted name", redirect(byName + "/")},
	}
	for i, tc := range denied {
		res, err := call(tc.url)
		if KindOf(err) != KindDenied {
			t.Errorf("%s: error = %v, want kind %s", tc.name, err, KindDenied)
			continue
		}
		if len(res.HostCalls) != 1 || res.HostCalls[0].Status != hostapi.StatusDenied {
			t.Errorf("%s: host calls = %+v, want one denied http_fetch", tc.name, res.HostCalls)
		}
		if got := env.metric(t, "gatehouse_plugin_denials_total", map[string]string{"plugin": p.ref.ID, "function": "http_fetch"}); got != float64(i+1) {
			t.Errorf("%s: denials metric = %v, want %d", tc.name, got, i+1)
		}
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the server on the ungranted port was reached %d times", n)
	}
	if _, err := call(granted.URL + "/ok"); err != nil {
		t.Fatalf("a granted fetch after the denials failed: %v", err)
	}
}

// TestGuardedTransportDialsOnlyGrantedHostPorts guards the dial-time check
// on its own, beneath the origin checks of the HTTP client: the built-in
// transport connects only to a host and port some grant names (the
// scheme's default port when the grant has none), and to a loopback
// address only when the grant names that address literally, with that
// port.
func TestGuardedTransportDialsOnlyGrantedHostPorts(t *testing.T) {
	name := loopbackName(t)
	granted, other, otherHits := twoPorts(t)
	cfg := Config{}.withDefaults()
	f := newFetcher([]string{granted.URL, "http://" + net.JoinHostPort(name, portOf(t, other)), "http://127.0.0.2"}, nil, &cfg)
	t.Cleanup(f.close)

	get := func(u string) error {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.transport.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(granted.URL + "/ok"); err != nil {
		t.Fatalf("the granted address and port: %v", err)
	}
	tests := []struct{ name, url string }{
		{"another port of the granted address", other.URL + "/"},
		{"a granted name resolving to loopback", "http://" + net.JoinHostPort(name, portOf(t, other)) + "/"},
		{"the granted port by an ungranted name", "http://" + net.JoinHostPort(name, portOf(t, granted)) + "/"},
		{"a granted address without a port, on another port", "http://127.0.0.2:" + portOf(t, other) + "/"},
		{"a granted address on the other scheme's default port", "https://127.0.0.2/"},
	}
	for _, tc := range tests {
		err := get(tc.url)
		var ad *addrDeniedError
		if !errors.As(err, &ad) {
			t.Errorf("%s (%s): error = %v, want a refused connection", tc.name, tc.url, err)
		}
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the server on the ungranted port was reached %d times", n)
	}
}
