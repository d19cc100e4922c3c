package dynamo

import (
	"strings"

	"github.com/installvault/installvault/installstore"
)

// pkApp starts the partition key of every item of a store scoped to a
// Slack app ([WithClientID]): "A#<client ID>#" then the unscoped key.
// Unscoped keys start with "T#", "NONCE#" or "LEASE#", never "A#", and a
// client ID holds no '#', so no key of one scope is a key of another, and
// no scope's keys start with another scope's prefix.
const pkApp = "A#"

// scope is the prefix of every partition key (and due index shard key) of
// a store: "" for an unscoped store, "A#<client ID>#" for one app's.
type scope string

func appScope(clientID string) scope {
	if clientID == "" {
		return ""
	}
	return scope(pkApp + clientID + "#")
}

// pk returns the partition key of tenant t's items.
func (sc scope) pk(t installstore.Tenant) string { return string(sc) + pkTenant + t.Key() }

// key returns the key of tenant t's item with sort key sk.
func (sc scope) key(t installstore.Tenant, sk string) map[string]av {
	return map[string]av{attrPK: sAV(sc.pk(t)), attrSK: sAV(sk)}
}

// tenants is the prefix of the partition keys of every tenant of the scope.
func (sc scope) tenants() string { return string(sc) + pkTenant }

// parse is the inverse of pk: the tenant a partition key of this scope
// names. It refuses keys of other scopes and IDs that a valid Query could
// not name.
func (sc scope) parse(pk string) (installstore.Tenant, bool) {
	rest, ok := strings.CutPrefix(pk, string(sc))
	if !ok {
		return installstore.Tenant{}, false
	}
	return parseTenantPK(rest)
}

// scopeOf returns the scope prefix of partition key pk ("" when unscoped).
func scopeOf(pk string) scope {
	rest, ok := strings.CutPrefix(pk, pkApp)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "#")
	if !ok || installstore.CheckClientID(id) != nil {
		return ""
	}
	return appScope(id)
}

// shard returns the due index shard key of shard i of the scope.
func (sc scope) shard(i uint32) string { return string(sc) + shardName(i) }
