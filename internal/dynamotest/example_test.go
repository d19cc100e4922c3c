package dynamotest_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/installvault/installvault/internal/dynamotest"
)

// A Counter counts a client's calls by operation, once per call whatever the
// retries; here against a closed port, with one attempt.
func ExampleCounter() {
	var c dynamotest.Counter
	client := dynamotest.NewClient("http://127.0.0.1:1", c.Option(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	_, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t")})
	fmt.Println(err != nil, c.Calls(), c.Total())
	// Output: true map[GetItem:1] 1
}
