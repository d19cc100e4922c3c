package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/dynamotest"
)

// secretMarkers appear in every fixture secret (storetest.Fixture): no
// output may contain them.
var secretMarkers = []string{"xoxb-", "xoxp-", "xoxe-", "hooks.slack.invalid"}

// harness is one test's table and CLI environment.
type harness struct {
	t       *testing.T
	client  *dynamodb.Client
	table   string
	env     map[string]string
	secrets []string // every plaintext secret and key the test used
}

// hermeticAWS makes the SDK's default chain find fake credentials in the
// environment and nothing else.
func hermeticAWS(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/installvault-test")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/installvault-test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	endpoint := dynamotest.Endpoint(t)
	hermeticAWS(t)
	client := dynamotest.Client(t)
	table := dynamotest.NewTable(t, client)
	return &harness{t: t, client: client, table: table, env: map[string]string{
		envTable:    table,
		envEndpoint: endpoint,
	}}
}

// with returns a copy of the harness's environment with changes; an empty
// value removes a variable.
func (h *harness) with(kv ...string) map[string]string {
	env := make(map[string]string, len(h.env))
	for k, v := range h.env {
		env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(env, kv[i])
		} else {
			env[kv[i]] = kv[i+1]
		}
	}
	return env
}

type result struct {
	code        int
	out, errOut string
}

// run runs the CLI in-process and checks that no secret reached its output.
func (h *harness) run(env map[string]string, stdin string, args ...string) result {
	h.t.Helper()
	return h.runCtx(context.Background(), env, stdin, nil, args...)
}

func (h *harness) runCtx(ctx context.Context, env map[string]string, stdin string, stderr io.Writer, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	var ew io.Writer = &errOut
	if stderr != nil {
		ew = io.MultiWriter(&errOut, stderr)
	}
	code := run(ctx, args, strings.NewReader(stdin), &out, ew, func(k string) string { return env[k] })
	r := result{code: code, out: out.String(), errOut: errOut.String()}
	shown := strings.Join(args, " ") // a -store URL may hold a password: never logged
	for _, sec := range h.secrets {
		if sec != "" {
			shown = strings.ReplaceAll(shown, sec, "xxxxx")
		}
	}
	h.t.Logf("installvault %s → exit %d\n%s%s", shown, code, r.out, r.errOut)
	h.noSecret(r.out, args)
	h.noSecret(r.errOut, args)
	return r
}

// noSecret fails the test if s holds a secret of the test.
func (h *harness) noSecret(s string, context ...any) {
	h.t.Helper()
	if m := findSecret(s, h.secrets); m != "" {
		h.t.Fatalf("output of %v holds a secret (%q...):\n%s", context, m[:min(len(m), 8)], s)
	}
}

// findSecret returns the first secret marker or secret that s contains.
func findSecret(s string, secrets []string) string {
	for _, m := range append(append([]string(nil), secretMarkers...), secrets...) {
		if m != "" && strings.Contains(s, m) {
			return m
		}
	}
	return ""
}

// seed stores insts through the encryption layer with keys and remembers
// their secrets.
func (h *harness) seed(keys crypto.KeyProvider, insts ...*installstore.Installation) {
	h.t.Helper()
	raw, err := dynamo.New(h.client, h.table)
	require.NoError(h.t, err)
	s, err := crypto.NewStore(raw, keys)
	require.NoError(h.t, err)
	for _, inst := range insts {
		h.remember(inst)
		require.NoError(h.t, s.StoreInstallation(context.Background(), inst.Clone()))
	}
}

func (h *harness) remember(inst *installstore.Installation) {
	_ = inst.Secrets(func(_ string, s *installstore.Secret) error {
		h.secrets = append(h.secrets, s.Reveal())
		return nil
	})
}

// fixtures are 9 records of 4 tenants: T1 (latest, U1, U2), E1/T2 (latest,
// U3), the org-wide E1 (org-wide) (latest, U4), T3 (latest, U5); by key
// :T1, E1:T2, E1:, :T3.
func fixtures() []*installstore.Installation {
	return []*installstore.Installation{
		storetest.Fixture("", "T1", "U1", "a"),
		storetest.Fixture("", "T1", "U2", "b"),
		storetest.Fixture("E1", "T2", "U3", "c"),
		storetest.OrgFixture("E1", "U4", "d"),
		storetest.Fixture("", "T3", "U5", "e"),
	}
}

// localKey returns a random 32-byte key, base64, remembered as a secret.
func (h *harness) localKey() ([]byte, string) {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	s := base64.StdEncoding.EncodeToString(k)
	h.secrets = append(h.secrets, s)
	return k, s
}

// rawRecords lists a table below the encryption layer, by query.
func rawRecords(t *testing.T, client *dynamodb.Client, table string) map[installstore.Query]*installstore.Installation {
	t.Helper()
	raw, err := dynamo.New(client, table)
	require.NoError(t, err)
	recs := make(map[installstore.Query]*installstore.Installation)
	require.NoError(t, raw.ListInstallations(context.Background(), func(q installstore.Query, inst *installstore.Installation) error {
		recs[q] = inst
		return nil
	}))
	return recs
}
