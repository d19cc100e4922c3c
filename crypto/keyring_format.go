package crypto

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Format implements [fmt.Formatter]: the keyring's key names, never key
// material (fmt would otherwise print the expanded AES keys).
func (k *localKeyring) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "crypto.localKeyring{primary: %s, keys: [%s]}", k.primary, strings.Join(k.names(), " "))
}

// LogValue implements [slog.LogValuer], with the same fields as Format.
func (k *localKeyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary", k.primary), slog.Any("keys", k.names()))
}

func (k *localKeyring) names() []string {
	names := make([]string, 0, len(k.keys))
	for n := range k.keys {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
