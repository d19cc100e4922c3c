package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/installvault/installvault/installstore"
)

// progressStore is a layer that prints, every `every` records that a
// listing has handed out and the consumer has finished with, how many that
// was. Placed under the encryption layer, it reports crypto.Rewrap's
// progress without changing it.
type progressStore struct {
	installstore.Passthrough
	w     io.Writer
	label string
	every int
}

func newProgressStore(inner installstore.FullStore, w io.Writer, label string, every int) *progressStore {
	return &progressStore{Passthrough: installstore.Passthrough{Inner: inner}, w: w, label: label, every: every}
}

// Unwrap implements installstore.Unwrapper.
func (p *progressStore) Unwrap() []installstore.FullStore { return []installstore.FullStore{p.Inner} }

// ListInstallations lists Inner and prints progress.
func (p *progressStore) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	n := 0
	start := time.Now()
	return p.Inner.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		err := fn(q, inst)
		n++
		if p.every > 0 && n%p.every == 0 {
			fmt.Fprintf(p.w, "%s: %d records done (%s)\n", p.label, n, time.Since(start).Round(time.Millisecond))
		}
		return err
	})
}
