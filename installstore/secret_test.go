package installstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
)

const token = "xoxb-test-do-not-print-me"

func TestSecretRedactsEverywhere(t *testing.T) {
	s := installstore.NewSecret(token)
	inst := storetest.Fixture("E1", "T1", "U1", "secret-tag")
	inst.Bot.Token = s

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s", "%-10v", "%T %v", "%d"} {
		outputs["Sprintf "+verb+" secret"] = fmt.Sprintf(verb, s)
		outputs["Sprintf "+verb+" bot"] = fmt.Sprintf(verb, *inst.Bot)
		outputs["Sprintf "+verb+" *bot"] = fmt.Sprintf(verb, inst.Bot)
		outputs["Sprintf "+verb+" installation"] = fmt.Sprintf(verb, *inst)
		outputs["Sprintf "+verb+" user"] = fmt.Sprintf(verb, inst.User)
		outputs["Sprintf "+verb+" webhook"] = fmt.Sprintf(verb, inst.IncomingWebhook)
		outputs["Sprintf "+verb+" map of pointers"] = fmt.Sprintf(verb, map[string]*installstore.Installation{"a": inst})
		outputs["Sprintf "+verb+" slice of pointers"] = fmt.Sprintf(verb, []*installstore.Bot{inst.Bot})
		outputs["Sprintf "+verb+" wrapper"] = fmt.Sprintf(verb, struct{ Inst *installstore.Installation }{inst})
	}
	outputs["String"] = s.String()
	outputs["GoString"] = s.GoString()
	outputs["Sprint"] = fmt.Sprint(s, inst.Bot, *inst)
	outputs["Sprintln"] = fmt.Sprintln(s)
	outputs["error"] = fmt.Errorf("failed with %v", s).Error()
	for name, v := range map[string]any{"secret": s, "installation": inst, "slice": []installstore.Secret{s}, "map": map[string]installstore.Secret{"k": s}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		outputs["json "+name] = string(b)
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		l := slog.New(h)
		l.Info("msg", "secret", s, "installation", inst, "bot", *inst.Bot, slog.Any("any", s), "group", slog.GroupValue(slog.Any("s", s)))
	}
	outputs["slog"] = buf.String()

	for name, out := range outputs {
		require.NotContains(t, out, token, name)
		require.NotContains(t, out, "secret-tag", name)
		require.NotContains(t, out, hexOf(token), name)
	}
	require.Equal(t, installstore.Redacted, s.String())
	require.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%q", s))
	require.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%#v", s))
	require.Contains(t, outputs["slog"], installstore.Redacted)
	require.Equal(t, token, s.Reveal())
}

func hexOf(s string) string { return fmt.Sprintf("%x", []byte(s)) }

func TestEmptySecretShowsAbsence(t *testing.T) {
	var s installstore.Secret
	require.True(t, s.IsZero())
	require.Equal(t, "", s.String())
	require.Equal(t, `""`, fmt.Sprintf("%q", s))
	b, _ := json.Marshal(s)
	require.Equal(t, `""`, string(b))
}

func TestSecretUnmarshal(t *testing.T) {
	var cfg struct{ Token installstore.Secret }
	require.NoError(t, json.Unmarshal([]byte(`{"Token":"xoxb-test-1"}`), &cfg))
	require.Equal(t, "xoxb-test-1", cfg.Token.Reveal())
	err := json.Unmarshal([]byte(`{"Token":"[REDACTED]"}`), &cfg)
	require.Error(t, err, "a redacted dump must not load back as a credential")
	require.False(t, strings.Contains(err.Error(), "xoxb"))
}

