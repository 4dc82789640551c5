package codec_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/coursehook/coursehook/codec"
)

const (
	email = "bob.johnson@example.com"
	name  = "Bob Johnson"
)

// testKey returns a fixed key and its base64, so that failures are
// reproducible and tests can check the base64 never leaks into errors.
func testKey(fill byte) ([]byte, string) {
	k := bytes.Repeat([]byte{fill}, codec.KeySize)
	return k, base64.StdEncoding.EncodeToString(k)
}

func mustKeys(t *testing.T, keys, active string) codec.Keys {
	t.Helper()
	k, err := codec.ParseKeys(keys, active)
	require.NoError(t, err)
	return k
}

func keyring(t *testing.T, active string, ids ...string) codec.Keys {
	t.Helper()
	specs := make([]string, len(ids))
	for i, id := range ids {
		_, b64 := testKey(id[0])
		specs[i] = id + ":" + b64
	}
	return mustKeys(t, strings.Join(specs, ","), active)
}

// samplePayloads are what the SDK's default converter makes of typical
// workflow values.
func samplePayloads(t *testing.T) []*commonpb.Payload {
	t.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads(
		map[string]string{"user": email, "name": name},
		email,
		nil,
		[]byte{0, 1, 2, 3},
		42,
	)
	require.NoError(t, err)
	return ps.Payloads
}

func TestRoundTrip(t *testing.T) {
	c := codec.NewCodec(keyring(t, "a", "a"))
	in := samplePayloads(t)
	// Encode must not change its input: the SDK may still hold it.
	orig := make([]*commonpb.Payload, len(in))
	for i, p := range in {
		orig[i] = proto.Clone(p).(*commonpb.Payload)
	}

	enc, err := c.Encode(in)
	require.NoError(t, err)
	require.Len(t, enc, len(in))
	for i, p := range enc {
		require.Equal(t, codec.MetadataEncodingEncrypted, string(p.Metadata[converter.MetadataEncoding]), "payload %d", i)
		require.Equal(t, "a", string(p.Metadata[codec.MetadataKeyID]), "payload %d", i)
		require.Len(t, p.Metadata, 2, "payload %d: the original metadata is inside the ciphertext", i)
		require.NotContains(t, string(p.Data), email)
		require.NotContains(t, string(p.Data), name)
		require.NotContains(t, string(p.Data), "json/plain")
	}

	dec, err := c.Decode(enc)
	require.NoError(t, err)
	require.Len(t, dec, len(orig))
	for i := range orig {
		require.True(t, proto.Equal(orig[i], dec[i]), "payload %d: got %v, want %v", i, dec[i], orig[i])
		require.True(t, proto.Equal(orig[i], in[i]), "payload %d was changed by Encode", i)
	}
}

func TestEncodeUsesAFreshNonceEachTime(t *testing.T) {
	c := codec.NewCodec(keyring(t, "a", "a"))
	p := samplePayloads(t)[:1]
	first, err := c.Encode(p)
	require.NoError(t, err)
	second, err := c.Encode(p)
	require.NoError(t, err)
	require.NotEqual(t, first[0].Data, second[0].Data)
}

func TestDataConverter(t *testing.T) {
	type learner struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	dc := codec.DataConverter(keyring(t, "a", "a"))
	p, err := dc.ToPayload(learner{Email: email, Name: name})
	require.NoError(t, err)
	require.Equal(t, codec.MetadataEncodingEncrypted, string(p.Metadata[converter.MetadataEncoding]))
	require.NotContains(t, string(p.Data), email)

	var got learner
	require.NoError(t, dc.FromPayload(p, &got))
	require.Equal(t, learner{Email: email, Name: name}, got)
}

