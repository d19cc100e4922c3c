package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed, or found a problem (verify, rewrap)
	exitUsage   = 2 // bad command line or missing configuration
)

// env is what a command may touch of the outside world: nothing global.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	closers        []func() error // run when the command ends
}

// onExit registers fn (closing a store) to run when the command ends.
func (e *env) onExit(fn func() error) { e.closers = append(e.closers, fn) }

// close runs the registered functions, last first.
func (e *env) close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of the arguments, after the name
	summary string
	help    string // more text for -h
	// setup declares the command's flags on fs and returns the function that
	// runs it once fs is parsed.
	setup func(fs *flag.FlagSet, e *env) func(ctx context.Context) error
}

// commands returns the subcommands, in the order the usage lists them.
func commands() []*command {
	return []*command{
		createTableCommand(),
		addDueIndexCommand(),
		listCommand(),
		verifyCommand(),
		rewrapCommand(),
		exportCommand(),
		importCommand(),
		purgeCommand(),
		scopeDriftCommand(),
	}
}

// usageError is a bad command line or missing configuration: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// failedError reports that a command ran and found problems it has already
// printed (verify, rewrap): exit status 1 with a one-line summary.
type failedError struct{ msg string }

func (e *failedError) Error() string { return e.msg }

// run is the whole program: it parses args, runs one command and returns
// the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	cmds := commands()
	if len(args) == 0 {
		fmt.Fprintln(stderr, "installvault: no command given")
		printUsage(stderr, cmds)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" { // "help list" is "list -h"
			return run(ctx, []string{args[1], "-h"}, stdin, stdout, stderr, getenv)
		}
		printUsage(stdout, cmds)
		return exitOK
	}
	for _, c := range cmds {
		if c.name == name {
			return runCommand(ctx, c, args[1:], e)
		}
	}
	fmt.Fprintf(stderr, "installvault: unknown command %q\n", name)
	printUsage(stderr, cmds)
	return exitUsage
}

func runCommand(ctx context.Context, c *command, args []string, e *env) int {
	fs := flag.NewFlagSet("installvault "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed below
	fs.Usage = func() {}
	do := c.setup(fs, e)
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		printCommandUsage(e.stdout, c, fs)
		return exitOK
	case err != nil:
		fmt.Fprintf(e.stderr, "installvault %s: %v\n", c.name, err)
		printCommandUsage(e.stderr, c, fs)
		return exitUsage
	}
	err = do(ctx)
	if cerr := e.close(); cerr != nil && err == nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "installvault %s: %v\n", c.name, err)
		fmt.Fprintf(e.stderr, "Run 'installvault %s -h' for usage.\n", c.name)
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "installvault %s: %v\n", c.name, err)
		return exitFailure
	}
}

func printUsage(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `installvault administers an installvault store (DynamoDB, PostgreSQL, SQLite or Redis)
without ever showing a token.

Usage:
  installvault <command> [flags]

Commands:
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'installvault <command> -h' for a command's flags.
`+envHelp+`
Exit status: 0 success, 1 failure (or problems found), 2 usage error.
`)
}

func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: installvault %s %s\n\n%s\n", c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, envHelp)
}

// envHelp lists the environment variables every command reads.
const envHelp = `
Environment:
  INSTALLVAULT_STORE              the store's URL (or -store), one of:
                                    dynamodb:TABLE
                                    postgres://USER:PASSWORD@HOST:5432/DB[?search_path=SCHEMA]
                                    sqlite:PATH
                                    redis://[:PASSWORD@]HOST:6379[/DB][?prefix=P]
                                    redis-cluster://[:PASSWORD@]H1:P1,H2:P2[?prefix=P]
                                  No output shows its password (xxxxx). Give a URL with a password
                                  here, not with -store, which other users see in the process list.
  INSTALLVAULT_DYNAMODB_TABLE     DynamoDB table name (or -table), the same as dynamodb:TABLE
  INSTALLVAULT_DYNAMODB_ENDPOINT  endpoint URL, for DynamoDB Local (or -endpoint)
  INSTALLVAULT_KMS_KEY_ID         AWS KMS key ID, ARN or alias sealing new data keys (or -kms-key)
  INSTALLVAULT_KMS_ENDPOINT       KMS endpoint URL, for a local KMS (or -kms-endpoint)
  INSTALLVAULT_KMS_TENANT_KEYS    JSON file of per-tenant KMS keys, as the app's crypto.WithTenantKey
                                  (or -kms-tenant-keys); rewrap moves each tenant to its own key
  INSTALLVAULT_LOCAL_KEYS         development keyring instead of KMS: one bare key, or name=key,name2=key
                                  (32 bytes, base64 or hex: openssl rand -base64 32)
                                  (environment only: keys never go on a command line)
  INSTALLVAULT_LOCAL_PRIMARY      keyring key that seals new data keys (or -local-primary)
  AWS_REGION, AWS_PROFILE, ...    AWS region and credentials: the SDK's default chain
`
