package main

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/storeurl"
	"github.com/installvault/installvault/oauth"
)

// Environment variables the app reads.
const (
	envClientID      = "SLACK_CLIENT_ID"
	envClientSecret  = "SLACK_CLIENT_SECRET"
	envSigningSecret = "SLACK_SIGNING_SECRET"
	envStateSecret   = "SLACK_STATE_SECRET"
	envScopes        = "SLACK_SCOPES"
	envUserScopes    = "SLACK_USER_SCOPES"
	envAdminScopes   = "SLACK_ADMIN_ONLY_SCOPES"
	envBaseURL       = "APP_BASE_URL"
	envSlackURL      = "SLACK_URL"
	envKMSKeyID      = "INSTALLVAULT_KMS_KEY_ID"
	envLocalKeys     = "INSTALLVAULT_LOCAL_KEYS"
	envLocalPrimary  = "INSTALLVAULT_LOCAL_PRIMARY"
	// envLocalKeyOld is the variable of earlier versions, refused with a
	// hint (INSTALLVAULT_LOCAL_KEYS is the one format, shared with the CLI).
	envLocalKeyOld    = "INSTALLVAULT_LOCAL_KEY"
	envStore          = "INSTALLVAULT_STORE"
	envDynamoTable    = "INSTALLVAULT_DYNAMODB_TABLE"
	envDynamoEndpoint = "INSTALLVAULT_DYNAMODB_ENDPOINT"
)

// defaultScopes are the bot scopes the app's one feature needs.
var defaultScopes = []string{"app_mentions:read", "chat:write"}

// config is the app's configuration, from the environment (or made up by
// -demo).
type config struct {
	ClientID      string
	ClientSecret  installstore.Secret
	SigningSecret installstore.Secret
	// StateSecret is nil when it should be generated per process.
	StateSecret installstore.Secret
	Scopes      []string
	UserScopes  []string
	// AdminOnlyScopes may only be granted by a workspace admin or owner
	// (oauth.Config.SensitiveScopes); users:read is then requested too.
	AdminOnlyScopes []string
	// BaseURL is the app's public URL, without a trailing slash.
	BaseURL string
	// SlackURL is the Slack the app talks to (OAuth pages and Web API),
	// without a trailing slash; empty for https://slack.com. One on
	// 127.0.0.1 can only be a stand-in (the end-to-end test in e2e/ runs
	// one): the pages then show its demo buttons.
	SlackURL string
	// KMSKeyID or LocalKeys choose the key provider; exactly one is set.
	// LocalKeys is a keyring spec (crypto.ParseLocalKeys), LocalPrimary
	// the name of its sealing key when it has several.
	KMSKeyID     string
	LocalKeys    installstore.Secret
	LocalPrimary string
	// Store is the backend INSTALLVAULT_STORE names other than DynamoDB
	// (postgres://, sqlite:, redis://, redis-cluster://); nil for DynamoDB
	// or memory. Its String form has the password redacted.
	Store *storeurl.URL
	// DynamoTable is the DynamoDB table (INSTALLVAULT_DYNAMODB_TABLE, or
	// INSTALLVAULT_STORE=dynamodb:TABLE); empty for another store or memory.
	DynamoTable    string
	DynamoEndpoint string
	// DynamoLocalCredentials: an endpoint is set and no AWS credentials
	// are in the environment, so placeholder ones are used (DynamoDB Local
	// accepts any).
	DynamoLocalCredentials bool
}

