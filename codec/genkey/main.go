// Command genkey prints a fresh ENCRYPTION_KEYS entry, "local-<yyyymmdd>:<base64 key>",
// for `make run`'s first start and for key rotation. The id carries the date
// so that rotated keys stay apart and tell their age.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/coursehook/coursehook/codec"
)

func main() {
	spec, err := codec.GenerateSpec("local-" + time.Now().UTC().Format("20060102"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "genkey:", err)
		os.Exit(1)
	}
	fmt.Println(spec)
}
