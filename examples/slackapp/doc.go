// Command slackapp is a complete multi-workspace Slack app built on
// installvault, meant to be copied.
//
// It wires the layers together, each talking to the next only through
// installstore types:
//
//	oauth.Handler            /slack/install, /slack/oauth_redirect, /slack/events
//	  └─ rotation.Refresher  one refresh per installation, fail closed
//	       └─ crypto store   every token sealed (AWS KMS or a local key)
//	            └─ backend   INSTALLVAULT_STORE: PostgreSQL, SQLite, Redis, DynamoDB
//	                         (or memory, for experiments)
//
// and has one real feature: when someone mentions the app (app_mention),
// it replies in the thread with chat.postMessage, using the bot token of the
// workspace the signed event came from — the tenant the oauth handler
// verified and hands over with the typed event (oauth.EventFrom), never a
// value from the message — through Refresher.Do, which refreshes a rotating
// token once and retries when Slack says it expired. Slack's retries of an
// answered event never reach it: the oauth handler de-duplicates them across
// replicas.
//
// Every page, 404 and 405 included, is the app's own and speaks to the
// person using it; what a developer needs to fix goes to the log.
//
// GET /installed lists the installations made from this browser: workspace,
// scopes, token expiry, version, install time. It never shows a token.
//
// # Configuration (environment)
//
//	SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET   required
//	APP_BASE_URL             public https URL of the app (redirect URL = APP_BASE_URL/slack/oauth_redirect)
//	SLACK_STATE_SECRET       at least 32 bytes; shared by replicas (default: random per process)
//	SLACK_SCOPES             bot scopes (default app_mentions:read,chat:write)
//	SLACK_USER_SCOPES        user scopes (default none)
//	SLACK_URL                another Slack than https://slack.com: https, or http on 127.0.0.1/localhost
//	                         (a stand-in such as the end-to-end test's; then the demo buttons show)
//	SLACK_ADMIN_ONLY_SCOPES  scopes only a workspace admin or owner may grant (adds users:read;
//	                         anyone else's install is refused and undone at Slack; also with -demo)
//	INSTALLVAULT_KMS_KEY_ID  AWS KMS key (ID, ARN or alias) wrapping data keys, or
//	INSTALLVAULT_LOCAL_KEYS  development only: one key (openssl rand -base64 32), or
//	                         name=KEY,name2=KEY2 as the installvault CLI reads it
//	INSTALLVAULT_LOCAL_PRIMARY  with several local keys, the one sealing new data keys
//	INSTALLVAULT_STORE       the store URL, as the installvault CLI reads it (default: memory, lost at exit):
//	                           postgres://USER:PASSWORD@HOST:5432/DB[?search_path=SCHEMA]  schema migrated at start
//	                           sqlite:PATH                          file created or upgraded at start
//	                           redis://[:PASSWORD@]HOST:6379[/DB][?prefix=P]
//	                           redis-cluster://[:PASSWORD@]H1:P1,H2:P2[?prefix=P]
//	                           dynamodb:TABLE                       as INSTALLVAULT_DYNAMODB_TABLE
//	INSTALLVAULT_DYNAMODB_TABLE     DynamoDB table (or INSTALLVAULT_STORE=dynamodb:TABLE; not both, unless equal)
//	INSTALLVAULT_DYNAMODB_ENDPOINT  e.g. DynamoDB Local's http://127.0.0.1:8000
//
// The store is opened once at start (PostgreSQL's schema is migrated with
// postgres.Migrate, which every replica may run at once; a SQLite file is
// created) and closed after the last refresh has written back. Its password
// never appears in a log or error.
//
// AWS credentials and region come from the usual AWS SDK chain.
//
// # Flags
//
//	-addr 127.0.0.1:3000   where to listen (loopback only: put a TLS proxy or tunnel in front)
//	-create-table          create the DynamoDB table first (other stores need no flag)
//	-demo                  run with no credentials at all, against an in-process
//	                       stand-in for slack.com (internal/fakeslack)
//	-demo-token-lifetime   how long the stand-in's tokens live (default 12h, as at Slack)
//
// See README.md for the Slack app manifest and a walkthrough of -demo.
package main
