package rotation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/installvault/installvault/installstore"
)

// A refresh's intent is a nonce the lease holder puts before calling Slack
// and consumes once Slack's answer is stored or known. An intent found
// already put, when Slack then rejects the refresh token, means an earlier
// refresh of that token got no stored answer: write_back_lost.

// intentTTL is how long a refresh's intent stays recorded when its answer
// is never stored: longer than a Slack token lives (12 hours), so that the
// next refresh of that token still finds it.
const intentTTL = 24 * time.Hour

// intentName names the intent nonce of a refresh of part p of q's record
// with refresh token refresh: the lease name and a fingerprint of the
// refresh token keyed with the client secret (no secret, and nothing a
// store reader can test a guessed token against).
func (r *Refresher) intentName(q installstore.Query, p part, refresh installstore.Secret) string {
	mac := hmac.New(sha256.New, []byte(r.clientSecret.Reveal()))
	mac.Write([]byte(refresh.Reveal()))
	return "rotation-intent:" + leaseName(q, p) + ":" + hex.EncodeToString(mac.Sum(nil)[:16])
}

// consumeIntent removes a refresh's intent once its outcome is stored or
// known. A failure leaves it to expire: harmless once the answer is stored
// (no later refresh uses that refresh token again); after a rejection, a
// later rejection of the same token is then named write_back_lost.
func (r *Refresher) consumeIntent(ctx context.Context, name string) {
	if err := r.store.ConsumeNonce(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, installstore.ErrNotFound) {
		r.log.LogAttrs(ctx, slog.LevelDebug, "rotation: removing a refresh intent failed; it expires on its own", slog.String("error", err.Error()))
	}
}