func TestRotation(t *testing.T) {
	old, err := codec.NewCodec(keyring(t, "a", "a")).Encode(samplePayloads(t))
	require.NoError(t, err)

	t.Run("old key still listed", func(t *testing.T) {
		rotated := codec.NewCodec(keyring(t, "b", "a", "b"))
		dec, err := rotated.Decode(old)
		require.NoError(t, err)
		require.True(t, proto.Equal(samplePayloads(t)[0], dec[0]))

		fresh, err := rotated.Encode(samplePayloads(t)[:1])
		require.NoError(t, err)
		require.Equal(t, "b", string(fresh[0].Metadata[codec.MetadataKeyID]), "new payloads use the active key")
	})

	t.Run("old key dropped", func(t *testing.T) {
		_, err := codec.NewCodec(keyring(t, "b", "b")).Decode(old)
		require.ErrorContains(t, err, `key "a"`)
		require.ErrorContains(t, err, codec.KeysVar)
		// A missing key is a configuration problem: the workflow task
		// should be retried, not the workflow failed.
		var taskErr *converter.WorkflowTaskFailureError
		require.ErrorAs(t, err, &taskErr)
	})
}

func TestTamperingFails(t *testing.T) {
	c := codec.NewCodec(keyring(t, "a", "a"))
	enc, err := c.Encode(samplePayloads(t)[:1])
	require.NoError(t, err)
	n := len(enc[0].Data)

	// The nonce, the ciphertext and the tag are each covered.
	for _, at := range []int{0, 12, n / 2, n - 1} {
		tampered := proto.Clone(enc[0]).(*commonpb.Payload)
		tampered.Data[at] ^= 0x01
		_, err := c.Decode([]*commonpb.Payload{tampered})
		require.ErrorContains(t, err, "authentication failed", "byte %d", at)
	}

	truncated := proto.Clone(enc[0]).(*commonpb.Payload)
	truncated.Data = truncated.Data[:10]
	_, err = c.Decode([]*commonpb.Payload{truncated})
	require.ErrorContains(t, err, "authentication failed")

	noID := proto.Clone(enc[0]).(*commonpb.Payload)
	delete(noID.Metadata, codec.MetadataKeyID)
	_, err = c.Decode([]*commonpb.Payload{noID})
	require.ErrorContains(t, err, codec.MetadataKeyID)
}

func TestWrongKeyUnderSameIDFails(t *testing.T) {
	enc, err := codec.NewCodec(keyring(t, "a", "a")).Encode(samplePayloads(t)[:1])
	require.NoError(t, err)
	_, other := testKey('z')
	_, err = codec.NewCodec(mustKeys(t, "a:"+other, "a")).Decode(enc)
	require.ErrorContains(t, err, "authentication failed")
}

func TestDecodePassesUnencryptedPayloadsThrough(t *testing.T) {
	c := codec.NewCodec(keyring(t, "a", "a"))
	plain := samplePayloads(t)
	enc, err := c.Encode(plain[:1])
	require.NoError(t, err)
	mixed := append([]*commonpb.Payload{enc[0]}, plain[1:]...)

	dec, err := c.Decode(mixed)
	require.NoError(t, err)
	for i := range plain {
		require.True(t, proto.Equal(plain[i], dec[i]), "payload %d", i)
	}
	require.Same(t, plain[1], dec[1], "unencrypted payloads are not copied")
}

func TestZeroKeysRefuseToEncrypt(t *testing.T) {
	_, err := codec.NewCodec(codec.Keys{}).Encode(samplePayloads(t))
	require.ErrorContains(t, err, "no active key")
}

