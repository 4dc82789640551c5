package config

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"go.temporal.io/sdk/contrib/envconfig"
)

// temporal reads the Temporal connection the way the Temporal CLI does: the
// profile TEMPORAL_PROFILE names ("default" when unset) in the temporal.toml
// TEMPORAL_CONFIG_FILE names (the CLI's own file when unset, and none if it
// does not exist), then every TEMPORAL_* variable over it. The address and
// namespace defaults apply last. Every value is checked here, under the name
// it came by, so a bad certificate path stops the binary before it dials.
func (r *reader) temporal() envconfig.ClientConfigProfile {
	t := temporalReader{reader: r, file: r.str("TEMPORAL_CONFIG_FILE", "")}
	explicit := t.file != ""
	if !explicit {
		t.file = cliConfigFile(r.getenv)
	}
	var conf envconfig.ClientConfig
	if t.file != "" {
		var err error
		// A file that does not exist is no error: most deployments have none.
		conf, err = envconfig.LoadClientConfig(envconfig.LoadClientConfigOptions{ConfigFilePath: t.file})
		switch {
		case err != nil && explicit:
			r.fail("TEMPORAL_CONFIG_FILE", "cannot be loaded: %v", err)
		case err != nil:
			r.errs = append(r.errs, fmt.Errorf("the Temporal CLI's configuration file %s cannot be loaded (set TEMPORAL_CONFIG_FILE to use another): %w", t.file, err))
		}
	}
	var prof envconfig.ClientConfigProfile
	name := r.str("TEMPORAL_PROFILE", "")
	if p := conf.Profiles[cmp.Or(name, envconfig.DefaultConfigFileProfile)]; p != nil {
		prof, t.profile = *p, cmp.Or(name, envconfig.DefaultConfigFileProfile)
	} else if name != "" {
		r.fail("TEMPORAL_PROFILE", "is %q, but %s", name, t.profiles(conf))
	}
	// It never fails today; the signature says it may.
	if err := prof.ApplyEnvVars(lookup(r.getenv)); err != nil {
		r.errs = append(r.errs, fmt.Errorf("temporal variables: %w", err))
	}
	prof.Address = cmp.Or(prof.Address, DefaultTemporalAddress)
	prof.Namespace = cmp.Or(prof.Namespace, DefaultNamespace)
	// The address may come from the profile: check it under that name.
	addr := reader{getenv: func(string) string { return prof.Address }}
	addr.hostPort(t.source("TEMPORAL_ADDRESS", "address"), DefaultTemporalAddress)
	r.errs = append(r.errs, addr.errs...)
	t.checkTLS(prof)
	return prof
}

// temporalReader names where each Temporal setting came from: its variable,
// or its key in the profile.
type temporalReader struct {
	*reader
	file    string
	profile string
}

// source is the name a setting came by: its variable when set, else its
// key in the profile.
func (t temporalReader) source(variable, key string) string {
	if t.profile == "" || strings.TrimSpace(t.getenv(variable)) != "" {
		return variable
	}
	return fmt.Sprintf("%s (%s of profile %q in %s)", variable, key, t.profile, t.file)
}

// profiles says why TEMPORAL_PROFILE names no profile.
func (t temporalReader) profiles(conf envconfig.ClientConfig) string {
	if t.file == "" {
		return "there is no temporal.toml to find it in (set TEMPORAL_CONFIG_FILE)"
	}
	if _, err := os.Stat(t.file); err != nil {
		return fmt.Sprintf("%s cannot be found to read it from (set TEMPORAL_CONFIG_FILE)", t.file)
	}
	if len(conf.Profiles) == 0 {
		return fmt.Sprintf("%s defines no profile", t.file)
	}
	names := make([]string, 0, len(conf.Profiles))
	for name := range conf.Profiles {
		names = append(names, fmt.Sprintf("%q", name))
	}
	slices.Sort(names)
	return fmt.Sprintf("%s only defines %s", t.file, strings.Join(names, ", "))
}

