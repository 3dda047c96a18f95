package server

import (
	"net/http/httptest"
	"testing"
)

// TestCalendarUIDsNameThePublicAddress: the host-API calendar's event ids
// name the marketplace's configured public address, not whatever Host a
// request carried, so one sunset stays one event in a subscriber's
// calendar; without one they name the request's host, and a Host that is
// not a host name names none.
func TestCalendarUIDsNameThePublicAddress(t *testing.T) {
	tests := []struct {
		publicURL, host, want string
	}{
		{"https://plugins.example.com", "10.0.0.7:8080", "plugins.example.com"},
		{"https://plugins.example.com:8443/base", "evil.example.net", "plugins.example.com"},
		{"", "market.example.org:8080", "market.example.org"},
		{"", "bad host\r\nX: y", "gatehouse.invalid"},
		{"not a url", "market.example.org", "market.example.org"},
	}
	for _, tt := range tests {
		s := &Server{cfg: Config{PublicURL: tt.publicURL}}
		r := httptest.NewRequest("GET", "/api/v1/host-api/calendar.ics", nil)
		r.Host = tt.host
		if got := s.calendarDomain(r); got != tt.want {
			t.Errorf("public URL %q, Host %q: domain %q, want %q", tt.publicURL, tt.host, got, tt.want)
		}
	}
}
