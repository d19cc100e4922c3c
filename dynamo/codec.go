package dynamo

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/installstore"
)

// ErrMalformedItem is wrapped by every error about an item that does not
// decode: a missing attribute, a wrong type, an unparsable number or time, a
// key that names no tenant, or a record whose tenant or user is not the one
// its key names. It wraps [installstore.ErrCorrupt]. Its messages name the
// attribute, never its value.
var ErrMalformedItem error = &classed{"malformed item", installstore.ErrCorrupt}

// Attribute names. See the package documentation for the schema.
const (
	attrPK      = "PK"
	attrSK      = "SK"
	attrVersion = "v"
	attrRecord  = "rec"
	attrBot     = "bot"
	attrExpMs   = "exp"
	attrTTL     = "ttl"
	attrOwner   = "owner"
	attrDue     = "due"      // N, Unix ms: when the item's earliest rotating token expires
	attrShard   = "dueShard" // S, "DUE#nn": the due index's partition
	attrTomb    = "tomb"     // BOOL: a deleted tenant's LATEST item while its items are swept
	attrKeep    = "keepHist" // BOOL: on a tombstone, its sweep keeps the history (a Grid migration)
	attrHistVer = "hv"       // N: a history entry's Version, when not its v

	skLatest = "LATEST"
	skUser   = "USER#"
	skNonce  = "NONCE"
	skLease  = "LEASE"
	skHist   = "H#" // H#<install time>#<user ID>: a history entry

	pkTenant = "T#"
	pkNonce  = "NONCE#"
	pkLease  = "LEASE#"

	// dueIndex is the sparse global secondary index on (dueShard, due).
	dueIndex = "due"
	// dueShards spreads the due index over this many partitions.
	dueShards = 16
)

// dueShard returns the due index partition of the items of partition pk:
// "DUE#00" to "DUE#15", by an FNV-1a hash of pk, so that no index partition
// is hot however many tenants expire at once.
//
// The items of a store scoped to an app have that app's shards:
// "A#<client ID>#DUE#00" and so on.
func dueShard(pk string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(pk))
	return scopeOf(pk).shard(h.Sum32() % dueShards)
}

// shardName is the unscoped name of due index shard i.
func shardName(i uint32) string { return fmt.Sprintf("DUE#%02d", i) }

// putDue sets the due index attributes of an item written whole (a Put)
// with key pk, when at is not zero.
func putDue(item map[string]av, pk string, at time.Time) {
	if !at.IsZero() {
		item[attrDue] = nAV(at.UnixMilli())
		item[attrShard] = sAV(dueShard(pk))
	}
}

type av = types.AttributeValue

func sAV(s string) av        { return &types.AttributeValueMemberS{Value: s} }
func nAV(n int64) av         { return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)} }
func mAV(m map[string]av) av { return &types.AttributeValueMemberM{Value: m} }

func putS(m map[string]av, name, v string) {
	if v != "" {
		m[name] = sAV(v)
	}
}

func putTime(m map[string]av, name string, t time.Time) {
	if !t.IsZero() {
		m[name] = sAV(t.UTC().Format(time.RFC3339Nano))
	}
}

func putList(m map[string]av, name string, l []string) {
	if len(l) == 0 {
		return
	}
	out := make([]av, len(l))
	for i, s := range l {
		out[i] = sAV(s)
	}
	m[name] = &types.AttributeValueMemberL{Value: out}
}

