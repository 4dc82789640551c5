// Command sendgrid-sign signs Event Webhook posts the way SendGrid does, so
// that developers, the README's examples and the integration tests can post
// events to coursehook without SendGrid.
//
//	sendgrid-sign genkey FILE                         new P-256 key in FILE; print its public key
//	sendgrid-sign pubkey FILE                         print FILE's public key
//	sendgrid-sign post -key FILE -url URL BATCH.json  sign and POST a batch (- reads stdin)
//	sendgrid-sign headers -key FILE BATCH.json        print the two signature headers
//
// The public key printed is the value of SENDGRID_WEBHOOK_PUBLIC_KEY that
// makes coursehook accept what this key signs.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/coursehook/coursehook/sgevents"
)

const usage = `usage: sendgrid-sign <command> [arguments]

commands:
  genkey FILE
        write a new P-256 private key (PKCS#8 PEM, mode 0600) to FILE unless it exists,
        and print its base64 public key: the value for SENDGRID_WEBHOOK_PUBLIC_KEY
  pubkey FILE
        print the base64 public key of the private key in FILE
  post -key FILE -url URL BATCH.json
        sign BATCH.json (- for stdin) with the current time and POST it as SendGrid
        does; print the status line and the answer; exit 1 unless the answer is 2xx
  headers -key FILE BATCH.json
        sign BATCH.json (- for stdin) with the current time and print the two
        headers as "Name: value" lines, for curl -H`

// maxAnswer caps how much of an answer post prints.
const maxAnswer = 1 << 20

// errUsage marks bad arguments: usage is printed and the exit status is 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the command without the process: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "genkey":
		err = genkey(args[1:], stdout, stderr)
	case "pubkey":
		err = pubkey(args[1:], stdout)
	case "post":
		err = post(args[1:], stdin, stdout)
	case "headers":
		err = headers(args[1:], stdin, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "sendgrid-sign: %v\n%s\n", err, usage)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "sendgrid-sign:", err)
		return 1
	}
	return 0
}

// parse parses flags given before, after or between the positional
// arguments (the flag package alone stops at the first positional one) and
// checks their number.
func parse(fset *flag.FlagSet, args []string, want int) ([]string, error) {
	fset.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errUsage, fset.Name(), err)
		}
		if fset.NArg() == 0 {
			break
		}
		pos = append(pos, fset.Arg(0))
		args = fset.Args()[1:]
	}
	if len(pos) != want {
		return nil, fmt.Errorf("%w: %s takes %d argument(s), got %d", errUsage, fset.Name(), want, len(pos))
	}
	return pos, nil
}

func genkey(args []string, stdout, stderr io.Writer) error {
	pos, err := parse(flag.NewFlagSet("genkey", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	key, err := sgevents.GenerateKey()
	if err != nil {
		return err
	}
	pemBytes, err := sgevents.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	// O_EXCL, so an existing key is never replaced, even by a race.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		fmt.Fprintf(stderr, "sendgrid-sign: %s exists; its public key:\n", file)
		return pubkey([]string{file}, stdout)
	}
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.Write(pemBytes); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return printPublic(key, stdout)
}

func pubkey(args []string, stdout io.Writer) error {
	pos, err := parse(flag.NewFlagSet("pubkey", flag.ContinueOnError), args, 1)
	if err != nil {
		return err
	}
	key, err := readKey(pos[0])
	if err != nil {
		return err
	}
	return printPublic(key, stdout)
}

func printPublic(key *ecdsa.PrivateKey, stdout io.Writer) error {
	pub, err := sgevents.PublicKeyBase64(&key.PublicKey)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pub)
	return nil
}

func post(args []string, stdin io.Reader, stdout io.Writer) error {
	fset := flag.NewFlagSet("post", flag.ContinueOnError)
	keyFile := fset.String("key", "", "private key `FILE`")
	url := fset.String("url", "", "coursehook's Event Webhook `URL`")
	timeout := fset.Duration("timeout", 30*time.Second, "how long to wait for the answer")
	pos, err := parse(fset, args, 1)
	if err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("%w: post needs -url", errUsage)
	}
	body, sig, ts, err := signFile(*keyFile, pos[0], stdin)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: -url: %w", errUsage, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sgevents.SignatureHeader, sig)
	req.Header.Set(sgevents.TimestampHeader, ts)
	resp, err := (&http.Client{Timeout: *timeout}).Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	fmt.Fprintln(stdout, resp.Proto, resp.Status)
	if len(answer) > 0 {
		fmt.Fprintln(stdout, string(bytes.TrimRight(answer, "\n")))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

func headers(args []string, stdin io.Reader, stdout io.Writer) error {
	fset := flag.NewFlagSet("headers", flag.ContinueOnError)
	keyFile := fset.String("key", "", "private key `FILE`")
	pos, err := parse(fset, args, 1)
	if err != nil {
		return err
	}
	_, sig, ts, err := signFile(*keyFile, pos[0], stdin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n%s: %s\n", sgevents.SignatureHeader, sig, sgevents.TimestampHeader, ts)
	return nil
}

// signFile reads the key and the batch (- is stdin) and signs the batch's
// bytes as they are, with the current time.
func signFile(keyFile, batch string, stdin io.Reader) (body []byte, signature, timestamp string, err error) {
	if keyFile == "" {
		return nil, "", "", fmt.Errorf("%w: -key is required", errUsage)
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, "", "", err
	}
	if batch == "-" {
		body, err = io.ReadAll(stdin)
	} else {
		body, err = os.ReadFile(batch)
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("read batch: %w", err)
	}
	signature, timestamp, err = sgevents.SignNow(key, body, time.Now())
	if err != nil {
		return nil, "", "", err
	}
	return body, signature, timestamp, nil
}

func readKey(file string) (*ecdsa.PrivateKey, error) {
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := sgevents.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return key, nil
}
