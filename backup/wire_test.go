package backup

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// fill sets every field reachable from v (a settable value) to a non-zero
// value: strings, bools, times, slices, pointers and secrets.
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Type() {
	case reflect.TypeFor[installstore.Secret]():
		v.Set(reflect.ValueOf(installstore.NewSecret(installstore.SealedPrefix + path)))
		return
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, len(path), time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("X" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fill(t, v.Field(i), path+"."+f.Name)
		}
	default:
		t.Fatalf("%s: a field of kind %s: teach fill (and the backup format) about it", path, v.Kind())
	}
}

// TestEveryFieldIsBackedUp fails when Installation gains a field that the
// backup format does not carry: a backup must lose nothing.
func TestEveryFieldIsBackedUp(t *testing.T) {
	var in installstore.Installation
	fill(t, reflect.ValueOf(&in).Elem(), "inst")
	in.Version = 0 // the target store assigns versions
	out := fromWire(toWire(&in))
	require.Equal(t, &in, out)
}
