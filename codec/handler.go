package codec

import (
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"

	"github.com/coursehook/coursehook/bearer"
)

// maxRequestBytes bounds a request body, which the SDK's handler reads
// whole. Temporal refuses payloads over 2 MiB by default; JSON's base64
// makes that about 2.7 MiB, and a request may carry several.
const maxRequestBytes = 16 << 20

// HandlerOptions configure the codec server.
type HandlerOptions struct {
	// AllowedOrigin is the one browser origin allowed to call the server:
	// the Temporal UI's, exactly as the browser sends it, such as
	// "http://localhost:8233". Empty allows no browser, only the CLI and
	// other non-browser clients.
	AllowedOrigin string
	// BearerToken, when set, is required as "Authorization: Bearer <token>"
	// on every request but CORS preflights, which browsers send without
	// credentials.
	BearerToken string
}

// Handler is the codec server for the Temporal UI and CLI. It answers POST
// <prefix>/encode and POST <prefix>/decode, with the Payloads as protobuf
// JSON, under whatever prefix it is mounted; the UI and CLI are configured
// with the prefix alone and add /decode themselves.
//
// Anyone who can reach it can decrypt, so expose it only where operators
// are, and set a bearer token when that is more than one machine.
func Handler(k Keys, opts HandlerOptions) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(NewCodec(k))
	// Browsers never send a trailing slash in Origin; configuration often
	// has one.
	allowed := strings.TrimSuffix(opts.AllowedOrigin, "/")
	token := bearer.New(opts.BearerToken)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin != "" {
			// A request from any other page is refused outright, not only
			// left unreadable by the browser.
			if allowed == "" || origin != allowed {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			h.Set("Access-Control-Allow-Origin", allowed)
			// The UI sends cookies when its codec setting "include
			// credentials" is on; the browser then needs this header.
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST")
			// The UI sends these; Authorization only when it passes its
			// access token.
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if opts.BearerToken != "" && !token.Matches(r) {
			h.Set("WWW-Authenticate", `Bearer realm="codec"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		}
		codec.ServeHTTP(w, r)
	})
}
