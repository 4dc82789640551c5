package onward_test

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/coursehook/coursehook/onward"
)

// A receiver checks the signature over the exact bytes it was sent, before
// parsing them, and answers 2xx only once the event is safely stored. The
// webhook-id header stays the same across retries: store it to skip repeats.
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // shared with coursehook
	mux := http.NewServeMux()
	mux.HandleFunc("POST /coursehook", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := onward.Verify(secret, r.Header, body); err != nil {
			// A 4xx tells coursehook not to retry this delivery.
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		slog.Info("course event", "webhook_id", r.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Addr: ":8443", Handler: mux}
	if err := srv.ListenAndServeTLS("cert.pem", "key.pem"); err != nil {
		slog.Error("receiver stopped", "err", err)
	}
}