func TestConcurrentUse(t *testing.T) {
	c := codec.NewCodec(keyring(t, "a", "a"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				enc, err := c.Encode(samplePayloads(t))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Decode(enc); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseKeys(t *testing.T) {
	raw, std := testKey('k')
	urlRaw := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, codec.KeySize))
	_, other := testKey('o')

	t.Run("accepted", func(t *testing.T) {
		for _, keys := range []string{
			"k1:" + std,
			"k1:" + base64.RawStdEncoding.EncodeToString(raw),
			"k1:" + base64.URLEncoding.EncodeToString(raw),
			" k1 : " + std + " , k2:" + urlRaw + " ",
		} {
			k, err := codec.ParseKeys(keys, " k1 ")
			require.NoError(t, err, keys)
			require.Equal(t, "k1", k.ActiveID())
		}
	})

	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'s'}, 16))
	bad := "not*base64*" + std[:10]
	for _, tc := range []struct {
		name, keys, active string
		want               []string // substrings of the error
		secret             string   // must not appear in the error
	}{
		{"empty", "", "k1", []string{"ENCRYPTION_KEYS", "empty"}, ""},
		{"only spaces", "   ", "k1", []string{"ENCRYPTION_KEYS", "empty"}, ""},
		{"bad base64", "k1:" + bad, "k1", []string{"ENCRYPTION_KEYS", `"k1"`, "base64"}, bad},
		{"16-byte key", "k1:" + short, "k1", []string{"ENCRYPTION_KEYS", `"k1"`, "16 bytes", "32"}, short},
		{"duplicate id", "k1:" + std + ",k1:" + other, "k1", []string{"ENCRYPTION_KEYS", `"k1"`, "twice"}, other},
		{"active not listed", "k1:" + std, "k2", []string{"ENCRYPTION_KEY_ID", `"k2"`, "k1"}, std},
		{"active empty", "k1:" + std, "", []string{"ENCRYPTION_KEY_ID", "empty"}, std},
		{"key pasted as active id", "k1:" + std, std, []string{"ENCRYPTION_KEY_ID", "not a key id"}, std},
		{"colon missing", std, "k1", []string{"ENCRYPTION_KEYS", "entry 1", "colon"}, std},
		{"colon missing in second", "k1:" + std + "," + other, "k1", []string{"ENCRYPTION_KEYS", "entry 2", "colon"}, other},
		{"empty id", ":" + std, "k1", []string{"ENCRYPTION_KEYS", "entry 1", "empty"}, std},
		{"id with space", "my key:" + std, "k1", []string{"ENCRYPTION_KEYS", "entry 1", "letters"}, std},
		{"trailing comma", "k1:" + std + ",", "k1", []string{"ENCRYPTION_KEYS", "entry 2", "empty"}, std},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := codec.ParseKeys(tc.keys, tc.active)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			if tc.secret != "" {
				require.NotContains(t, err.Error(), tc.secret)
				// Nor any recognisable piece of it.
				require.NotContains(t, err.Error(), tc.secret[:8])
			}
		})
	}
}

func TestGenerateSpec(t *testing.T) {
	spec, err := codec.GenerateSpec("local-20260101")
	require.NoError(t, err)
	k, err := codec.ParseKeys(spec, "local-20260101")
	require.NoError(t, err)
	require.Equal(t, "local-20260101", k.ActiveID())

	again, err := codec.GenerateSpec("local-20260101")
	require.NoError(t, err)
	require.NotEqual(t, spec, again, "every key is fresh")

	_, err = codec.GenerateSpec("bad:id")
	require.Error(t, err)

	key, err := codec.NewKey()
	require.NoError(t, err)
	require.Len(t, key, codec.KeySize)
}

const uiOrigin = "http://localhost:8233"

// uiRequest builds the request the Temporal UI sends to the codec server.
func uiRequest(t *testing.T, url string, payloads []*commonpb.Payload) *http.Request {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", uiOrigin)
	return req
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := testHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestHandlerDecodes(t *testing.T) {
	keys := keyring(t, "a", "a")
	enc, err := codec.NewCodec(keys).Encode(samplePayloads(t))
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.Handle("/codec/", http.StripPrefix("/codec", codec.Handler(keys, codec.HandlerOptions{AllowedOrigin: uiOrigin})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	resp, body := do(t, uiRequest(t, srv.URL+"/codec/decode", enc))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	var got commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(body, &got))
	want := samplePayloads(t)
	require.Len(t, got.Payloads, len(want))
	for i := range want {
		require.True(t, proto.Equal(want[i], got.Payloads[i]), "payload %d", i)
	}
	require.Contains(t, string(got.Payloads[0].Data), email)

	// /encode is there too, for the CLI and the UI's signal and update forms.
	resp, body = do(t, uiRequest(t, srv.URL+"/codec/encode", want[:1]))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, protojson.Unmarshal(body, &got))
	require.Equal(t, codec.MetadataEncodingEncrypted, string(got.Payloads[0].Metadata[converter.MetadataEncoding]))
}

func TestHandlerReportsUndecryptablePayloads(t *testing.T) {
	enc, err := codec.NewCodec(keyring(t, "a", "a")).Encode(samplePayloads(t)[:1])
	require.NoError(t, err)
	srv := httptest.NewServer(codec.Handler(keyring(t, "b", "b"), codec.HandlerOptions{AllowedOrigin: uiOrigin}))
	t.Cleanup(srv.Close)

	resp, body := do(t, uiRequest(t, srv.URL+"/decode", enc))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), `key "a"`)
}

