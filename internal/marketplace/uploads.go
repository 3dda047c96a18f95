package marketplace

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// DefaultMaxConcurrentUploads is how many package uploads one process
// takes at once when Config.MaxConcurrentUploads is not set. An upload is
// read into memory while it is checked (up to pkgfile's MaxTotalBytes), so
// this bounds the memory uploads take.
const DefaultMaxConcurrentUploads = 4

// uploadRetryAfter is the Retry-After, in seconds, of a refused upload.
const uploadRetryAfter = 5

// submitPath is the API route of package uploads.
const submitPath = "/api/v1/submissions"

// limitUploads lets at most max package uploads through to h at once and
// answers the excess at once with 429 and Retry-After: a client retries,
// and no burst of uploads can exhaust the server's memory.
func limitUploads(h http.Handler, max int) http.Handler {
	if max <= 0 {
		max = DefaultMaxConcurrentUploads
	}
	slots := make(chan struct{}, max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != submitPath {
			h.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", strconv.Itoa(uploadRetryAfter))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			e.Error.Code = "too_many_uploads"
			e.Error.Message = fmt.Sprintf("the server is taking %d uploads already; retry in %d seconds", max, uploadRetryAfter)
			json.NewEncoder(w).Encode(e)
		}
	})
}
