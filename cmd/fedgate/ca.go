package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgate/fedgate/broker/device"
)

const caUsage = `fedgate ca init   --dir DIR [--name NAME] [--days N]
fedgate ca issue  --dir DIR --cn NAME [--email E] [--dns D] [--upn U] [--days N] --out PREFIX
fedgate ca revoke --dir DIR --cert FILE | --serial HEX
`

// caCmd keeps a device CA in a directory: ca.pem (for devices.ca_files),
// ca.key, and crl.pem (for devices.crl_file).
func caCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, caUsage)
		return 2
	}
	fs := flag.NewFlagSet("ca "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the CA's directory")
	name := fs.String("name", "fedgate device CA", "init: the CA's name")
	days := fs.Int("days", 0, "validity in days (init: 3650, issue: 365, revoke: the CRL's, 30)")
	cn := fs.String("cn", "", "issue: the certificate's common name (device or user)")
	email := fs.String("email", "", "issue: an e-mail address in the subject alternative name")
	dns := fs.String("dns", "", "issue: a DNS name in the subject alternative name")
	upn := fs.String("upn", "", "issue: a user principal name in the subject alternative name")
	out := fs.String("out", "", "issue: write PREFIX.pem and PREFIX.key")
	certFile := fs.String("cert", "", "revoke: the certificate to revoke")
	serialHex := fs.String("serial", "", "revoke: the serial number (hex) to revoke")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintf(stderr, "fedgate ca %s: --dir is required\n", args[0])
		return 2
	}
	validity := func(def int) time.Duration {
		if *days > 0 {
			def = *days
		}
		return time.Duration(def) * 24 * time.Hour
	}
	now := time.Now()
	var err error
	switch args[0] {
	case "init":
		var ca *device.CA
		if ca, err = device.NewCA(*name, now, validity(3650)); err == nil {
			err = ca.Save(*dir)
		}
		if err == nil {
			fmt.Fprintf(stdout, "device CA written to %s: put %s under devices[].ca_files\n", *dir, filepath.Join(*dir, "ca.pem"))
		}
	case "issue":
		err = caIssue(*dir, *out, device.Subject{CN: *cn, Emails: nonEmpty(*email), DNS: nonEmpty(*dns), UPN: *upn}, now, validity(365), stdout)
	case "revoke":
		err = caRevoke(*dir, *certFile, *serialHex, now, validity(30), stdout)
	default:
		fmt.Fprintf(stderr, "fedgate ca: unknown command %q\n\n%s", args[0], caUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "fedgate ca %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func caIssue(dir, out string, s device.Subject, now time.Time, validity time.Duration, stdout io.Writer) error {
	if s.CN == "" || out == "" {
		return fmt.Errorf("--cn and --out are required")
	}
	ca, err := device.OpenCA(dir)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.Issue(s, now.Add(-time.Minute), now.Add(validity))
	if err != nil {
		return err
	}
	if err := os.WriteFile(out+".key", keyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(out+".pem", certPEM, 0o644); err != nil {
		return err
	}
	b, _ := pem.Decode(certPEM)
	c, _ := x509.ParseCertificate(b.Bytes)
	fmt.Fprintf(stdout, "issued %s.pem (serial %x) and %s.key; for a browser: openssl pkcs12 -export -in %s.pem -inkey %s.key -out %s.p12\n",
		out, c.SerialNumber, out, out, out, out)
	return nil
}

func caRevoke(dir, certFile, serialHex string, now time.Time, validity time.Duration, stdout io.Writer) error {
	var serial *big.Int
	switch {
	case certFile != "" && serialHex == "":
		data, err := os.ReadFile(certFile)
		if err != nil {
			return err
		}
		certs, err := device.FromHeader(string(data))
		if err != nil {
			return fmt.Errorf("%s: %w", certFile, err)
		}
		serial = certs[0].SerialNumber
	case serialHex != "" && certFile == "":
		var ok bool
		if serial, ok = new(big.Int).SetString(strings.TrimPrefix(serialHex, "0x"), 16); !ok {
			return fmt.Errorf("--serial %q is not hexadecimal", serialHex)
		}
	default:
		return fmt.Errorf("give exactly one of --cert FILE or --serial HEX")
	}
	ca, err := device.OpenCA(dir)
	if err != nil {
		return err
	}
	if err := ca.Revoke(dir, serial, now, validity); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked serial %x: %s (reload fedgate to apply)\n", serial, filepath.Join(dir, "crl.pem"))
	return nil
}
