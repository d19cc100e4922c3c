package kmstest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/installvault/installvault/crypto/kmstest"
)

// A test KMS: create a key, make a data key bound to an encryption context,
// unwrap it, then see a disabled key refused with the SDK's typed error.
func Example() {
	srv := kmstest.NewServer()
	defer srv.Close()
	key := srv.CreateKey("tenant key")
	client := srv.Client() // the ordinary aws-sdk-go-v2 client
	ctx := context.Background()
	ec := map[string]string{"team_id": "T1"}

	dk, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(key.ID), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec,
	})
	if err != nil {
		panic(err)
	}
	out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	fmt.Println(err == nil && string(out.Plaintext) == string(dk.Plaintext))

	_ = srv.DisableKey(key.ID)
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	var disabled *types.DisabledException
	fmt.Println(errors.As(err, &disabled))
	fmt.Println(srv.Calls("Decrypt"))
	// Output:
	// true
	// true
	// 2
}
