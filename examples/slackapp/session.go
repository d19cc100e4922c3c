package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/installvault/installvault/installstore"
)

// sessionCookie names the cookie listing the tenants installed from this
// browser, so that /installed shows those and nothing else.
const sessionCookie = "slackapp-installed"

// maxSessionTenants bounds the cookie: the oldest tenants are dropped.
const maxSessionTenants = 8

// sessions signs and reads the installed-tenants cookie with an
// HMAC-SHA256 key. The cookie holds IDs only, never a token.
type sessions struct {
	key    []byte
	secure bool
}

// errBadSession: the cookie is malformed, tampered with or signed with
// another key.
var errBadSession = errors.New("invalid session cookie")

// encode returns the signed cookie value for tenants.
func (s *sessions) encode(qs []installstore.Query) string {
	body, _ := json.Marshal(qs) // a slice of plain structs always encodes
	b := base64.RawURLEncoding.EncodeToString(body)
	return b + "." + base64.RawURLEncoding.EncodeToString(s.mac(b))
}

// decode verifies and parses a cookie value.
func (s *sessions) decode(v string) ([]installstore.Query, error) {
	b, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, errBadSession
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(b)) {
		return nil, errBadSession
	}
	body, err := base64.RawURLEncoding.DecodeString(b)
	if err != nil {
		return nil, errBadSession
	}
	var qs []installstore.Query
	if err := json.Unmarshal(body, &qs); err != nil || len(qs) > maxSessionTenants {
		return nil, errBadSession
	}
	for _, q := range qs {
		if q.Validate() != nil || q.UserID != "" {
			return nil, errBadSession
		}
	}
	return qs, nil
}

func (s *sessions) mac(b string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("slackapp-session:"))
	m.Write([]byte(b))
	return m.Sum(nil)
}

// read returns the tenants of r's cookie; none when absent or invalid.
func (s *sessions) read(r *http.Request) []installstore.Query {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	qs, err := s.decode(c.Value)
	if err != nil {
		return nil
	}
	return qs
}

// add sets the cookie to r's tenants plus q (first, deduplicated).
func (s *sessions) add(w http.ResponseWriter, r *http.Request, q installstore.Query) {
	qs := []installstore.Query{q}
	for _, old := range s.read(r) {
		if old != q && len(qs) < maxSessionTenants {
			qs = append(qs, old)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.encode(qs), Path: "/", MaxAge: 30 * 24 * 3600,
		Secure: s.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}
