package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sessions live in this process's memory: the cookie holds a random id,
// the server the SHA-256 of the token it was opened with (never the token),
// the session's CSRF token and its end. Signing out forgets the session;
// a restart forgets them all (readers sign in again).
const (
	sessionCookie = "planledger-session"
	// signinCookie binds the sign-in form to the browser that asked for
	// it (there is no session yet to bind it to).
	signinCookie = "planledger-signin"
	signinTTL    = time.Hour
	maxSessions  = 10_000
	// maxForm bounds the body of the sign-in and sign-out forms.
	maxForm = 16 << 10
)

type session struct {
	tokenHash [32]byte
	csrf      string
	expires   time.Time
}

type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session // by the SHA-256 of the cookie's value
	ttl time.Duration
	max int
}

func newSessions(ttl time.Duration, max int) *sessions {
	return &sessions{m: map[[32]byte]*session{}, ttl: ttl, max: max}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// open starts a session for a token's hash and returns the cookie value.
// Expired sessions are dropped first; at the limit, the one ending
// soonest goes.
func (ss *sessions) open(tokenHash [32]byte, now time.Time) (string, *session) {
	id := randomToken()
	sess := &session{tokenHash: tokenHash, csrf: randomToken(), expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var soonest [32]byte
	var soonestAt time.Time
	for k, s := range ss.m {
		if !now.Before(s.expires) {
			delete(ss.m, k)
		} else if soonestAt.IsZero() || s.expires.Before(soonestAt) {
			soonest, soonestAt = k, s.expires
		}
	}
	if len(ss.m) >= ss.max {
		delete(ss.m, soonest)
	}
	ss.m[sha256.Sum256([]byte(id))] = sess
	return id, sess
}

// get returns the live session of a cookie value.
func (ss *sessions) get(id string, now time.Time) (*session, bool) {
	key := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[key]
	if ok && !now.Before(s.expires) {
		delete(ss.m, key)
		return nil, false
	}
	return s, ok
}

// end forgets a session.
func (ss *sessions) end(id string) {
	ss.mu.Lock()
	delete(ss.m, sha256.Sum256([]byte(id)))
	ss.mu.Unlock()
}

// len counts the sessions held, expired or not.
func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// session returns the request's session and who holds it, if its token
// is still one the server knows.
func (s *Site) session(r *http.Request) (*session, Reader, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, Reader{}, false
	}
	sess, ok := s.sessions.get(c.Value, s.now())
	if !ok {
		return nil, Reader{}, false
	}
	reader, ok := s.cfg.Resolve(sess.tokenHash)
	if !ok {
		s.sessions.end(c.Value)
		return nil, Reader{}, false
	}
	return sess, reader, true
}

// cookie is one of the site's cookies: HttpOnly, SameSite=Strict, Secure
// over TLS or when configured so.
func (s *Site) cookie(r *http.Request, name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || s.cfg.SecureCookies}
	if ttl > 0 {
		c.MaxAge, c.Expires = int(ttl.Seconds()), s.now().Add(ttl)
	} else {
		c.MaxAge = -1
	}
	return c
}

type signinPage struct {
	*base
	Next, Form, Error string
}

func (s *Site) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	b := s.newBase(r)
	s.signInForm(w, r, b, safeNext(r.URL.Query().Get("next")), "", http.StatusOK)
}

// signInForm renders the form with a fresh form token, also set as a
// cookie: a POST must bring both, equal.
func (s *Site) signInForm(w http.ResponseWriter, r *http.Request, b *base, next, errKey string, status int) {
	form := randomToken()
	http.SetCookie(w, s.cookie(r, signinCookie, form, signinTTL))
	b.Title = b.T("signin.title")
	p := &signinPage{base: b, Next: next, Form: form}
	if errKey != "" {
		p.Error = b.T(errKey)
	}
	s.render(w, status, "signin", p)
}

// handleSignIn takes the token from the form body only (never from the
// address), checks the form token and the request's origin, and opens a
// session.
func (s *Site) handleSignIn(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	b := s.newBase(r)
	if r.PostFormValue("lang") == langEN {
		b.Lang = langEN
		b.carry.Set("lang", langEN)
	}
	next := safeNext(r.PostFormValue("next"))
	if err := s.xorigin.Check(r); err != nil {
		http.Error(w, "cross-origin sign-in refused", http.StatusForbidden)
		return
	}
	c, err := r.Cookie(signinCookie)
	if err != nil || !equal(c.Value, r.PostFormValue("form")) {
		s.signInForm(w, r, b, next, "signin.expired", http.StatusForbidden)
		return
	}
	hash := sha256.Sum256([]byte(strings.TrimSpace(r.PostFormValue("token"))))
	if _, ok := s.cfg.Resolve(hash); !ok {
		s.signInForm(w, r, b, next, "signin.bad", http.StatusUnauthorized)
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(old.Value)
	}
	id, _ := s.sessions.open(hash, s.now())
	http.SetCookie(w, s.cookie(r, sessionCookie, id, s.cfg.SessionTTL))
	http.SetCookie(w, s.cookie(r, signinCookie, "", 0))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// handleSignOut ends the session on the server and clears the cookie. It
// takes the session's CSRF token from the form and refuses other origins.
func (s *Site) handleSignOut(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := s.xorigin.Check(r); err != nil {
		http.Error(w, "cross-origin sign-out refused", http.StatusForbidden)
		return
	}
	sess, _, ok := s.session(r)
	if ok && !equal(sess.csrf, r.PostFormValue("csrf")) {
		http.Error(w, "the form's CSRF token does not match the session", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, "", 0))
	to := "/signin"
	if r.PostFormValue("lang") == langEN {
		to += "?lang=en"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// safeNext keeps a redirect after sign-in on this site: a path, not
// another host ("//evil.example", "https://...").
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(u.Path, "/signin") {
		return "/"
	}
	return next
}
