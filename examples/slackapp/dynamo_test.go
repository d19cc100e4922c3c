package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/installvault/installvault/dynamo"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/installstore/storetest"
	"github.com/installvault/installvault/internal/fakeslack"
)

// dynamoEndpoint returns DynamoDB Local's address. Without it the test
// is skipped, in one line, or fails under CI (CI=true).
func dynamoEndpoint(t *testing.T) string {
	t.Helper()
	ep := os.Getenv(envDynamoEndpoint)
	if ep == "" {
		msg := envDynamoEndpoint + " is not set: run `eval \"$(scripts/dynamodb-local.sh start)\"` first"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return ep
}

// The demo over crypto + dynamo on DynamoDB Local: install, mention,
// uninstall; the table only ever holds sealed tokens, and nothing is left
// of the tenant after the uninstall.
func TestDemoOnDynamoDBLocal(t *testing.T) {
	ep := dynamoEndpoint(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	table := "slackapp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	d, err := startDemo(context.Background(), demoOptions{Listener: ln, TokenLifetime: fakeslack.DefaultTokenLifetime,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		DynamoTable: table, DynamoEndpoint: ep, CreateTable: true, LocalCredentials: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	_, isDynamo := d.Stores.Backend.(*dynamo.Store)
	require.True(t, isDynamo, "the backend is DynamoDB")

	const acme = "T0DEMO00001"
	session, bodies := installByHTTP(t, d, acme)
	inst, err := d.Stores.Sealed.FetchInstallation(context.Background(), installstore.Query{TeamID: acme})
	require.NoError(t, err)
	storetest.RequireSealedAtRest(t, d.Stores.Backend, installstore.Query{TeamID: acme}, inst)

	require.NoError(t, d.Slack.Mention(context.Background(), acme, "hi"))
	require.Equal(t, inst.Bot.Token, d.Slack.Messages(acme)[1].Token)

	require.NoError(t, d.Slack.Uninstall(context.Background(), acme))
	require.Zero(t, countRecords(t, d.Stores.Backend), "the uninstall left records behind")
	_, page := getPage(t, d, "/installed", session)
	require.Contains(t, page, acme+": not installed")
	requireNoSecret(t, d, append(bodies, page))
}