func TestSecretsVisitsEveryField(t *testing.T) {
	inst := storetest.Fixture("", "T1", "U1", "a")
	var names []string
	require.NoError(t, inst.Secrets(func(field string, s *installstore.Secret) error {
		names = append(names, field)
		*s = installstore.NewSecret("sealed:" + field)
		return nil
	}))
	require.Equal(t, []string{installstore.FieldBotToken, installstore.FieldBotRefreshToken, installstore.FieldUserToken, installstore.FieldUserRefreshToken, installstore.FieldIncomingWebhookURL}, names)
	require.Equal(t, "sealed:bot.token", inst.Bot.Token.Reveal())
	require.Equal(t, "sealed:incoming_webhook.url", inst.IncomingWebhook.URL.Reveal())

	// Empty secrets and missing parts are skipped; errors stop the walk.
	bare := &installstore.Installation{TeamID: "T1", User: installstore.User{ID: "U1", Token: installstore.NewSecret("xoxp-test")}}
	stop := errors.New("stop")
	n := 0
	err := bare.Secrets(func(string, *installstore.Secret) error { n++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)
}

func TestCloneIsDeep(t *testing.T) {
	inst := storetest.Fixture("", "T1", "U1", "a")
	c := inst.Clone()
	require.Equal(t, inst, c)
	c.Bot.Scopes[0] = "x"
	c.User.Scopes[0] = "x"
	c.IncomingWebhook.Channel = "x"
	c.Bot.Token = installstore.NewSecret("x")
	require.Equal(t, storetest.Fixture("", "T1", "U1", "a"), inst)
	require.Nil(t, (*installstore.Installation)(nil).Clone())
}

func TestQueryTenant(t *testing.T) {
	cases := []struct {
		q         installstore.Query
		key, name string
	}{
		{installstore.Query{TeamID: "T1"}, ":T1", "T1"},
		{installstore.Query{EnterpriseID: "E1", TeamID: "T1", UserID: "U1"}, "E1:T1", "E1/T1"},
		{installstore.Query{EnterpriseID: "E1", TeamID: "T1", IsEnterpriseInstall: true}, "E1:", "E1 (org-wide)"},
	}
	for _, c := range cases {
		require.NoError(t, c.q.Validate())
		require.Equal(t, c.key, c.q.Tenant().Key())
		require.Equal(t, c.name, c.q.Tenant().String())
	}
	org := storetest.OrgFixture("E1", "U1", "a")
	require.Equal(t, "E1:", org.Tenant().Key())
	require.Equal(t, "E1 (org-wide)", org.Tenant().String())
	require.True(t, org.Tenant().IsEnterprise())
	require.Equal(t, installstore.Query{EnterpriseID: "E1", UserID: "U1", IsEnterpriseInstall: true}, org.Query())
}

func TestValidationErrorsNameTheProblem(t *testing.T) {
	err := installstore.Query{EnterpriseID: "E1"}.Validate()
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.Contains(t, err.Error(), "IsEnterpriseInstall")
	err = (&installstore.Installation{TeamID: "T1", Bot: &installstore.Bot{Token: installstore.NewSecret("xoxb-test-secret")}, User: installstore.User{ID: "bad id"}}).Validate()
	require.ErrorIs(t, err, installstore.ErrInvalid)
	require.NotContains(t, err.Error(), "xoxb-test-secret")
}

func TestCallerLabel(t *testing.T) {
	ctx := context.Background()
	require.Equal(t, "", installstore.CallerFrom(ctx))
	ctx = installstore.WithCaller(ctx, "events")
	require.Equal(t, "events", installstore.CallerFrom(ctx))
	require.Equal(t, "cli", installstore.CallerFrom(installstore.WithCaller(ctx, "cli")))
}

// TestSecretOpaqueWhereFmtCallsNoMethod: after a bad verb, and inside an
// unexported field, fmt calls no method; the value sits behind a pointer, so
// what prints is an address, never the token.
func TestSecretOpaqueWhereFmtCallsNoMethod(t *testing.T) {
	tok := installstore.NewSecret(token)
	inst := storetest.Fixture("E1", "T1", "U1", "badverb-tag")
	inst.Bot.Token = tok
	inst.User.Token = installstore.NewSecret(token + "-user")

	type inner struct{ s installstore.Secret }
	// go vet reports %w with a non-error when the format is a constant; a
	// variable format is the case it cannot see.
	wrap := "save: %w"
	outputs := map[string]string{
		"%p secret":                   fmt.Sprintf("%p", tok),
		"%d secret":                   fmt.Sprintf("%d", tok),
		"%w *installation":            fmt.Errorf(wrap, inst).Error(),
		"%w installation":             fmt.Errorf(wrap, *inst).Error(),
		"%w secret":                   fmt.Errorf(wrap, tok).Error(),
		"%v unexported field":         fmt.Sprintf("%v", struct{ tok installstore.Secret }{tok}),
		"%+v unexported field":        fmt.Sprintf("%+v", struct{ tok installstore.Secret }{tok}),
		"%#v unexported field":        fmt.Sprintf("%#v", struct{ tok installstore.Secret }{tok}),
		"%+v nested unexported field": fmt.Sprintf("%+v", &struct{ inner inner }{inner{tok}}),
		"%v unexported *installation": fmt.Sprintf("%v", struct{ i *installstore.Installation }{inst}),
		"%+v unexported installation": fmt.Sprintf("%+v", struct{ i installstore.Installation }{*inst}),
		"%s unexported slice":         fmt.Sprintf("%s", struct{ s []installstore.Secret }{[]installstore.Secret{tok}}),
		"%x unexported map of secrets": fmt.Sprintf("%x", struct {
			m map[string]installstore.Secret
		}{map[string]installstore.Secret{"k": tok}}),
	}
	for name, out := range outputs {
		require.NotContains(t, out, token, name)
		require.NotContains(t, out, "badverb-tag", name)
		require.NotContains(t, out, hexOf(token), name)
	}
	require.Contains(t, outputs["%+v unexported field"], "0x", "an address prints instead")
}

// TestSecretEqual: Equal compares values (not pointers); == does not compile.
func TestSecretEqual(t *testing.T) {
	a, b := installstore.NewSecret("xoxb-test-a"), installstore.NewSecret("xoxb-test-a")
	require.True(t, a.Equal(b), "same value, different pointers")
	require.False(t, a.Equal(installstore.NewSecret("xoxb-test-b")))
	require.False(t, a.Equal(installstore.Secret{}))
	require.True(t, installstore.Secret{}.Equal(installstore.NewSecret("")))
	require.True(t, installstore.NewSecret("").IsZero())
	require.Equal(t, installstore.Secret{}, installstore.NewSecret(""), "NewSecret(\"\") is the zero Secret")
	require.Equal(t, "xoxb-test-a", a.Reveal())
	require.Equal(t, "", installstore.Secret{}.Reveal())
	require.True(t, installstore.NewSecret(installstore.SealedPrefix+"x").IsSealed())
	require.False(t, installstore.Secret{}.IsSealed())
}

// TestSecretConfigRoundTrip: a config struct loads its Secret from JSON (a
// quoted string, through UnmarshalText) and never writes it back out.
func TestSecretConfigRoundTrip(t *testing.T) {
	type config struct {
		ClientID     string
		ClientSecret installstore.Secret
		Signing      installstore.Secret `json:"signing_secret"`
		Optional     installstore.Secret `json:",omitempty"`
		Absent       installstore.Secret
	}
	var cfg config
	require.NoError(t, json.Unmarshal([]byte(`{"ClientID":"1111.2222","ClientSecret":"`+token+`","signing_secret":"xoxb-test-signing"}`), &cfg))
	require.Equal(t, "1111.2222", cfg.ClientID)
	require.Equal(t, token, cfg.ClientSecret.Reveal())
	require.Equal(t, "xoxb-test-signing", cfg.Signing.Reveal())
	require.True(t, cfg.Absent.IsZero())

	out, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NotContains(t, string(out), token)
	require.NotContains(t, string(out), "xoxb-test-signing")
	require.JSONEq(t, `{"ClientID":"1111.2222","ClientSecret":"[REDACTED]","signing_secret":"[REDACTED]","Optional":"","Absent":""}`, string(out))

	// The redacted dump does not load back as credentials.
	var again config
	require.Error(t, json.Unmarshal(out, &again))

	// A non-string JSON value is refused, not coerced.
	require.Error(t, json.Unmarshal([]byte(`{"ClientSecret":42}`), &again))
}

// TestSetSecrets: SetSecrets gives each destination the Secret NewSecret
// would (an empty value the zero Secret, overwriting what was there), one
// allocation for all of them, and each stays independent of the others.
func TestSetSecrets(t *testing.T) {
	inst := storetest.Fixture("", "T1", "U1", "set")
	dst := []*installstore.Secret{&inst.Bot.Token, &inst.User.Token, &inst.User.RefreshToken, &inst.IncomingWebhook.URL}
	vals := []string{"xoxb-test-1", "", "xoxe-1-test-2", "https://hooks.slack.invalid/3"}
	installstore.SetSecrets(dst, vals)
	for i, d := range dst {
		require.True(t, d.Equal(installstore.NewSecret(vals[i])), "field %d", i)
		require.Equal(t, vals[i], d.Reveal())
	}
	require.Equal(t, installstore.Secret{}, inst.User.Token, "an empty value is the zero Secret, replacing the old one")

	inst.Bot.Token = installstore.NewSecret("xoxb-test-replaced")
	require.Equal(t, "xoxe-1-test-2", inst.User.RefreshToken.Reveal(), "replacing one leaves the others")

	var a, b installstore.Secret
	allocs := testing.AllocsPerRun(100, func() {
		installstore.SetSecrets([]*installstore.Secret{&a, &b}, []string{vals[0], vals[2]})
	})
	require.Equal(t, 1.0, allocs, "one allocation for all of them")
	require.Panics(t, func() { installstore.SetSecrets([]*installstore.Secret{&a}, nil) }, "lengths differ")
}
