package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/memory"
)

// The "memory over HTTP" shared backend: the parent serves one memory.Store
// on 127.0.0.1 and the child processes reach it with httpStore, a small
// client of the calls the refresher makes (fetch, store, update, delete,
// leases, nonces); the rest of installstore.FullStore answers an error. It makes the cross-process
// storm runnable without DynamoDB; crossprocess_dynamo_test.go adds the
// real thing.

const envXprocHTTPStore = "ROTATION_XPROC_HTTPSTORE"

func init() {
	sharedBackends["memory-over-http"] = func(t testing.TB) *sharedBackend {
		b := &sharedBackend{}
		if url := os.Getenv(envXprocHTTPStore); os.Getenv(envXprocChild) == "1" {
			b.env = []string{envXprocHTTPStore + "=" + url}
			b.open = func(testing.TB) installstore.FullStore { return &httpStore{url: url} }
			return b
		}
		srv := httptest.NewServer(serveStore(memory.New()))
		t.Cleanup(srv.Close)
		b.env = []string{envXprocHTTPStore + "=" + srv.URL}
		b.open = func(testing.TB) installstore.FullStore { return &httpStore{url: srv.URL} }
		return b
	}
}

// wireInst carries an Installation with its secrets revealed: a Secret
// marshals redacted, by design.
type wireInst struct {
	Inst    *installstore.Installation
	Secrets map[string]string
}

func toWire(inst *installstore.Installation) wireInst {
	w := wireInst{Inst: inst.Clone(), Secrets: map[string]string{}}
	_ = w.Inst.Secrets(func(field string, s *installstore.Secret) error {
		w.Secrets[field] = s.Reveal()
		*s = installstore.Secret{}
		return nil
	})
	return w
}

func fromWire(w wireInst) *installstore.Installation {
	inst := w.Inst
	for field, v := range w.Secrets {
		s := installstore.NewSecret(v)
		switch field {
		case installstore.FieldBotToken:
			inst.Bot.Token = s
		case installstore.FieldBotRefreshToken:
			inst.Bot.RefreshToken = s
		case installstore.FieldUserToken:
			inst.User.Token = s
		case installstore.FieldUserRefreshToken:
			inst.User.RefreshToken = s
		case installstore.FieldIncomingWebhookURL:
			inst.IncomingWebhook.URL = s
		}
	}
	return inst
}

type storeCall struct {
	Op    string
	Query installstore.Query
	Inst  wireInst
	Name  string
	Owner string
	TTL   time.Duration
	Nonce string
	Until time.Time
}

type storeReply struct {
	Inst wireInst
	Kind string // "", "notfound", "conflict", "invalid", "leaseheld", "other"
	Msg  string
}

var wireErrs = map[string]error{"notfound": installstore.ErrNotFound, "conflict": installstore.ErrConflict,
	"invalid": installstore.ErrInvalid, "leaseheld": installstore.ErrLeaseHeld}

func serveStore(s *memory.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c storeCall
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		var reply storeReply
		var err error
		switch c.Op {
		case "fetch":
			var inst *installstore.Installation
			if inst, err = s.FetchInstallation(ctx, c.Query); err == nil {
				reply.Inst = toWire(inst)
			}
		case "store", "update":
			inst := fromWire(c.Inst)
			if c.Op == "store" {
				err = s.StoreInstallation(ctx, inst)
			} else {
				err = s.UpdateInstallation(ctx, inst)
			}
			reply.Inst = toWire(inst)
		case "delete":
			err = s.DeleteInstallation(ctx, c.Query)
		case "acquire":
			err = s.AcquireLease(ctx, c.Name, c.Owner, c.TTL)
		case "release":
			err = s.ReleaseLease(ctx, c.Name, c.Owner)
		case "putnonce":
			err = s.PutNonce(ctx, c.Nonce, c.Until)
		case "consumenonce":
			err = s.ConsumeNonce(ctx, c.Nonce)
		default:
			err = fmt.Errorf("unknown op %q", c.Op)
		}
		if err != nil {
			reply.Kind, reply.Msg = "other", err.Error()
			for kind, sentinel := range wireErrs {
				if errors.Is(err, sentinel) {
					reply.Kind = kind
				}
			}
		}
		_ = json.NewEncoder(w).Encode(reply)
	})
}

// httpStore is the child side.
type httpStore struct{ url string }

var _ installstore.FullStore = (*httpStore)(nil)

var errHTTPStoreUnsupported = errors.New("httpstore: not supported by the test wire")

func (h *httpStore) call(ctx context.Context, c storeCall) (storeReply, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return storeReply{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return storeReply{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return storeReply{}, err
	}
	defer resp.Body.Close()
	var reply storeReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return storeReply{}, err
	}
	if reply.Kind != "" {
		if sentinel := wireErrs[reply.Kind]; sentinel != nil {
			return reply, fmt.Errorf("httpstore %s: %w (%s)", c.Op, sentinel, reply.Msg)
		}
		return reply, fmt.Errorf("httpstore %s: %s", c.Op, reply.Msg)
	}
	return reply, nil
}

func (h *httpStore) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	reply, err := h.call(ctx, storeCall{Op: "store", Inst: toWire(inst)})
	if err == nil {
		inst.Version, inst.InstalledAt = reply.Inst.Inst.Version, reply.Inst.Inst.InstalledAt
	}
	return err
}

func (h *httpStore) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	reply, err := h.call(ctx, storeCall{Op: "update", Inst: toWire(inst)})
	if err == nil {
		inst.Version = reply.Inst.Inst.Version
	}
	return err
}

func (h *httpStore) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	reply, err := h.call(ctx, storeCall{Op: "fetch", Query: q})
	if err != nil {
		return nil, err
	}
	return fromWire(reply.Inst), nil
}

func (h *httpStore) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	_, err := h.call(ctx, storeCall{Op: "delete", Query: q})
	return err
}

func (h *httpStore) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	_, err := h.call(ctx, storeCall{Op: "acquire", Name: name, Owner: owner, TTL: ttl})
	return err
}

func (h *httpStore) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := h.call(ctx, storeCall{Op: "release", Name: name, Owner: owner})
	return err
}

func (h *httpStore) PutNonce(ctx context.Context, nonce string, until time.Time) error {
	_, err := h.call(ctx, storeCall{Op: "putnonce", Nonce: nonce, Until: until})
	return err
}

func (h *httpStore) ConsumeNonce(ctx context.Context, nonce string) error {
	_, err := h.call(ctx, storeCall{Op: "consumenonce", Nonce: nonce})
	return err
}

func (h *httpStore) DeleteBot(context.Context, installstore.Query) error {
	return errHTTPStoreUnsupported
}

func (h *httpStore) DeleteInstallationIf(context.Context, installstore.Query, int64) error {
	return errHTTPStoreUnsupported
}

func (h *httpStore) DeleteBotIf(context.Context, installstore.Query, int64) error {
	return errHTTPStoreUnsupported
}

func (h *httpStore) ListInstallations(context.Context, func(installstore.Query, *installstore.Installation) error) error {
	return errHTTPStoreUnsupported
}

func (h *httpStore) ListDue(context.Context, time.Time, func(installstore.Query, time.Time) error) error {
	return errHTTPStoreUnsupported
}

func (h *httpStore) ListHistory(context.Context, installstore.Query, func(*installstore.Installation) error) error {
	return errHTTPStoreUnsupported
}

func (h *httpStore) PutHistory(context.Context, *installstore.Installation) error {
	return errHTTPStoreUnsupported
}
