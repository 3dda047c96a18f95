package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// DefaultMaxConcurrentUploads is how many package uploads one process
// takes at once when Config.MaxConcurrentUploads is not set.
const DefaultMaxConcurrentUploads = 4

// DefaultUploadTimeout bounds how long one upload's body may take to
// arrive when Config.UploadTimeout is not set: a 1 GiB package at about
// 1.8 MB/s.
const DefaultUploadTimeout = 10 * time.Minute

// uploadRetryAfter is the Retry-After, in seconds, of a refused upload.
const uploadRetryAfter = 5

// takeUpload takes one of the process's upload slots, or answers 429 with
// Retry-After and reports false. It runs inside the guard, after the
// caller is authenticated and allowed to submit: an anonymous request is
// answered 401 and never holds, or is told about, a slot.
func (s *Server) takeUpload(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, true
	default:
		w.Header().Set("Retry-After", strconv.Itoa(uploadRetryAfter))
		writeError(w, http.StatusTooManyRequests, "too_many_uploads",
			fmt.Sprintf("the server is taking %d uploads already; retry in %d seconds", cap(s.uploads), uploadRetryAfter))
		return nil, false
	}
}

// boundUpload sets the deadline by which the upload's body must have
// arrived, so a client trickling bytes cannot hold a slot for ever (the
// server has no ReadTimeout: downloads and other requests must not get
// one). A connection that cannot take a deadline (a test recorder) is
// left unbounded.
func (s *Server) boundUpload(w http.ResponseWriter) error {
	err := http.NewResponseController(w).SetReadDeadline(s.cfg.Now().Add(s.uploadTimeout()))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (s *Server) uploadTimeout() time.Duration {
	if s.cfg.UploadTimeout > 0 {
		return s.cfg.UploadTimeout
	}
	return DefaultUploadTimeout
}

// uploadTooSlow reports whether err is the upload's deadline passing.
func uploadTooSlow(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
