package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"gatehouse.dev/gatehouse/client"
	"gatehouse.dev/gatehouse/internal/marketplace"
)

// listen opens the server's address, saying what to do when it cannot: a
// port in use or a malformed address is fixed with --addr.
func listen(addr string) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("--addr %q is not HOST:PORT; use e.g. 127.0.0.1:8080, or :8080 for every interface (or set GATEHOUSE_ADDR)", addr)
	}
	ln, err := marketplace.Listen(addr)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%w\nanother process (perhaps another `gatehouse serve`) listens there: stop it, or choose another address with --addr, e.g. --addr 127.0.0.1:8081", err)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("%w\nports below 1024 need privileges: choose another with --addr, e.g. --addr 127.0.0.1:8080", err)
	}
	return nil, fmt.Errorf("%w\nchoose an address this machine has with --addr, e.g. --addr 127.0.0.1:8080", err)
}

// hint adds what to do next to errors a client command meets: a server
// that does not answer, a token it refuses.
func hint(err error, server string) error {
	var ue *url.Error // only a request the client sent, never serve's own listener
	var ce *client.Error
	switch {
	case errors.As(err, &ue) && !ue.Timeout():
		return fmt.Errorf("%w\nno Gatehouse server answers at %s: start one with `gatehouse serve`, or point GATEHOUSE_SERVER (or --server) at yours", err, server)
	case errors.As(err, &ce) && ce.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w\nset GATEHOUSE_TOKEN (or --token) to a valid token: an admin makes one with `gatehouse token create`; the first admin token is in gatehouse-data/admin.token", err)
	}
	return err
}
