package storeurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/redisstore"
)

// Kind is a backend, named by a URL's scheme.
type Kind string

// The backends a store URL can name.
const (
	DynamoDB     Kind = "dynamodb"
	Postgres     Kind = "postgres"
	SQLite       Kind = "sqlite"
	Redis        Kind = "redis"
	RedisCluster Kind = "redis-cluster"
)

// Schemes lists the accepted forms, for usage texts.
const Schemes = "dynamodb:TABLE, postgres://..., sqlite:PATH, redis://HOST:PORT, redis-cluster://H1:P1,H2:P2"

// ErrNoSchema is wrapped (with [installstore.ErrInvalid]) by [URL.Open]
// without [Options.Create] when the PostgreSQL schema is missing or older
// than package postgres needs, or the SQLite file does not exist.
var ErrNoSchema = errors.New("the store has no schema yet")

// redactedPassword replaces a password in [URL.String] and in errors.
const redactedPassword = "xxxxx"

// URL is a parsed store URL. Its String form has the password redacted.
type URL struct {
	// Kind is the backend.
	Kind Kind
	// Table is a DynamoDB table's name.
	Table string
	// Path is a SQLite file's path.
	Path string
	// Prefix is the Redis key prefix (redisstore.WithKeyPrefix;
	// redisstore.DefaultKeyPrefix when the URL has none).
	Prefix string

	raw      string   // what the backend's parser gets (no prefix parameter)
	redacted string   // the URL without its password
	secrets  []string // the password, raw and decoded: scrubbed from errors
}

// String returns the URL with any password replaced by "xxxxx".
func (u *URL) String() string { return u.redacted }

// Parse checks s and returns the URL it names. It does no I/O. Errors wrap
// [installstore.ErrInvalid] and never quote a password.
func Parse(s string) (*URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, invalid("", "empty store URL (want one of %s)", Schemes)
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return nil, invalid("", "no scheme (want one of %s)", Schemes)
	}
	scheme := strings.ToLower(s[:i])
	rest := s[i+1:]
	switch scheme {
	case "dynamodb":
		return parseDynamo(strings.TrimPrefix(rest, "//"))
	case "sqlite", "sqlite3":
		return parseSQLite(strings.TrimPrefix(rest, "//"))
	case "postgres", "postgresql":
		return parseServer(Postgres, scheme, s)
	case "redis", "rediss":
		return parseServer(Redis, scheme, s)
	case "redis-cluster", "rediss-cluster":
		return parseCluster(scheme, rest)
	}
	if !plainWord(scheme) { // it could be anything, even a password: do not quote it
		scheme = "?"
	}
	return nil, invalid("", "unknown scheme %q (want one of %s)", scheme, Schemes)
}

func parseDynamo(table string) (*URL, error) {
	u := &URL{Kind: DynamoDB, Table: table, raw: table, redacted: "dynamodb:" + table}
	if table == "" || len(table) > 255 || !tableName(table) {
		return nil, invalid("dynamodb:", "a DynamoDB table name is letters, digits, '_', '-' or '.' (at most 255)")
	}
	return u, nil
}

func parseSQLite(path string) (*URL, error) {
	switch {
	case path == "":
		return nil, invalid("sqlite:", "no file: want sqlite:PATH, e.g. sqlite:installs.db")
	case path == ":memory:" || strings.ContainsAny(path, "?\x00"):
		return nil, invalid("sqlite:", "want a plain file path (no '?' options, not :memory:)")
	}
	return &URL{Kind: SQLite, Path: path, raw: path, redacted: "sqlite:" + path}, nil
}

