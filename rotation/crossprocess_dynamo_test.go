package rotation

import (
	"os"
	"testing"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/dynamo/dynamotest"
	"github.com/installvault/installvault/installstore"
)

// The production stack shared by the replicas: crypto.NewStore over one
// DynamoDB Local table. Needs INSTALLVAULT_DYNAMODB_ENDPOINT (see
// dynamotest): without it the test fails with instructions, or skips when
// INSTALLVAULT_SKIP_DYNAMODB=1.

const envXprocTable = "ROTATION_XPROC_DYNAMO_TABLE"

func init() {
	sharedBackends["crypto+dynamodb-local"] = func(t testing.TB) *sharedBackend {
		var table string
		if os.Getenv(envXprocChild) == "1" {
			table = os.Getenv(envXprocTable)
		} else {
			table = dynamotest.NewTable(t, dynamotest.Client(t))
		}
		return &sharedBackend{
			env: []string{envXprocTable + "=" + table},
			open: func(t testing.TB) installstore.Store {
				inner, err := dynamo.New(dynamotest.Client(t), table)
				if err != nil {
					t.Fatal(err)
				}
				// A fixed test key, the same in every replica.
				keys, err := crypto.NewLocalKeyring(map[string][]byte{"xproc": make([]byte, 32)}, "xproc")
				if err != nil {
					t.Fatal(err)
				}
				store, err := crypto.NewStore(inner, keys)
				if err != nil {
					t.Fatal(err)
				}
				return store
			},
		}
	}
}
