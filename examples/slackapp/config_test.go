package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// env is a fake environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func validEnv() env {
	return env{
		envClientID:      "1000000000001.2000000000002",
		envClientSecret:  "client-secret-test-77e0a1",
		envSigningSecret: "signing-secret-test-3c1b9f",
		envBaseURL:       "https://app.example.com/",
		envLocalKeys:     base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
	}
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(validEnv().get)
	require.NoError(t, err)
	require.Equal(t, "https://app.example.com", c.BaseURL, "trailing slash trimmed")
	require.Equal(t, defaultScopes, c.Scopes)
	require.Empty(t, c.UserScopes)
	require.Empty(t, c.DynamoTable, "memory by default")
	require.True(t, c.StateSecret.IsZero())

	e := validEnv()
	e[envScopes] = "chat:write, commands"
	e[envUserScopes] = "search:read"
	e[envDynamoTable] = "installs"
	e[envDynamoEndpoint] = "http://127.0.0.1:8000"
	e[envStateSecret] = strings.Repeat("s", 32)
	c, err = loadConfig(e.get)
	require.NoError(t, err)
	require.Equal(t, []string{"chat:write", "commands"}, c.Scopes)
	require.Equal(t, []string{"search:read"}, c.UserScopes)
	require.True(t, c.DynamoLocalCredentials)

	e[envLocalKeys] = "old=" + hex.EncodeToString([]byte("fedcba9876543210fedcba9876543210")) + ",new=" + e[envLocalKeys]
	e[envLocalPrimary] = "new"
	c, err = loadConfig(e.get)
	require.NoError(t, err, "the CLI's keyring format, hex and base64")
	require.Equal(t, "new", c.LocalPrimary)

	e[envLocalKeys], e[envLocalPrimary] = "", ""
	e[envKMSKeyID] = "alias/installvault"
	e["AWS_PROFILE"] = "prod"
	c, err = loadConfig(e.get)
	require.NoError(t, err)
	require.Equal(t, "alias/installvault", c.KMSKeyID)
	require.False(t, c.DynamoLocalCredentials, "real credentials are used when configured")
}

func TestLoadConfigRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(env)
		want   string
	}{
		"nothing":           {func(e env) { clear(e) }, envClientID + " is required"},
		"no client secret":  {func(e env) { delete(e, envClientSecret) }, envClientSecret + " is required"},
		"no signing secret": {func(e env) { delete(e, envSigningSecret) }, envSigningSecret + " is required"},
		"no base URL":       {func(e env) { delete(e, envBaseURL) }, envBaseURL + " is required"},
		"http base URL":     {func(e env) { e[envBaseURL] = "http://app.example.com" }, "must be https"},
		"base URL path":     {func(e env) { e[envBaseURL] = "https://app.example.com/slack" }, "without path"},
		"no key":            {func(e env) { delete(e, envLocalKeys) }, "never stored unencrypted"},
		"two keys":          {func(e env) { e[envKMSKeyID] = "alias/k" }, "only one of"},
		"short key":         {func(e env) { e[envLocalKeys] = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")) }, envLocalKeys},
		"not base64":        {func(e env) { e[envLocalKeys] = "not base64!" }, envLocalKeys},
		"all-zero key":      {func(e env) { e[envLocalKeys] = base64.StdEncoding.EncodeToString(make([]byte, 32)) }, envLocalKeys},
		"no primary":        {func(e env) { e[envLocalKeys] = "a=" + e[envLocalKeys] + ",b=" + e[envLocalKeys] }, envLocalPrimary},
		"old variable": {func(e env) {
			e[envLocalKeyOld] = e[envLocalKeys]
			delete(e, envLocalKeys)
		}, "is now " + envLocalKeys},
		"short state":   {func(e env) { e[envStateSecret] = "short-state-secret" }, "at least 32 bytes"},
		"endpoint only": {func(e env) { e[envDynamoEndpoint] = "http://127.0.0.1:8000" }, envDynamoTable + " is not"},
	} {
		t.Run(name, func(t *testing.T) {
			e := validEnv()
			tc.change(e)
			_, err := loadConfig(e.get)
			require.ErrorContains(t, err, tc.want)
			for k, v := range e {
				if len(v) >= 8 && k != envBaseURL && k != envClientID && k != envDynamoEndpoint && k != envKMSKeyID {
					require.NotContains(t, err.Error(), v, "the error shows %s's value", k)
				}
			}
		})
	}
	// Every problem is reported at once.
	_, err := loadConfig(env{}.get)
	for _, v := range []string{envClientID, envClientSecret, envSigningSecret, envBaseURL, envLocalKeys} {
		require.ErrorContains(t, err, v)
	}
}

func TestCheckBaseURL(t *testing.T) {
	for _, ok := range []string{"https://a.example.com", "http://127.0.0.1:3000", "http://localhost:3000", "https://a.example.com/"} {
		require.NoError(t, checkBaseURL(ok), ok)
	}
	for _, bad := range []string{"", "a.example.com", "ftp://a.example.com", "http://10.0.0.1", "https://a.example.com/x", "https://a.example.com?x=1", "http://[::1"} {
		require.Error(t, checkBaseURL(bad), bad)
	}
}

func TestSlackURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		standIn bool
	}{
		{"https://slack.com", false},
		{"https://slack.example.com/", false},
		{"http://127.0.0.1:8081", true},
		{"http://localhost:8081", true},
	} {
		e := validEnv()
		e[envSlackURL] = tc.url
		c, err := loadConfig(e.get)
		require.NoError(t, err, tc.url)
		require.Equal(t, tc.standIn, c.slackStandIn(), tc.url)
		require.NotEqual(t, '/', c.SlackURL[len(c.SlackURL)-1], "a trailing slash is dropped")
	}
	for _, bad := range []string{"http://slack.example.com", "https://slack.com/api", "https://slack.com?x=1", "ftp://slack.com", "slack.com"} {
		e := validEnv()
		e[envSlackURL] = bad
		_, err := loadConfig(e.get)
		require.ErrorContains(t, err, envSlackURL, bad)
	}
	c, err := loadConfig(validEnv().get)
	require.NoError(t, err)
	require.False(t, c.slackStandIn(), "no SLACK_URL: slack.com")
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "localhost:0", "[::]:0", "nonsense"} {
		_, err := listenLoopback(addr)
		require.ErrorContains(t, err, "only 127.0.0.1", addr)
	}
	ln, err := listenLoopback("127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
}

// A missing variable is reported by name, and nothing is started.
func Example_missingConfiguration() {
	_, err := loadConfig(func(k string) string {
		return map[string]string{
			envClientID:      "1000000000001.2000000000002",
			envClientSecret:  "client-secret-test-77e0a1",
			envSigningSecret: "signing-secret-test-3c1b9f",
			envBaseURL:       "https://app.example.com",
		}[k]
	})
	fmt.Println(err)
	// Output:
	// configuration: INSTALLVAULT_KMS_KEY_ID or INSTALLVAULT_LOCAL_KEYS is required: tokens are never stored unencrypted
}
