package installstore

import "context"

type callerKey struct{}

// WithCaller returns a context carrying a caller label ("events",
// "slash-command", "refresher", "cli:verify", ...) that audit records name
// as the reader of a token.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// CallerFrom returns the label set by [WithCaller], or "" when none was set.
func CallerFrom(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}
