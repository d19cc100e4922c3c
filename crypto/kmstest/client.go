package kmstest

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// clientMaxBackoff is the retry backoff cap of [Server.Client]'s retryer.
const clientMaxBackoff = 20 * time.Millisecond

// Client returns an aws-sdk-go-v2 KMS client for the server: region
// us-east-1, fake static credentials, BaseEndpoint set to [Server.URL], and
// the SDK's standard retryer (3 attempts, retrying ThrottlingException) with
// its backoff capped at [clientMaxBackoff] so tests stay fast. optFns
// override any of it.
func (s *Server) Client(optFns ...func(*kms.Options)) *kms.Client {
	return kms.New(kms.Options{
		Region:       s.region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAKMSTESTFAKE", "kmstest-fake-secret", ""),
		HTTPClient:   s.srv.Client(),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxBackoff = clientMaxBackoff
		}),
	}, optFns...)
}
