package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/installvault/installvault/installstore"
)

// maxTenantKeysFile bounds the tenant-keys file (a million tenants fit).
const maxTenantKeysFile = 256 << 20

// parseTenantKeys parses the per-tenant KMS keys of apps that use
// crypto.WithTenantKey: a JSON object from tenant ("ENTERPRISE:TEAM" as
// installstore.Tenant.Key prints it: ":T1", "E1:T2", "E1:" for an org-wide
// install) to a KMS key ID, ARN or alias.
func parseTenantKeys(data []byte) (map[installstore.Tenant]string, error) {
	if len(data) > maxTenantKeysFile {
		return nil, errors.New("file too large")
	}
	var raw map[string]string
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of tenant to key: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if raw == nil {
		return nil, errors.New("not a JSON object of tenant to key")
	}
	keys := make(map[installstore.Tenant]string, len(raw))
	for s, key := range raw {
		t, err := parseTenant(s)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("tenant %q: empty key", s)
		}
		keys[t] = key
	}
	return keys, nil
}

// parseTenant parses "ENTERPRISE:TEAM" and validates the IDs.
func parseTenant(s string) (installstore.Tenant, error) {
	ent, team, ok := strings.Cut(s, ":")
	if !ok {
		return installstore.Tenant{}, fmt.Errorf("tenant %q: want ENTERPRISE:TEAM, e.g. \":T123\", \"E1:T2\", \"E1:\"", s)
	}
	q := installstore.Query{EnterpriseID: ent, TeamID: team, IsEnterpriseInstall: team == ""}
	if err := q.Validate(); err != nil {
		return installstore.Tenant{}, fmt.Errorf("tenant %q: %w", s, err)
	}
	if q.Tenant().Key() != s {
		return installstore.Tenant{}, fmt.Errorf("tenant %q is not in canonical form", s)
	}
	return q.Tenant(), nil
}
