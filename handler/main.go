// Command handler is dbsync: the Azure Functions custom handler (no
// arguments) and the command line (sync, check, demo-data, version).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/dbsync/dbsync/sync"
)

// Exit codes, as docs/cli.md lists them.
const (
	exitOK     = 0
	exitFailed = 1 // the run failed; the target is unchanged
	exitUsage  = 2 // usage or configuration error
	exitBusy   = 3 // another run holds the lock
	exitDiffer = 4 // verify found differences
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// tuneGC: a load's live heap is a few MiB, but it allocates per row, so
// the default GOGC=100 collects many times a second; on the SQLite path
// that was a quarter of dbsync's CPU (bench: 7.5 → 6.0 s CPU per million
// rows). With GOGC=400 the heap still peaks well under 64 MiB (bench:
// peak RSS of every path). A GOGC or GOMEMLIMIT set by the user wins.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(56 << 20) // a backstop; loads stay well below it
	}
}

// usageError is a command-line mistake: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// run dispatches to a subcommand and turns its error into one line on
// stderr and an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var err error
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "":
		err = runServe(ctx, os.Getenv, stdout, stderr)
	case "sync":
		err = runSync(ctx, args, stdout, stderr)
	case "check":
		err = runCheck(ctx, args, stdout, stderr)
	case "history":
		err = runHistory(ctx, args, stdout, stderr)
	case "verify":
		err = runVerify(ctx, args, stdout, stderr)
	case "demo-data":
		err = runDemoData(ctx, args, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "dbsync %s\n", dbsync.Version())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage)
		return exitOK
	default:
		// The usage as written, on its lines: OneLine below is for
		// errors, whose causes may span lines.
		fmt.Fprintf(stderr, "error: unknown command %q\n\n%s", cmd, mainUsage)
		return exitUsage
	}
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	code := exitCode(err)
	if !errors.Is(err, errReported) {
		fmt.Fprintf(stderr, "error: %s\n", dbsync.OneLine(err.Error()))
	}
	return code
}

// errHelp is -h or --help: the usage is printed on stdout; exit 0.
var errHelp = errors.New("help requested")

// parseFlags parses a subcommand's flags. -h, -help or --help prints
// usage and the flags on stdout and returns errHelp, so asking for help
// succeeds; a bad flag prints them on stderr and is a usage error (exit
// 2). The flag package's own printing is off: the error line run prints
// says what was wrong.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, usage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return errHelp
	case err != nil:
		printUsage(stderr)
		return &usageError{err.Error()}
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q (see handler %s -h)", fs.Arg(0), fs.Name())}
	}
	return nil
}

// errReported wraps an error already shown to the user (a printed report).
var errReported = errors.New("reported")

type reportedError struct{ err error }

func (e reportedError) Error() string   { return e.err.Error() }
func (e reportedError) Unwrap() []error { return []error{e.err, errReported} }

func exitCode(err error) int {
	var ue *usageError
	var ce *dbsync.ConfigError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.As(err, &ce):
		return exitUsage
	case errors.Is(err, dbsync.ErrBusy):
		return exitBusy
	case errors.Is(err, errDifferent):
		return exitDiffer
	}
	return exitFailed
}

const mainUsage = `dbsync keeps replica tables in step with tables or views of a primary MySQL
server (or a local SQLite fallback): each table replaced atomically or merged,
all tables of a run committed together.

Usage:
  handler                      serve as an Azure Functions custom handler
  handler sync  [flags]        run one sync now
  handler check [flags]        check config, secrets, connections, TLS, load method
  handler verify [flags]       prove the replica exact without writing anything
  handler history [flags]      recent runs per table, as lines, --json or an --html status page
  handler demo-data [flags]    create the demo's fallback SQLite database
  handler version              print the build's version and VCS revision

Run "handler sync -h" for a command's flags.

Exit codes: 0 success, 1 run failed (target unchanged), 2 usage or
configuration error, 3 another run holds the lock, 4 verify found
differences.
`
