package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/installvault/installvault/installstore"
)

// progressStore passes everything to inner and prints, every `every` records
// that a listing has handed out and the consumer has finished with, how many
// that was. Placed under the encryption layer, it reports crypto.Rewrap's
// progress without changing it.
type progressStore struct {
	inner installstore.FullStore
	w     io.Writer
	label string
	every int
}

// newProgressStore returns inner with progress output, exposing exactly
// inner's capabilities.
func newProgressStore(inner installstore.FullStore, w io.Writer, label string, every int) installstore.Store {
	return installstore.Mirror(&progressStore{inner: inner, w: w, label: label, every: every}, inner)
}

func (p *progressStore) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	n := 0
	start := time.Now()
	err := p.inner.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		err := fn(q, inst)
		n++
		if p.every > 0 && n%p.every == 0 {
			fmt.Fprintf(p.w, "%s: %d records done (%s)\n", p.label, n, time.Since(start).Round(time.Millisecond))
		}
		return err
	})
	return err
}

func (p *progressStore) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	return p.inner.StoreInstallation(ctx, inst)
}

func (p *progressStore) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	return p.inner.FetchInstallation(ctx, q)
}

func (p *progressStore) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	return p.inner.DeleteInstallation(ctx, q)
}

func (p *progressStore) DeleteBot(ctx context.Context, q installstore.Query) error {
	return p.inner.DeleteBot(ctx, q)
}

func (p *progressStore) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	return p.inner.UpdateInstallation(ctx, inst)
}

func (p *progressStore) PutNonce(ctx context.Context, nonce string, expiresAt time.Time) error {
	return p.inner.PutNonce(ctx, nonce, expiresAt)
}

func (p *progressStore) ConsumeNonce(ctx context.Context, nonce string) error {
	return p.inner.ConsumeNonce(ctx, nonce)
}

func (p *progressStore) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) error {
	return p.inner.AcquireLease(ctx, name, owner, ttl)
}

func (p *progressStore) ReleaseLease(ctx context.Context, name, owner string) error {
	return p.inner.ReleaseLease(ctx, name, owner)
}
