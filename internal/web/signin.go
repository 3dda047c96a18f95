package web

import (
	"errors"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/auth"
)

type signinData struct {
	CSRF  string
	Next  string
	Error string
}

// safeNext keeps a post-sign-in destination on this site: a path, never
// "//host" or a scheme, so the form cannot be used to send people away.
func safeNext(s string) string {
	if s == "" || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || len(s) > 512 || strings.ContainsAny(s, "\r\n") {
		return "/"
	}
	return s
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request, c *call) {
	d := signinData{Next: safeNext(r.URL.Query().Get("next"))}
	if c.signedIn {
		d.CSRF = c.csrf
	} else {
		d.CSRF = h.sess.preSessionToken(w, r)
	}
	h.render(w, r, c, http.StatusOK, "signin.html", "Sign in", d)
}

// maxTokenLen bounds a pasted token.
const maxTokenLen = 256

func (h *Handler) signin(w http.ResponseWriter, r *http.Request, c *call) {
	secret := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	refuse := func(msg string) {
		d := signinData{Next: next, Error: msg, CSRF: h.sess.preSessionToken(w, r)}
		if c.signedIn {
			d.CSRF = c.csrf
		}
		h.render(w, r, c, http.StatusUnauthorized, "signin.html", "Sign in", d)
	}
	if secret == "" || len(secret) > maxTokenLen {
		refuse("Paste an API token (it starts with " + auth.Prefix + ").")
		return
	}
	t, err := h.app.SignIn(r.Context(), secret)
	var ae *app.Error
	switch {
	case errors.As(err, &ae) && ae.Code == "unknown_token":
		refuse("That token is not recognised.")
		return
	case errors.As(err, &ae) && ae.Code == "token_refused":
		refuse("That token was refused: " + ae.Err.Error() + ".")
		return
	case err != nil:
		h.internal(w, r, c, err)
		return
	}
	h.sess.issue(w, t)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, c *call) {
	h.sess.clear(w)
	redirect(w, r, "/", "signedout")
}