func TestHandlerCORS(t *testing.T) {
	srv := httptest.NewServer(codec.Handler(keyring(t, "a", "a"), codec.HandlerOptions{
		AllowedOrigin: uiOrigin + "/", // as configuration often spells it
		BearerToken:   "s3cret",
	}))
	t.Cleanup(srv.Close)

	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
		resp, _ := do(t, req)
		return resp
	}

	t.Run("allowed origin, no token needed", func(t *testing.T) {
		resp := preflight(uiOrigin)
		require.Less(t, resp.StatusCode, 300)
		h := resp.Header
		require.Equal(t, uiOrigin, h.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "true", h.Get("Access-Control-Allow-Credentials"))
		require.Equal(t, "POST", h.Get("Access-Control-Allow-Methods"))
		allowHeaders := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
		for _, want := range []string{"content-type", "x-namespace", "authorization"} {
			require.Contains(t, allowHeaders, want)
		}
		require.Contains(t, h.Values("Vary"), "Origin")
	})

	t.Run("other origin", func(t *testing.T) {
		for _, origin := range []string{"http://evil.example", "http://localhost:8234", "https://localhost:8233"} {
			resp := preflight(origin)
			require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), origin)
			require.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"), origin)
		}
		req := uiRequest(t, srv.URL+"/decode", nil)
		req.Header.Set("Origin", "http://evil.example")
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, _ := do(t, req)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	})
}

func TestHandlerBearerToken(t *testing.T) {
	keys := keyring(t, "a", "a")
	enc, err := codec.NewCodec(keys).Encode(samplePayloads(t)[:1])
	require.NoError(t, err)
	srv := httptest.NewServer(codec.Handler(keys, codec.HandlerOptions{AllowedOrigin: uiOrigin, BearerToken: "s3cret"}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"wrong", "Bearer nope", http.StatusUnauthorized},
		{"prefix of the right one", "Bearer s3cre", http.StatusUnauthorized},
		{"other scheme", "Basic s3cret", http.StatusUnauthorized},
		{"bare token", "s3cret", http.StatusUnauthorized},
		{"right", "Bearer s3cret", http.StatusOK},
		{"right, scheme in lower case", "bearer s3cret", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := uiRequest(t, srv.URL+"/decode", enc)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, body := do(t, req)
			require.Equal(t, tc.want, resp.StatusCode, string(body))
			if tc.want == http.StatusUnauthorized {
				require.NotContains(t, string(body), email)
				// The browser must be able to read the refusal.
				require.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}

	// The CLI sends no Origin; it needs the token all the same.
	req := uiRequest(t, srv.URL+"/decode", enc)
	req.Header.Del("Origin")
	resp, _ := do(t, req)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req = uiRequest(t, srv.URL+"/decode", enc)
	req.Header.Del("Origin")
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, body := do(t, req)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

func TestHandlerRefusesOtherMethodsAndPaths(t *testing.T) {
	srv := httptest.NewServer(codec.Handler(keyring(t, "a", "a"), codec.HandlerOptions{AllowedOrigin: uiOrigin}))
	t.Cleanup(srv.Close)

	resp, err := testHTTP.Get(srv.URL + "/decode")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, _ = do(t, uiRequest(t, srv.URL+"/other", nil))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