// encodeRecord encodes an installation without its bot and version: the
// "rec" map of a tenant's LATEST item and of a USER# item.
func encodeRecord(inst *installstore.Installation) av {
	m := map[string]av{}
	putS(m, "app", inst.AppID)
	putS(m, "ent", inst.EnterpriseID)
	putS(m, "entName", inst.EnterpriseName)
	putS(m, "entURL", inst.EnterpriseURL)
	putS(m, "team", inst.TeamID)
	putS(m, "teamName", inst.TeamName)
	if inst.IsEnterpriseInstall {
		m["org"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	putS(m, "tokType", inst.TokenType)
	putTime(m, "at", inst.InstalledAt)
	u := map[string]av{}
	putS(u, "id", inst.User.ID)
	putS(u, "tok", inst.User.Token.Reveal())
	putS(u, "rtok", inst.User.RefreshToken.Reveal())
	putTime(u, "exp", inst.User.ExpiresAt)
	putList(u, "scopes", inst.User.Scopes)
	if len(u) > 0 {
		m["user"] = mAV(u)
	}
	if w := inst.IncomingWebhook; w != nil {
		h := map[string]av{}
		putS(h, "url", w.URL.Reveal())
		putS(h, "ch", w.Channel)
		putS(h, "chID", w.ChannelID)
		putS(h, "cfg", w.ConfigurationURL)
		m["hook"] = mAV(h)
	}
	return mAV(m)
}

// encodeBot encodes a bot as the "bot" map of a LATEST item.
func encodeBot(b *installstore.Bot) av {
	m := map[string]av{}
	putS(m, "id", b.ID)
	putS(m, "uid", b.UserID)
	putS(m, "tok", b.Token.Reveal())
	putS(m, "rtok", b.RefreshToken.Reveal())
	putTime(m, "exp", b.ExpiresAt)
	putList(m, "scopes", b.Scopes)
	putTime(m, "at", b.InstalledAt)
	return mAV(m)
}

// dec reads attributes of one map, remembering the first error. Messages
// carry the attribute's path and the types involved, never a value.
type dec struct {
	path string
	m    map[string]av
	err  *error
}

func (d dec) fail(name, format string, args ...any) {
	if *d.err == nil {
		*d.err = fmt.Errorf("%w: attribute %s%s: %s", ErrMalformedItem, d.path, name, fmt.Sprintf(format, args...))
	}
}

func typeName(v av) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case nil:
		return "nil"
	default:
		return "unknown"
	}
}

func (d dec) s(name string) string {
	v, ok := d.m[name]
	if !ok {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(name, "want S, got %s", typeName(v))
		return ""
	}
	return s.Value
}

func (d dec) requireS(name string) string {
	if _, ok := d.m[name]; !ok {
		d.fail(name, "missing")
	}
	return d.s(name)
}

func (d dec) n(name string) (int64, bool) {
	v, ok := d.m[name]
	if !ok {
		return 0, false
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(name, "want N, got %s", typeName(v))
		return 0, false
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		d.fail(name, "not an int64")
		return 0, false
	}
	return i, true
}

func (d dec) requireN(name string) int64 {
	i, ok := d.n(name)
	if !ok {
		d.fail(name, "missing")
	}
	return i
}

func (d dec) b(name string) bool {
	v, ok := d.m[name]
	if !ok {
		return false
	}
	b, ok := v.(*types.AttributeValueMemberBOOL)
	if !ok {
		d.fail(name, "want BOOL, got %s", typeName(v))
		return false
	}
	return b.Value
}

func (d dec) time(name string) time.Time {
	s := d.s(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(name, "not an RFC 3339 time")
		return time.Time{}
	}
	return t
}

func (d dec) list(name string) []string {
	v, ok := d.m[name]
	if !ok {
		return nil
	}
	l, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		d.fail(name, "want L, got %s", typeName(v))
		return nil
	}
	if len(l.Value) == 0 {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for i, e := range l.Value {
		s, ok := e.(*types.AttributeValueMemberS)
		if !ok {
			d.fail(fmt.Sprintf("%s[%d]", name, i), "want S, got %s", typeName(e))
			return nil
		}
		out = append(out, s.Value)
	}
	return out
}

// sub returns a decoder of the map attribute name, and whether it exists.
func (d dec) sub(name string) (dec, bool) {
	out := dec{path: d.path + name + ".", m: map[string]av{}, err: d.err}
	v, ok := d.m[name]
	if !ok {
		return out, false
	}
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		d.fail(name, "want M, got %s", typeName(v))
		return out, false
	}
	if m.Value != nil {
		out.m = m.Value
	}
	return out, true
}

func decodeRecord(r dec) *installstore.Installation {
	inst := &installstore.Installation{
		AppID:               r.s("app"),
		EnterpriseID:        r.s("ent"),
		EnterpriseName:      r.s("entName"),
		EnterpriseURL:       r.s("entURL"),
		TeamID:              r.s("team"),
		TeamName:            r.s("teamName"),
		IsEnterpriseInstall: r.b("org"),
		TokenType:           r.s("tokType"),
		InstalledAt:         r.time("at"),
	}
	if u, ok := r.sub("user"); ok {
		inst.User = installstore.User{
			ID:           u.s("id"),
			Token:        installstore.NewSecret(u.s("tok")),
			RefreshToken: installstore.NewSecret(u.s("rtok")),
			ExpiresAt:    u.time("exp"),
			Scopes:       u.list("scopes"),
		}
	}
	if h, ok := r.sub("hook"); ok {
		inst.IncomingWebhook = &installstore.IncomingWebhook{
			URL:              installstore.NewSecret(h.s("url")),
			Channel:          h.s("ch"),
			ChannelID:        h.s("chID"),
			ConfigurationURL: h.s("cfg"),
		}
	}
	return inst
}

