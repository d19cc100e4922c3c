package installstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

func TestCountSkipped(t *testing.T) {
	other := errors.New("opens not")
	rec := func(team string, class error) error { return fmt.Errorf("record %s: %w", team, class) }
	for name, c := range map[string]struct {
		err      error
		classes  []error
		n        int
		complete bool
	}{
		"nil":                {nil, nil, 0, true},
		"two corrupt":        {fmt.Errorf("list: %w", errors.Join(rec("T1", installstore.ErrCorrupt), rec("T2", installstore.ErrCorrupt))), nil, 2, true},
		"other class":        {errors.Join(rec("T1", installstore.ErrCorrupt), rec("T2", other)), []error{installstore.ErrCorrupt, other}, 2, true},
		"class not asked":    {errors.Join(rec("T1", installstore.ErrCorrupt), rec("T2", other)), nil, 1, true},
		"then unavailable":   {errors.Join(rec("T1", installstore.ErrCorrupt), fmt.Errorf("scan: %w", installstore.ErrUnavailable)), nil, 1, false},
		"then canceled":      {errors.Join(rec("T1", installstore.ErrCorrupt), context.Canceled), nil, 1, false},
		"only a failure":     {fmt.Errorf("scan: %w", installstore.ErrUnavailable), nil, 0, false},
		"an unrelated error": {errors.New("boom"), nil, 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			n, complete := installstore.CountSkipped(c.err, c.classes...)
			require.Equal(t, c.n, n)
			require.Equal(t, c.complete, complete)
		})
	}
}
