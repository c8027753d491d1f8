package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/protocols/local"
)

func keysGenerate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cookie := fs.String("cookie", "", "write a new cookie key to this file")
	signing := fs.String("signing", "", "write a new signing key and self-signed certificate to this file")
	alg := fs.String("alg", "rsa2048", "signing key algorithm: rsa2048, rsa3072 or p256")
	cn := fs.String("cn", "fedgate signing", "certificate common name")
	days := fs.Int("days", 3*365, "certificate validity in days")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*cookie == "") == (*signing == "") {
		fmt.Fprintln(stderr, "fedgate keys generate: give exactly one of --cookie FILE or --signing FILE")
		return 2
	}
	var data []byte
	var err error
	out := *cookie
	if out != "" {
		var k keys.CookieKey
		if k, err = keys.GenerateCookieKey(); err == nil {
			data = k.Marshal()
		}
	} else {
		out = *signing
		data, err = keys.GenerateSigningKey(keys.Algorithm(*alg), *cn, time.Duration(*days)*24*time.Hour, time.Now())
	}
	if err == nil {
		err = keys.WriteFile(out, data)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fedgate keys generate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600)\n", out)
	return 0
}

// hashPassword reads one line (the password) from stdin and prints its hash,
// for local users' password_hash.
func hashPassword(stdin io.Reader, stdout, stderr io.Writer) int {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		fmt.Fprintln(stderr, "fedgate hash-password: give the password on stdin, e.g. `read -rs P; echo \"$P\" | fedgate hash-password`")
		_ = err
		return 2
	}
	h, err := local.HashPassword(pw)
	if err != nil {
		fmt.Fprintf(stderr, "fedgate hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}
