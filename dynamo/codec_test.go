package dynamo

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/installstore"
)

// unscoped is the scope of a store without WithClientID.
const unscoped scope = ""

var codecTenant = installstore.Tenant{EnterpriseID: "E1", TeamID: "T1"}

func codecInst() *installstore.Installation {
	return &installstore.Installation{
		AppID: "A1", EnterpriseID: "E1", EnterpriseName: "Ent", EnterpriseURL: "https://e.invalid/",
		TeamID: "T1", TeamName: "Team",
		Bot: &installstore.Bot{ID: "B1", UserID: "UB1", Token: installstore.NewSecret("ivsealed:bot"), RefreshToken: installstore.NewSecret("ivsealed:botr"),
			ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), Scopes: []string{"a", "b"},
			InstalledAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
		User:            installstore.User{ID: "U1", Token: installstore.NewSecret("ivsealed:user"), ExpiresAt: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), Scopes: []string{"c"}},
		IncomingWebhook: &installstore.IncomingWebhook{URL: installstore.NewSecret("ivsealed:hook"), Channel: "#c", ChannelID: "C1"},
		TokenType:       "bot",
		InstalledAt:     time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC),
	}
}

func latestRaw(inst *installstore.Installation, v int64) map[string]av {
	item := unscoped.key(inst.Tenant(), skLatest)
	item[attrVersion] = nAV(v)
	item[attrRecord] = encodeRecord(inst)
	if inst.Bot != nil {
		item[attrBot] = encodeBot(inst.Bot)
	}
	return item
}

func TestCodecRoundTrip(t *testing.T) {
	inst := codecInst()
	l, err := unscoped.decodeLatest(codecTenant, latestRaw(inst, 42))
	require.NoError(t, err)
	got := l.install(nil)
	require.Equal(t, int64(42), got.Version)
	inst.Version = 42
	require.Equal(t, inst, got)

	u, err := unscoped.decodeUser(codecTenant, "U1", unscoped.userItem(codecTenant, "U1", encodeRecord(inst), 7))
	require.NoError(t, err)
	require.Equal(t, "U1", u.User.ID)
	require.Nil(t, u.Bot)
}

// with returns a copy of item with rec's (or item's) attribute path set to v
// (deleted when v is nil).
func with(item map[string]av, v av, path ...string) map[string]av {
	out := make(map[string]av, len(item))
	for k, x := range item {
		out[k] = x
	}
	if len(path) == 1 {
		if v == nil {
			delete(out, path[0])
		} else {
			out[path[0]] = v
		}
		return out
	}
	sub, ok := out[path[0]].(*types.AttributeValueMemberM)
	if !ok {
		sub = &types.AttributeValueMemberM{Value: map[string]av{}}
	}
	out[path[0]] = &types.AttributeValueMemberM{Value: with(sub.Value, v, path[1:]...)}
	return out
}

