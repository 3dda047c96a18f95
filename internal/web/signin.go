package web

import (
	"errors"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/auth"
	"gatehouse.dev/gatehouse/internal/store"
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
	t, err := h.cfg.Store.TokenByHash(r.Context(), auth.Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		refuse("That token is not recognised.")
		return
	}
	if err != nil {
		h.internal(w, r, c, err)
		return
	}
	now := h.cfg.Now()
	if err := auth.Check(t, secret, now); err != nil {
		// A known token refused for a reason (expired, revoked) is worth a
		// line in the trail; unknown ones are not, or anyone could fill it.
		h.recordSignin(r, t, audit.WebSigninRefused, err.Error())
		refuse("That token was refused: " + err.Error() + ".")
		return
	}
	h.recordSignin(r, t, audit.WebSignin, "")
	h.sess.issue(w, t)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) recordSignin(r *http.Request, t store.Token, action, reason string) {
	ev := audit.Event{Time: h.cfg.Now(), Actor: t.Subject, Action: action, Subject: "token:" + t.ID, Reason: reason}
	if err := h.cfg.Store.AppendAudit(r.Context(), ev); err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "recording a sign-in", "token", t.ID, "err", err)
	}
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, c *call) {
	h.sess.clear(w)
	redirect(w, r, "/", "signedout")
}
