package courses

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/coursehook/coursehook/certificate/logo"
)

// checkLogo says why the file at path cannot be a certificate logo, or
// returns nil. The check is the certificate renderer's own (logo.Check,
// which links no PDF library), so a file the loader accepts always renders.
func checkLogo(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot be read (%s): %s", path, pathErrorText(err))
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot be read (%s): %s", path, pathErrorText(err))
	}
	switch {
	case !info.Mode().IsRegular():
		return fmt.Errorf("is not a regular file (%s)", path)
	case info.Size() > logo.MaxBytes:
		return fmt.Errorf("is larger than %d MiB (%s)", logo.MaxBytes>>20, path)
	}
	// The size was checked above, but the file may grow while it is read.
	b, err := io.ReadAll(io.LimitReader(f, logo.MaxBytes+1))
	if err != nil {
		return fmt.Errorf("cannot be read (%s): %s", path, pathErrorText(err))
	}
	if err := logo.Check(b); err != nil {
		return fmt.Errorf("%s (%s)", strings.TrimPrefix(err.Error(), "logo "), path)
	}
	return nil
}