func decodeBot(b dec) *installstore.Bot {
	return &installstore.Bot{
		ID:           b.s("id"),
		UserID:       b.s("uid"),
		Token:        installstore.NewSecret(b.s("tok")),
		RefreshToken: installstore.NewSecret(b.s("rtok")),
		ExpiresAt:    b.time("exp"),
		Scopes:       b.list("scopes"),
		InstalledAt:  b.time("at"),
	}
}

// latestItem is a decoded LATEST item.
type latestItem struct {
	rec     *installstore.Installation // Bot and Version unset; nil for a tombstone
	bot     *installstore.Bot
	version int64
	// tomb marks a deleted tenant whose other items are being swept: it
	// reads as absent, and keeps the tenant's version floor.
	tomb bool
	// keep marks a tombstone whose sweep keeps the tenant's history: the
	// standalone record a Grid migration superseded.
	keep bool
}

// install returns what a fetch returns: rec (or the latest record) with the
// tenant's bot and version.
func (l *latestItem) install(rec *installstore.Installation) *installstore.Installation {
	if rec == nil {
		rec = l.rec
	}
	out := rec.Clone()
	out.Bot = l.bot.Clone()
	out.Version = l.version
	return out
}

// refreshAt is when the LATEST item is due: the bot's and the latest
// record's user tokens.
func (l *latestItem) refreshAt() time.Time {
	if l.tomb {
		return time.Time{}
	}
	return l.install(nil).RefreshAt()
}

// decodeLatest decodes the LATEST item of tenant t of scope sc.
func (sc scope) decodeLatest(t installstore.Tenant, item map[string]av) (*latestItem, error) {
	var err error
	d := dec{m: item, err: &err}
	if pk := d.requireS(attrPK); err == nil && pk != sc.pk(t) {
		d.fail(attrPK, "not the tenant's key")
	}
	if sk := d.requireS(attrSK); err == nil && sk != skLatest {
		d.fail(attrSK, "not %s", skLatest)
	}
	l := &latestItem{version: d.requireN(attrVersion), tomb: d.b(attrTomb), keep: d.b(attrKeep)}
	if _, ok := item[attrTomb]; ok && !l.tomb {
		d.fail(attrTomb, "not true")
	}
	if l.tomb {
		if _, ok := item[attrRecord]; ok {
			d.fail(attrRecord, "present in a tombstone")
		}
	} else {
		r, ok := d.sub(attrRecord)
		if !ok {
			d.fail(attrRecord, "missing")
		}
		l.rec = decodeRecord(r)
		if b, ok := d.sub(attrBot); ok {
			l.bot = decodeBot(b)
			if l.bot.InstalledAt.IsZero() {
				// Written before bots had an install time of their own.
				l.bot.InstalledAt = l.rec.InstalledAt
			}
		}
		if err == nil && l.rec.Tenant() != t {
			d.fail(attrRecord, "holds a record of another tenant")
		}
	}
	if err == nil && l.version <= 0 {
		d.fail(attrVersion, "not positive")
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// decodeUser decodes the USER# item of user uid of tenant t of scope sc.
func (sc scope) decodeUser(t installstore.Tenant, uid string, item map[string]av) (*installstore.Installation, error) {
	var err error
	d := dec{m: item, err: &err}
	if pk := d.requireS(attrPK); err == nil && pk != sc.pk(t) {
		d.fail(attrPK, "not the tenant's key")
	}
	if sk := d.requireS(attrSK); err == nil && sk != userSK(uid) {
		d.fail(attrSK, "not the user's key")
	}
	r, ok := d.sub(attrRecord)
	if !ok {
		d.fail(attrRecord, "missing")
	}
	rec := decodeRecord(r)
	if _, ok := item[attrVersion]; ok {
		d.requireN(attrVersion)
	}
	if err == nil && (rec.Tenant() != t || rec.User.ID != uid) {
		d.fail(attrRecord, "holds a record of another tenant or user")
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func userSK(uid string) string { return skUser + uid }
