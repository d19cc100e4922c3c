package rotation

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/installvault/installvault/installstore"
)

// part is which token of an installation a flight refreshes.
type part int

const (
	partBot part = iota
	partUser
)

// parts lists the tokens Authorize keeps valid, in refresh order.
var parts = [...]part{partBot, partUser}

// String returns "bot" or "user".
func (p part) String() string {
	if p == partBot {
		return "bot"
	}
	return "user"
}

// token is one token of an installation, with its refresh state. version
// is the tenant Version it was read or written at.
type token struct {
	token   installstore.Secret
	refresh installstore.Secret
	expires time.Time
	version int64
}

// present reports whether there is a token at all.
func (t token) present() bool { return !t.token.IsZero() }

// get returns the part's token of inst (zero when absent).
func (p part) get(inst *installstore.Installation) token {
	switch {
	case p == partBot && inst.Bot != nil:
		return token{inst.Bot.Token, inst.Bot.RefreshToken, inst.Bot.ExpiresAt, inst.Version}
	case p == partUser:
		return token{inst.User.Token, inst.User.RefreshToken, inst.User.ExpiresAt, inst.Version}
	}
	return token{version: inst.Version}
}

// set stores t as the part's token of inst. The bot must exist for partBot.
func (p part) set(inst *installstore.Installation, t token) {
	if p == partBot {
		if inst.Bot == nil {
			return
		}
		inst.Bot.Token, inst.Bot.RefreshToken, inst.Bot.ExpiresAt = t.token, t.refresh, t.expires
		return
	}
	inst.User.Token, inst.User.RefreshToken, inst.User.ExpiresAt = t.token, t.refresh, t.expires
}

// same compares two secrets in constant time.
func same(a, b installstore.Secret) bool {
	return subtle.ConstantTimeCompare([]byte(a.Reveal()), []byte(b.Reveal())) == 1
}

// fingerprint identifies a refresh token without keeping it.
type fingerprint [sha256.Size]byte

func fingerprintOf(s installstore.Secret) fingerprint { return sha256.Sum256([]byte(s.Reveal())) }
