package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	osuser "os/user"
	"slices"
	"strings"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/config"
)

// mfaCmd is `fedgate mfa list|reset`: a user is UPSTREAM/USERNAME, because
// factors belong to a user of one upstream (the same name elsewhere is
// someone else). It opens the configured store with the cookie keys; a bolt
// store is locked by a running fedgate, so stop it first (or share a store).
func mfaCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "reset") {
		fmt.Fprintln(stderr, "usage: fedgate mfa list|reset --config FILE [--method M]... UPSTREAM/USER")
		return 2
	}
	fs := flag.NewFlagSet("mfa "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "fedgate.yaml", "config file")
	var methods multiFlag
	if args[0] == "reset" {
		fs.Var(&methods, "method", "remove only this method's factor (repeatable; default all)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	upstream, username, ok := strings.Cut(fs.Arg(0), "/")
	if fs.NArg() != 1 || !ok || upstream == "" || username == "" {
		fmt.Fprintln(stderr, "fedgate mfa: name one user as UPSTREAM/USERNAME, e.g. corp-adfs/alice@corp.example")
		return 2
	}
	err := runMFA(args[0], *path, upstream, username, methods, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "fedgate mfa:", err)
		return 1
	}
	return 0
}

func runMFA(op, path, upstream, username string, methods []string, stdout io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(cfg.Upstreams, func(b config.Block) bool { return b.ID == upstream }) {
		return fmt.Errorf("no upstream %q in %s", upstream, path)
	}
	ks, err := keys.LoadCookieKeys(cookieKeyPaths(cfg))
	if err != nil {
		return err
	}
	st, auditOut, closeState, err := openState(cfg, slog.Default())
	if err != nil {
		return err
	}
	defer closeState()
	admin, err := broker.NewMFAAdmin(st, ks, broker.NewAuditor(auditOut))
	if err != nil {
		return err
	}
	ctx := context.Background()
	if op == "list" {
		fs, err := admin.List(ctx, upstream, username)
		if errors.Is(err, broker.ErrUnknownUser) {
			fmt.Fprintf(stdout, "%s/%s: no factors\n", upstream, username)
			return nil
		}
		for _, f := range fs {
			fmt.Fprintf(stdout, "%s\t%s\n", f.Method, strings.Join(f.Detail, "; "))
		}
		return err
	}
	removed, err := admin.Reset(ctx, upstream, username, methods, actor())
	if len(removed) > 0 {
		fmt.Fprintf(stdout, "removed: %s\n", strings.Join(removed, ", "))
	} else if err == nil {
		fmt.Fprintln(stdout, "nothing to remove")
	}
	return err
}

// actor is the OS user running the command, for the audit log.
func actor() string {
	if u, err := osuser.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