func TestDecodeMalformed(t *testing.T) {
	good := latestRaw(codecInst(), 7)
	secretN := &types.AttributeValueMemberN{Value: "1"}
	cases := map[string]struct {
		item map[string]av
		want string
	}{
		"no version":         {with(good, nil, attrVersion), "attribute v: missing"},
		"version as S":       {with(good, sAV("7"), attrVersion), "attribute v: want N, got S"},
		"version not int":    {with(good, &types.AttributeValueMemberN{Value: "1e99"}, attrVersion), "attribute v: not an int64"},
		"version zero":       {with(good, nAV(0), attrVersion), "attribute v: not positive"},
		"no rec":             {with(good, nil, attrRecord), "attribute rec: missing"},
		"rec as L":           {with(good, &types.AttributeValueMemberL{}, attrRecord), "attribute rec: want M, got L"},
		"bot as S":           {with(good, sAV("xoxb-test-leak"), attrBot), "attribute bot: want M, got S"},
		"bot token as N":     {with(good, secretN, attrBot, "tok"), "attribute bot.tok: want S, got N"},
		"user token as B":    {with(good, &types.AttributeValueMemberB{Value: []byte("xoxp-test-leak")}, attrRecord, "user", "tok"), "attribute rec.user.tok: want S, got B"},
		"scopes as SS":       {with(good, &types.AttributeValueMemberSS{Value: []string{"x"}}, attrBot, "scopes"), "attribute bot.scopes: want L, got SS"},
		"scope as N":         {with(good, &types.AttributeValueMemberL{Value: []av{sAV("a"), secretN}}, attrBot, "scopes"), "attribute bot.scopes[1]: want S, got N"},
		"bad time":           {with(good, sAV("xoxb-test-leak"), attrRecord, "at"), "attribute rec.at: not an RFC 3339 time"},
		"org as S":           {with(good, sAV("true"), attrRecord, "org"), "attribute rec.org: want BOOL, got S"},
		"hook as NULL":       {with(good, &types.AttributeValueMemberNULL{Value: true}, attrRecord, "hook"), "attribute rec.hook: want M, got NULL"},
		"other tenant's rec": {with(good, sAV("T2"), attrRecord, "team"), "another tenant"},
		"other tenant's key": {with(good, sAV("T#E1:T2"), attrPK), "attribute PK: not the tenant's key"},
		"no PK":              {with(good, nil, attrPK), "attribute PK: missing"},
		"wrong SK":           {with(good, sAV("USER#U1"), attrSK), "attribute SK: not LATEST"},
	}
	cases["nil attribute value"] = struct {
		item map[string]av
		want string
	}{func() map[string]av { m := with(good, sAV(""), attrBot); m[attrBot] = nil; return m }(), "attribute bot: want M, got nil"}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := unscoped.decodeLatest(codecTenant, c.item)
			require.ErrorIs(t, err, ErrMalformedItem)
			require.ErrorContains(t, err, c.want)
			require.NotContains(t, err.Error(), "leak", "errors never carry values")
		})
	}

	user := unscoped.userItem(codecTenant, "U1", encodeRecord(codecInst()), 7)
	_, err := unscoped.decodeUser(codecTenant, "U2", user)
	require.ErrorIs(t, err, ErrMalformedItem, "the USER# key of another user")
	_, err = unscoped.decodeUser(codecTenant, "U1", with(user, sAV("U2"), attrRecord, "user", "id"))
	require.ErrorIs(t, err, ErrMalformedItem, "a record of another user")
	_, err = unscoped.decodeUser(codecTenant, "U1", with(user, nil, attrRecord))
	require.ErrorIs(t, err, ErrMalformedItem)
}

func TestParseTenantPK(t *testing.T) {
	for _, tn := range []installstore.Tenant{{TeamID: "T1"}, {EnterpriseID: "E1"}, {EnterpriseID: "E1", TeamID: "T1"}} {
		got, ok := parseTenantPK(unscoped.pk(tn))
		require.True(t, ok)
		require.Equal(t, tn, got)
	}
	for _, bad := range []string{"", "T#", "T#:", "T#E1", "NONCE#x", "T#E1:T1:x", "X#E1:T1"} {
		_, ok := parseTenantPK(bad)
		require.False(t, ok, bad)
	}
}

// fuzzItem builds an attribute map from fuzz input: each step picks a path
// among the decoder's attributes and a value of any type.
func fuzzItem(data []byte) map[string]av {
	paths := [][]string{
		{attrPK}, {attrSK}, {attrVersion}, {attrRecord}, {attrBot},
		{attrRecord, "team"}, {attrRecord, "ent"}, {attrRecord, "org"}, {attrRecord, "at"},
		{attrRecord, "user"}, {attrRecord, "user", "id"}, {attrRecord, "user", "tok"},
		{attrRecord, "user", "scopes"}, {attrRecord, "user", "exp"}, {attrRecord, "hook"},
		{attrRecord, "hook", "url"}, {attrBot, "tok"}, {attrBot, "scopes"}, {attrBot, "exp"},
	}
	item := latestRaw(&installstore.Installation{EnterpriseID: "E1", TeamID: "T1"}, 1)
	for len(data) >= 3 {
		p := paths[int(data[0])%len(paths)]
		kind, n := data[1]%9, int(data[2])
		data = data[3:]
		s := string(data[:min(n%16, len(data))])
		data = data[min(n%16, len(data)):]
		var v av
		switch kind {
		case 0:
			v = nil
		case 1:
			v = sAV(s)
		case 2:
			v = &types.AttributeValueMemberN{Value: s}
		case 3:
			v = &types.AttributeValueMemberBOOL{Value: n%2 == 0}
		case 4:
			v = &types.AttributeValueMemberM{}
		case 5:
			v = &types.AttributeValueMemberL{Value: []av{sAV(s), nil, &types.AttributeValueMemberN{Value: s}}[:n%4]}
		case 6:
			v = &types.AttributeValueMemberB{Value: []byte(s)}
		case 7:
			v = &types.AttributeValueMemberSS{Value: []string{s}}
		case 8:
			v = &types.AttributeValueMemberNULL{Value: true}
		}
		item = with(item, v, p...)
	}
	return item
}

