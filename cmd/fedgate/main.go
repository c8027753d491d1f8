// Command fedgate is the identity federation broker: serve it, check its
// config, explain its policies, generate its keys, and print what a
// Microsoft tenant admin enters to federate with it.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `fedgate — identity federation broker and gateway

Usage:
  fedgate serve  --config FILE         run the server (SIGHUP or a file change reloads the config)
  fedgate check  --config FILE         validate the config and every policy file; exit 1 on problems
  fedgate policy explain --config FILE --app APP --user U [flags]
                                       show how a policy decides; exit 0 allow, 1 deny, 3 step-up
  fedgate policy replay --config FILE [--days 7] [--json] [AUDIT-FILE...]
                                       replay recorded decisions through the config's policies;
                                       list each that would change; exit 0 none, 1 some
  fedgate audit [--config FILE | --file LOG] [--user U] [--app A] [--since T] [--json] ...
                                       the sign-in history from the audit log and its rotations
  fedgate keys generate --cookie FILE | --signing FILE [--alg rsa2048|rsa3072|p256]
                                       create a cookie key or a signing key with a self-signed certificate
  fedgate metadata entra-b2b|m365 --config FILE --app APP
                                       print what the Entra or Microsoft 365 admin enters for a saml/wsfed app
  fedgate import adfs --from DIR --out DIR [--token-signing-pfx FILE --pfx-password-file FILE] [--json]
                                       turn an ADFS farm's PowerShell exports into apps, policies and a report
  fedgate ca init|issue|revoke --dir DIR ...
                                       keep a device CA: certificates for devices.ca_files, a CRL for crl_file
  fedgate mfa list|reset --config FILE [--method M]... UPSTREAM/USER
                                       show or remove a user's own second factors (audited)
  fedgate hash-password                read a password on stdin, print its argon2id hash
  fedgate version                      print the version, VCS revision and Go version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "policy":
		if len(args) > 1 && args[1] == "explain" {
			return explain(args[2:], stdout, stderr)
		}
		if len(args) > 1 && args[1] == "replay" {
			return replay(args[2:], stdout, stderr)
		}
	case "audit":
		return audit(args[1:], stdout, stderr)
	case "keys":
		if len(args) > 1 && args[1] == "generate" {
			return keysGenerate(args[2:], stdout, stderr)
		}
	case "metadata":
		return metadataCmd(args[1:], stdout, stderr)
	case "import":
		if len(args) > 1 && args[1] == "adfs" {
			return importADFS(args[2:], stdout, stderr)
		}
	case "ca":
		return caCmd(args[1:], stdout, stderr)
	case "mfa":
		return mfaCmd(args[1:], stdout, stderr)
	case "hash-password":
		return hashPassword(stdin, stdout, stderr)
	case "version":
		v, detail := buildVersion(readBuildInfo())
		fmt.Fprintf(stdout, "fedgate %s (%s)\n", v, detail)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fedgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}