// parseServer parses a postgres:// or redis:// URL with net/url.
func parseServer(kind Kind, scheme, s string) (*URL, error) {
	pu, err := url.Parse(s)
	if err != nil {
		// url's errors quote the URL: say what to check instead.
		return nil, invalid(scheme+"://…", "not a valid URL (percent-encode special characters of the password)")
	}
	u := &URL{Kind: kind}
	if pw, ok := pu.User.Password(); ok && pw != "" {
		u.addSecret(pw)
		pu.User = url.UserPassword(pu.User.Username(), redactedPassword)
	}
	q := pu.Query()
	for k, vs := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			for i, v := range vs {
				u.addSecret(v)
				vs[i] = redactedPassword
			}
		}
	}
	redacted := *pu
	redacted.RawQuery = q.Encode()
	u.redacted = redacted.String()
	if kind == Redis {
		u.Prefix = redisstore.DefaultKeyPrefix
		if q.Has("prefix") {
			u.Prefix = q.Get("prefix")
		}
	}
	if u.raw = s; kind == Redis { // go-redis refuses parameters it does not know
		orig, _ := url.Parse(s)
		oq := orig.Query()
		oq.Del("prefix")
		orig.RawQuery = oq.Encode()
		u.raw = orig.String()
	}
	if pu.Host == "" && kind == Redis {
		return nil, invalid(u.redacted, "no host: want %s://HOST:PORT", scheme)
	}
	if kind == Redis {
		if _, err := redisOptions(u); err != nil {
			return nil, err
		}
		if err := checkPrefix(u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// checkPrefix checks the key prefix with redisstore's own rules (New makes
// no call to Redis), so that a bad one fails before any I/O.
func checkPrefix(u *URL) error {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})
	defer c.Close()
	if _, err := redisstore.New(c, redisstore.WithKeyPrefix(u.Prefix)); err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, ": key prefix"); i >= 0 {
			msg = msg[i+2:]
		}
		return u.scrub(invalid(u.redacted, "%s", msg))
	}
	return nil
}

// parseCluster parses redis-cluster://[user:pass@]h1:p1,h2:p2[/?params]
// into the form go-redis's ParseClusterURL reads (redis://h1:p1?addr=h2:p2).
func parseCluster(scheme, rest string) (*URL, error) {
	if !strings.HasPrefix(rest, "//") {
		return nil, invalid(scheme+":", "want %s://HOST:PORT,HOST:PORT", scheme)
	}
	rest = rest[2:]
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	userinfo := ""
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		userinfo, rest = rest[:i], rest[i+1:]
	}
	rest = strings.TrimSuffix(rest, "/")
	hosts := strings.Split(rest, ",")
	base := "redis"
	if scheme == "rediss-cluster" {
		base = "rediss"
	}
	u := &URL{Kind: RedisCluster, Prefix: redisstore.DefaultKeyPrefix}
	var user *url.Userinfo
	if userinfo != "" {
		name, pw, hasPW := strings.Cut(userinfo, ":")
		dn, err1 := url.PathUnescape(name)
		dp, err2 := url.PathUnescape(pw)
		if hasPW {
			u.addSecret(pw)
			u.addSecret(dp)
		}
		if err1 != nil || err2 != nil {
			return nil, invalid(scheme+"://…", "not a valid URL (percent-encode special characters of the password)")
		}
		user = url.User(dn)
		if hasPW {
			user = url.UserPassword(dn, dp)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, invalid(scheme+"://…", "bad query parameters")
	}
	redactedQ := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if strings.Contains(strings.ToLower(k), "password") {
				u.addSecret(v)
				v = redactedPassword
			}
			redactedQ.Add(k, v)
		}
	}
	if q.Has("prefix") {
		u.Prefix = q.Get("prefix")
		q.Del("prefix")
		redactedQ.Del("prefix")
		redactedQ.Set("prefix", u.Prefix)
	}
	shownUser := ""
	if user != nil {
		shownUser = user.Username()
		if _, ok := user.Password(); ok {
			shownUser += ":" + redactedPassword
		}
		shownUser += "@"
	}
	u.redacted = scheme + "://" + shownUser + rest
	if len(redactedQ) > 0 {
		u.redacted += "?" + redactedQ.Encode()
	}
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/@") {
			return nil, invalid(u.redacted, "want %s://HOST:PORT,HOST:PORT", scheme)
		}
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	ru := url.URL{Scheme: base, User: user, Host: hosts[0], RawQuery: q.Encode()}
	u.raw = ru.String()
	if _, err := clusterOptions(u); err != nil {
		return nil, err
	}
	if err := checkPrefix(u); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *URL) addSecret(s string) {
	if s == "" {
		return
	}
	u.secrets = append(u.secrets, s)
	if d, err := url.QueryUnescape(s); err == nil && d != s {
		u.secrets = append(u.secrets, d)
	}
	if d, err := url.PathUnescape(s); err == nil && d != s {
		u.secrets = append(u.secrets, d)
	}
	if e := url.QueryEscape(s); e != s {
		u.secrets = append(u.secrets, e)
	}
}

// invalid returns an error wrapping installstore.ErrInvalid about the store
// URL shown (already redacted).
func invalid(shown, format string, args ...any) error {
	if shown != "" {
		shown = " " + shown
	}
	return fmt.Errorf("store URL%s: %w: %s", shown, installstore.ErrInvalid, fmt.Sprintf(format, args...))
}

func plainWord(s string) bool {
	if len(s) > 20 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '+' || r == '.') {
			return false
		}
	}
	return true
}

func tableName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