func FuzzDecodeItem(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 2, 3, '1', '2', '3'})
	f.Add([]byte{9, 5, 2, 'x', 'y', 16, 2, 1, '9'})
	f.Add([]byte{3, 4, 0, 5, 1, 2, 'T', '9'})
	f.Fuzz(func(t *testing.T, data []byte) {
		item := fuzzItem(data)
		if _, err := unscoped.decodeHistory(codecTenant, codecInst().InstalledAt, "U1", item); err != nil && !errors.Is(err, ErrMalformedItem) {
			t.Fatalf("history: error does not wrap ErrMalformedItem: %v", err)
		}
		l, err := unscoped.decodeLatest(codecTenant, item)
		if err != nil {
			if !errors.Is(err, ErrMalformedItem) {
				t.Fatalf("error does not wrap ErrMalformedItem: %v", err)
			}
			return
		}
		if l.tomb {
			return
		}
		// What decodes re-encodes to an item that decodes to the same.
		got := l.install(nil)
		again, err := unscoped.decodeLatest(codecTenant, latestRaw(got, l.version))
		require.NoError(t, err)
		require.Equal(t, got, again.install(nil))
		_, _ = unscoped.decodeUser(codecTenant, "U1", item)
	})
}

func FuzzRecordRoundTrip(f *testing.F) {
	f.Add("A1", "Team", "U1", "ivsealed:x", "chat:write", int64(1700000000123456789))
	f.Add("", "", "", "", "", int64(0))
	f.Fuzz(func(t *testing.T, app, name, uid, tok, scope string, nanos int64) {
		inst := codecInst()
		inst.AppID, inst.TeamName, inst.User.ID, inst.User.Scopes = app, name, uid, []string{scope}
		inst.User.Token = installstore.NewSecret(tok)
		inst.InstalledAt = time.Unix(0, nanos).UTC()
		l, err := unscoped.decodeLatest(codecTenant, latestRaw(inst, 5))
		require.NoError(t, err)
		got := l.install(nil)
		inst.Version = 5
		require.Equal(t, inst, got)
	})
}

// A bot written before bots had an install time of their own reads with
// the latest installation's, which is what the late-event check compared
// with before.
func TestLegacyBotInstalledAt(t *testing.T) {
	inst := codecInst()
	inst.Bot.InstalledAt = time.Time{}
	l, err := unscoped.decodeLatest(codecTenant, latestRaw(inst, 3))
	require.NoError(t, err)
	require.True(t, l.bot.InstalledAt.Equal(inst.InstalledAt))
}

func TestDueShard(t *testing.T) {
	seen := map[string]bool{}
	for i := range 200 {
		pk := unscoped.pk(installstore.Tenant{TeamID: "T" + strconv.Itoa(i)})
		sh := dueShard(pk)
		require.Equal(t, sh, dueShard(pk), "stable")
		require.Regexp(t, `^DUE#(0[0-9]|1[0-5])$`, sh)
		seen[sh] = true
	}
	require.Len(t, seen, dueShards)
}

