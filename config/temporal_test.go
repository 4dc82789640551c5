package config

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/codec"

	"github.com/coursehook/coursehook/internal/tlsproxy"
)

// tlsFiles writes a CA, and a client certificate and key it signed, into a
// fresh folder.
func tlsFiles(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	authority := tlsproxy.NewCA(t, "test CA")
	cert, key = authority.Client(t, "coursehook").WriteFiles(t, dir, "client")
	return authority.WriteFile(t, dir, "ca.crt"), cert, key
}

func writeTOML(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestTemporalVariables(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	c, err := loadBoth(env(map[string]string{
		"TEMPORAL_ADDRESS":                 "coursehook.a1b2c.tmprl.cloud:7233",
		"TEMPORAL_NAMESPACE":               "coursehook.a1b2c",
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    cert,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     key,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": ca,
		"TEMPORAL_TLS_SERVER_NAME":         "frontend.internal",
	}))
	require.NoError(t, err)
	require.Equal(t, "coursehook.a1b2c.tmprl.cloud:7233", c.TemporalAddress)
	require.Equal(t, "coursehook.a1b2c", c.TemporalNamespace)
	require.Equal(t, c.TemporalAddress, c.Temporal.Address)
	require.Equal(t, c.TemporalNamespace, c.Temporal.Namespace)
	require.NotNil(t, c.Temporal.TLS)
	require.False(t, c.Temporal.TLS.Disabled)
	require.Equal(t, cert, c.Temporal.TLS.ClientCertPath)
	require.Equal(t, key, c.Temporal.TLS.ClientKeyPath)
	require.Equal(t, ca, c.Temporal.TLS.ServerCACertPath)
	require.Equal(t, "frontend.internal", c.Temporal.TLS.ServerName)

	c, err = loadBoth(env(map[string]string{"TEMPORAL_API_KEY": "key-from-the-cloud-ui"}))
	require.NoError(t, err)
	require.Equal(t, "key-from-the-cloud-ui", c.Temporal.APIKey)
	require.Nil(t, c.Temporal.TLS, "an API key turns TLS on when the client is built")

	c, err = loadBoth(env(map[string]string{"TEMPORAL_API_KEY": "key-for-a-local-proxy", "TEMPORAL_TLS": "false"}))
	require.NoError(t, err)
	require.True(t, c.Temporal.TLS.Disabled, "TEMPORAL_TLS=false keeps an API key in plaintext, as the CLI does")

	c, err = loadBoth(env(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultTemporalAddress, c.Temporal.Address)
	require.Equal(t, DefaultNamespace, c.Temporal.Namespace)
	require.Nil(t, c.Temporal.TLS, "plaintext by default, as before")
	require.Empty(t, c.Temporal.APIKey)
}

func TestTemporalProfiles(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	file := writeTOML(t, `
[profile.default]
address = "127.0.0.1:7999"

[profile.prod]
address = "temporal.internal:7233"
namespace = "coursehook-prod"
[profile.prod.tls]
client_cert_path = "`+cert+`"
client_key_path = "`+key+`"
server_ca_cert_path = "`+ca+`"
`)
	c, err := loadBoth(env(map[string]string{"TEMPORAL_CONFIG_FILE": file}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7999", c.TemporalAddress, "the default profile")
	require.Equal(t, DefaultNamespace, c.TemporalNamespace, "defaults fill what the profile leaves out")

	c, err = loadBoth(env(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod"}))
	require.NoError(t, err)
	require.Equal(t, "temporal.internal:7233", c.TemporalAddress)
	require.Equal(t, "coursehook-prod", c.TemporalNamespace)
	require.Equal(t, cert, c.Temporal.TLS.ClientCertPath)

	c, err = loadBoth(env(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod", "TEMPORAL_NAMESPACE": "coursehook-staging"}))
	require.NoError(t, err)
	require.Equal(t, "coursehook-staging", c.TemporalNamespace, "a variable wins over the profile")
	require.Equal(t, "temporal.internal:7233", c.TemporalAddress)

	_, err = loadBoth(env(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "stagin"}))
	require.ErrorContains(t, err, `TEMPORAL_PROFILE is "stagin", but `+file+` only defines "default", "prod"`)
	_, err = loadBoth(env(map[string]string{"TEMPORAL_PROFILE": "prod"}))
	require.ErrorContains(t, err, "TEMPORAL_PROFILE", "a profile asked for and no file to find it in")
	_, err = loadBoth(env(map[string]string{"TEMPORAL_CONFIG_FILE": writeTOML(t, "[profile.default\naddress=")}))
	require.ErrorContains(t, err, "TEMPORAL_CONFIG_FILE")

	c, err = loadBoth(env(map[string]string{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "absent.toml")}))
	require.NoError(t, err, "no file is no profile, as for the CLI")
	require.Equal(t, DefaultTemporalAddress, c.TemporalAddress)
}

// TestTheCLIsOwnFileIsFoundThroughGetenv: with TEMPORAL_CONFIG_FILE unset,
// the file is where the Temporal CLI keeps it, found from HOME or
// XDG_CONFIG_HOME as getenv gives them, never from the process's own
// environment.
func TestTheCLIsOwnFileIsFoundThroughGetenv(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".config", "temporalio")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "temporal.toml"), []byte("[profile.default]\naddress = \"127.0.0.1:7444\"\n"), 0o600))
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")

	c, err := loadBoth(env(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultTemporalAddress, c.TemporalAddress, "the process's HOME is not read")

	c, err = loadBoth(env(map[string]string{"HOME": home}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7444", c.TemporalAddress)

	c, err = loadBoth(env(map[string]string{"HOME": t.TempDir(), "XDG_CONFIG_HOME": filepath.Join(home, ".config")}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7444", c.TemporalAddress)
}

func TestInvalidTemporalSettingsNameTheSetting(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	_, _, otherKey := tlsFiles(t)
	notPEM := filepath.Join(t.TempDir(), "ca.crt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	missing := filepath.Join(t.TempDir(), "missing.crt")
	pair := map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": cert, "TEMPORAL_TLS_CLIENT_KEY_PATH": key}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(pair)
		maps.Copy(m, extra)
		return m
	}
	cases := map[string]struct {
		vars map[string]string
		want []string
	}{
		"certificate file missing": {with(map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": missing}), []string{"TEMPORAL_TLS_CLIENT_CERT_PATH cannot be read", missing}},
		"key file missing":         {with(map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": missing}), []string{"TEMPORAL_TLS_CLIENT_KEY_PATH cannot be read"}},
		"certificate without key":  {map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": cert}, []string{"TEMPORAL_TLS_CLIENT_KEY_PATH is required when TEMPORAL_TLS_CLIENT_CERT_PATH is set"}},
		"key without certificate":  {map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": key}, []string{"TEMPORAL_TLS_CLIENT_CERT_PATH is required when TEMPORAL_TLS_CLIENT_KEY_PATH is set"}},
		"another certificate's key": {with(map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": otherKey}),
			[]string{"TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH are not a PEM certificate and its private key"}},
		"key given twice":   {with(map[string]string{"TEMPORAL_TLS_CLIENT_KEY_DATA": "-----BEGIN PRIVATE KEY-----"}), []string{"TEMPORAL_TLS_CLIENT_KEY_PATH and TEMPORAL_TLS_CLIENT_KEY_DATA are both set"}},
		"CA file missing":   {map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": missing}, []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH cannot be read"}},
		"CA file not PEM":   {map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": notPEM}, []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH holds no PEM certificate"}},
		"CA data not PEM":   {map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_DATA": "nope"}, []string{"TEMPORAL_TLS_SERVER_CA_CERT_DATA holds no PEM certificate"}},
		"TLS switch":        {map[string]string{"TEMPORAL_TLS": "yes"}, []string{`TEMPORAL_TLS must be true or false, got "yes"`}},
		"host verification": {map[string]string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "maybe"}, []string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION must be true or false"}},
		"address":           {map[string]string{"TEMPORAL_ADDRESS": "temporal.internal"}, []string{"TEMPORAL_ADDRESS must be host:port"}},
		"profile's certificate": {
			map[string]string{"TEMPORAL_CONFIG_FILE": writeTOML(t, "[profile.default.tls]\nclient_cert_path = \""+missing+"\"\nclient_key_path = \""+key+"\"\nserver_ca_cert_path = \""+ca+"\"\n")},
			[]string{`TEMPORAL_TLS_CLIENT_CERT_PATH (tls.client_cert_path of profile "default" in `, "cannot be read"},
		},
		"profile's address": {
			map[string]string{"TEMPORAL_CONFIG_FILE": writeTOML(t, "[profile.default]\naddress = \"temporal.internal\"\n")},
			[]string{`TEMPORAL_ADDRESS (address of profile "default" in `, "must be host:port"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadBoth(env(tc.vars))
			require.Error(t, err)
			for _, want := range tc.want {
				require.ErrorContains(t, err, want)
			}
		})
	}

	// TLS turned off ignores the certificate settings, as the CLI does.
	_, err := loadBoth(env(with(map[string]string{"TEMPORAL_TLS": "false", "TEMPORAL_TLS_CLIENT_CERT_PATH": missing})))
	require.NoError(t, err)
}

func TestAPIKeyStaysOutOfErrors(t *testing.T) {
	_, err := loadBoth(env(map[string]string{"TEMPORAL_API_KEY": "secret-api-key-0123", "TEMPORAL_ADDRESS": "nowhere", "TEMPORAL_TLS": "on"}))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret-api-key-0123")
}

// TestEveryTemporalVariableIsReadThroughGetenv: envconfig reads the
// standard variables through the injected getenv, so tests and the compose
// check see them, for every binary.
func TestEveryTemporalVariableIsReadThroughGetenv(t *testing.T) {
	for _, b := range []Binary{Worker, Starter, Ctl} {
		seen := map[string]bool{}
		_, err := Load(func(k string) string { seen[k] = true; return "" }, b)
		require.NoError(t, err)
		for _, name := range []string{
			"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS",
			"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_DATA",
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_DATA", "TEMPORAL_TLS_SERVER_NAME",
			"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "TEMPORAL_CLIENT_AUTHORITY", "TEMPORAL_PROFILE", "TEMPORAL_CONFIG_FILE",
		} {
			require.True(t, seen[name], "binary %d never reads %s", b, name)
		}
	}
}

func TestEncryptionKeyFile(t *testing.T) {
	spec, err := codec.GenerateSpec("local-1")
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "encryption.key")
	require.NoError(t, os.WriteFile(file, []byte(spec+"\n"), 0o600))
	c, err := Load(env(map[string]string{"ENCRYPTION_KEYS_FILE": file}), Ctl)
	require.NoError(t, err)
	require.NotNil(t, c.Encryption)
	require.Equal(t, "local-1", c.Encryption.ActiveID())

	_, err = Load(env(map[string]string{"ENCRYPTION_KEYS_FILE": filepath.Join(t.TempDir(), "missing")}), Worker)
	require.ErrorContains(t, err, "ENCRYPTION_KEYS_FILE")
	c, err = Load(env(nil), Worker)
	require.NoError(t, err)
	require.Nil(t, c.Encryption, "no variable, no file: plaintext")
}