// loadConfig reads the configuration from getenv and reports every
// problem at once. Messages name variables, never their values.
func loadConfig(getenv func(string) string) (*config, error) {
	c := &config{
		ClientID:        strings.TrimSpace(getenv(envClientID)),
		ClientSecret:    installstore.NewSecret(getenv(envClientSecret)),
		SigningSecret:   installstore.NewSecret(getenv(envSigningSecret)),
		StateSecret:     installstore.NewSecret(getenv(envStateSecret)),
		Scopes:          splitList(getenv(envScopes)),
		UserScopes:      splitList(getenv(envUserScopes)),
		AdminOnlyScopes: splitList(getenv(envAdminScopes)),
		BaseURL:         strings.TrimRight(strings.TrimSpace(getenv(envBaseURL)), "/"),
		SlackURL:        strings.TrimRight(strings.TrimSpace(getenv(envSlackURL)), "/"),
		KMSKeyID:        strings.TrimSpace(getenv(envKMSKeyID)),
		LocalKeys:       installstore.NewSecret(strings.TrimSpace(getenv(envLocalKeys))),
		LocalPrimary:    strings.TrimSpace(getenv(envLocalPrimary)),
		DynamoTable:     strings.TrimSpace(getenv(envDynamoTable)),
		DynamoEndpoint:  strings.TrimSpace(getenv(envDynamoEndpoint)),
	}
	c.DynamoLocalCredentials = c.DynamoEndpoint != "" && getenv("AWS_ACCESS_KEY_ID") == "" && getenv("AWS_PROFILE") == ""
	if getenv(envScopes) == "" {
		c.Scopes = defaultScopes
	}
	c.Scopes = withUsersRead(c.Scopes, c.AdminOnlyScopes)
	var errs []error
	for name, empty := range map[string]bool{
		envClientID: c.ClientID == "", envClientSecret: c.ClientSecret.IsZero(),
		envSigningSecret: c.SigningSecret.IsZero(), envBaseURL: c.BaseURL == "",
	} {
		if empty {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.SlackURL != "" {
		if err := checkOrigin(envSlackURL, c.SlackURL, "https://slack.com"); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.StateSecret.IsZero() && len(c.StateSecret.Reveal()) < oauth.MinStateSecretLen {
		errs = append(errs, fmt.Errorf("%s must be at least %d bytes", envStateSecret, oauth.MinStateSecretLen))
	}
	switch {
	case getenv(envLocalKeyOld) != "":
		errs = append(errs, fmt.Errorf("%s is now %s, the installvault CLI's format (a bare key still works); "+
			"installations sealed by earlier versions of this app name their key %q: to keep reading them set %s=%s=<the same key>",
			envLocalKeyOld, envLocalKeys, legacyLocalKeyName, envLocalKeys, legacyLocalKeyName))
	case c.KMSKeyID != "" && !c.LocalKeys.IsZero():
		errs = append(errs, fmt.Errorf("set only one of %s and %s", envKMSKeyID, envLocalKeys))
	case c.KMSKeyID == "" && c.LocalKeys.IsZero():
		errs = append(errs, fmt.Errorf("%s or %s is required: tokens are never stored unencrypted", envKMSKeyID, envLocalKeys))
	case !c.LocalKeys.IsZero():
		if _, err := localKeyring(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.setStore(getenv(envStore)); err != nil {
		errs = append(errs, err)
	}
	if c.DynamoEndpoint != "" && c.DynamoTable == "" && c.Store == nil {
		errs = append(errs, fmt.Errorf("%s is set but %s is not", envDynamoEndpoint, envDynamoTable))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// setStore applies INSTALLVAULT_STORE, parsed by the CLI's parser: a
// dynamodb: URL sets DynamoTable, any other sets Store. With
// INSTALLVAULT_DYNAMODB_TABLE too, both must name the same table. Errors
// never quote a password of the URL.
func (c *config) setStore(spec string) error {
	if strings.TrimSpace(spec) == "" {
		return nil
	}
	u, err := storeurl.Parse(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", envStore, err)
	}
	switch {
	case u.Kind == storeurl.DynamoDB && (c.DynamoTable == "" || c.DynamoTable == u.Table):
		c.DynamoTable = u.Table
	case c.DynamoTable != "":
		return fmt.Errorf("%s and %s name different stores: set one", envStore, envDynamoTable)
	default:
		c.Store = u
	}
	return nil
}

// checkBaseURL accepts https URLs, and http on a loopback host (local
// experiments, the demo).
func checkBaseURL(s string) error { return checkOrigin(envBaseURL, s, "https://app.example.com") }

// checkOrigin checks the URL s of variable name as checkBaseURL does;
// example is a valid value for the message.
func checkOrigin(name, s, example string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("%s must be an absolute URL without path or query, like %s", name, example)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil
	}
	return fmt.Errorf("%s must be https (http only on 127.0.0.1 or localhost)", name)
}

// slackStandIn reports whether the configured Slack is a stand-in on this
// machine.
func (c *config) slackStandIn() bool {
	u, err := url.Parse(c.SlackURL)
	return c.SlackURL != "" && err == nil && isLoopback(u.Hostname())
}

// legacyLocalKeyName is the key name earlier versions of the app sealed
// with (INSTALLVAULT_LOCAL_KEY).
const legacyLocalKeyName = "local-1"

// localKeyring parses INSTALLVAULT_LOCAL_KEYS with crypto's one parser
// (the CLI's): "name=KEY,..." or one bare key, 32 bytes in base64 or hex.
// Its errors never quote the value.
func localKeyring(c *config) (crypto.KeyProvider, error) {
	k, err := crypto.ParseLocalKeyring(c.LocalKeys.Reveal(), c.LocalPrimary)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (make a key with: openssl rand -base64 32; several keys need %s)", envLocalKeys, err, envLocalPrimary)
	}
	return k, nil
}

// withUsersRead adds users:read to scopes when admin-only scopes are set:
// the installer is looked up with users.info.
func withUsersRead(scopes, adminOnly []string) []string {
	if len(adminOnly) == 0 || slices.Contains(scopes, "users:read") {
		return scopes
	}
	return append(slices.Clone(scopes), "users:read")
}

// splitList splits a comma- or space-separated list.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, p)
	}
	return out
}

// isLoopback reports whether host is 127.0.0.1, ::1 or localhost.
func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}