func TestScopes(t *testing.T) {
	app := appScope("1234.5678")
	require.Equal(t, scope(""), appScope(""))
	tn := installstore.Tenant{EnterpriseID: "E1", TeamID: "T1"}
	require.Equal(t, "T#E1:T1", unscoped.pk(tn), "the unscoped layout of every release")
	require.Equal(t, "A#1234.5678#T#E1:T1", app.pk(tn))
	got, ok := app.parse(app.pk(tn))
	require.True(t, ok)
	require.Equal(t, tn, got)
	for _, pair := range [][2]scope{{app, unscoped}, {unscoped, app}, {app, appScope("1234.56789")}, {appScope("1234.567"), app}} {
		_, ok := pair[0].parse(pair[1].pk(tn))
		require.False(t, ok, "scope %q parses a key of scope %q", pair[0], pair[1])
	}
	require.Equal(t, app, scopeOf(app.pk(tn)))
	require.Equal(t, unscoped, scopeOf(unscoped.pk(tn)))
	require.Equal(t, unscoped, scopeOf("A#bad id#T#:T1"), "a malformed prefix is no scope")
	require.Regexp(t, `^A#1234\.5678#DUE#(0[0-9]|1[0-5])$`, dueShard(app.pk(tn)), "an app's due shards are its own")
	require.Regexp(t, `^DUE#`, dueShard(unscoped.pk(tn)))
	require.Equal(t, "A#1234.5678#NONCE#", app.nonceKey("n")[attrPK].(*types.AttributeValueMemberS).Value[:len("A#1234.5678#NONCE#")])
	require.Equal(t, "A#1234.5678#LEASE#refresh:T1", app.leaseKey("refresh:T1")[attrPK].(*types.AttributeValueMemberS).Value)
	require.Equal(t, "LEASE#refresh:T1", unscoped.leaseKey("refresh:T1")[attrPK].(*types.AttributeValueMemberS).Value)
}

func TestHistorySK(t *testing.T) {
	inst := codecInst()
	sk, err := historySK("store", inst)
	require.NoError(t, err)
	require.Equal(t, "H#2026-01-01T00:00:00.123456789Z#U1", sk)
	at, uid, ok := parseHistorySK(sk)
	require.True(t, ok)
	require.Equal(t, "U1", uid)
	require.True(t, at.Equal(inst.InstalledAt))
	inst.User.ID = ""
	inst.InstalledAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	sk, err = historySK("store", inst)
	require.NoError(t, err)
	require.Equal(t, "H#2025-12-31T23:00:00.000000000Z#", sk, "UTC, fixed width")
	_, uid, ok = parseHistorySK(sk)
	require.True(t, ok)
	require.Empty(t, uid)
	for _, bad := range []string{"H#", "H#2026-01-01T00:00:00Z#U1", "H#2026-13-01T00:00:00.000000000Z#U1", "H#2026-01-01T00:00:00.000000000ZU1", "H#2026-01-01T00:00:00.000000000Z#U:1", "LATEST"} {
		_, _, ok := parseHistorySK(bad)
		require.False(t, ok, bad)
	}
	inst.InstalledAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = historySK("store", inst)
	require.ErrorIs(t, err, installstore.ErrInvalid)

	// Round trip, and the checks against the key.
	inst = codecInst()
	inst.Version = 7
	sk, _ = historySK("store", inst)
	item := unscoped.historyItem(inst, sk, encodeRecord(inst), 7)
	require.NotContains(t, item, attrHistVer)
	at, uid, _ = parseHistorySK(sk)
	got, err := unscoped.decodeHistory(codecTenant, at, uid, item)
	require.NoError(t, err)
	require.Equal(t, inst, got)
	item = unscoped.historyItem(inst, sk, encodeRecord(inst), 3)
	got, err = unscoped.decodeHistory(codecTenant, at, uid, item)
	require.NoError(t, err)
	require.Equal(t, int64(7), got.Version, "hv holds the entry's Version when v does not")
	_, err = unscoped.decodeHistory(codecTenant, at, "U2", item)
	require.ErrorIs(t, err, ErrMalformedItem, "another user than the key's")
	_, err = unscoped.decodeHistory(codecTenant, at.Add(1), uid, item)
	require.ErrorIs(t, err, ErrMalformedItem, "another install time than the key's")
	_, err = appScope("1.2").decodeHistory(codecTenant, at, uid, item)
	require.ErrorIs(t, err, ErrMalformedItem, "another scope's key")
}