// checkTLS refuses what envconfig would refuse or silently ignore, naming
// the setting: a certificate without its key, a file that cannot be read, a
// key that is not the certificate's, a CA file without a certificate, a
// switch that is neither true nor false.
func (t temporalReader) checkTLS(prof envconfig.ClientConfigProfile) {
	// envconfig ignores any other value, which would leave TLS as it was.
	for _, name := range []string{"TEMPORAL_TLS", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"} {
		switch v := strings.TrimSpace(t.getenv(name)); strings.ToLower(v) {
		case "", "true", "false", "1", "0":
		default:
			t.fail(name, "must be true or false, got %q", v)
		}
	}
	c := prof.TLS
	if c == nil || c.Disabled {
		return
	}
	reported := len(t.errs)
	cert, certName, certOK := t.pem("TEMPORAL_TLS_CLIENT_CERT", c.ClientCertPath, c.ClientCertData)
	key, keyName, keyOK := t.pem("TEMPORAL_TLS_CLIENT_KEY", c.ClientKeyPath, c.ClientKeyData)
	switch {
	case !certOK || !keyOK:
	case cert == nil && key != nil:
		t.fail(certName, "is required when %s is set", keyName)
	case cert != nil && key == nil:
		t.fail(keyName, "is required when %s is set", certName)
	case cert != nil:
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			t.fail(certName, "and %s are not a PEM certificate and its private key: %v", keyName, err)
		}
	}
	if ca, caName, ok := t.pem("TEMPORAL_TLS_SERVER_CA_CERT", c.ServerCACertPath, c.ServerCACertData); ok && ca != nil {
		if !x509.NewCertPool().AppendCertsFromPEM(ca) {
			t.fail(caName, "holds no PEM certificate")
		}
	}
	if len(t.errs) > reported {
		return
	}
	// Whatever the checks above missed, envconfig reports as best it can.
	if _, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{}); err != nil {
		t.errs = append(t.errs, fmt.Errorf("temporal TLS settings: %w", err))
	}
}

// pem returns the PEM bytes of setting (TEMPORAL_TLS_CLIENT_CERT, say),
// given inline (its _DATA variable) or in a file (its _PATH variable), and
// the name it came by; nil when neither is set. ok is false once it has
// reported an error.
func (t temporalReader) pem(setting, path string, data []byte) (b []byte, name string, ok bool) {
	key := "tls." + strings.ToLower(strings.TrimPrefix(setting, "TEMPORAL_TLS_"))
	pathName, dataName := t.source(setting+"_PATH", key+"_path"), t.source(setting+"_DATA", key+"_data")
	switch {
	case path != "" && len(data) > 0:
		t.fail(pathName, "and %s are both set; set one of them", dataName)
		return nil, pathName, false
	case len(data) > 0:
		return data, dataName, true
	case path == "":
		return nil, pathName, true
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.fail(pathName, "cannot be read: %v", err)
		return nil, pathName, false
	}
	return b, pathName, true
}

// lookup feeds envconfig the injected getenv. Empty counts as unset, as for
// every other variable here. Environ lists nothing, so the
// TEMPORAL_GRPC_META_* variables are not read (a profile's grpc_meta is).
type lookup func(string) string

func (l lookup) Environ() []string { return nil }

func (l lookup) LookupEnv(name string) (string, bool) {
	v := strings.TrimSpace(l(name))
	return v, v != ""
}

// cliConfigFile is where the Temporal CLI keeps temporal.toml,
// os.UserConfigDir()/temporalio/temporal.toml, but found through getenv, so
// a test that passes a map never reads the host's file.
func cliConfigFile(getenv func(string) string) string {
	var dir string
	switch home := strings.TrimSpace(getenv("HOME")); runtime.GOOS {
	case "windows":
		dir = getenv("AppData")
	case "darwin", "ios":
		if home != "" {
			dir = filepath.Join(home, "Library", "Application Support")
		}
	default:
		dir = getenv("XDG_CONFIG_HOME")
		if dir == "" && home != "" {
			dir = filepath.Join(home, ".config")
		}
	}
	if dir == "" || !filepath.IsAbs(dir) {
		return ""
	}
	return filepath.Join(dir, "temporalio", "temporal.toml")
}
