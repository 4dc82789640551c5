package certmail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/channel"
)

// reports stands in for the delivery events in the database: SendGrid's
// report of an email shows up after a number of looks.
type reports struct {
	mu sync.Mutex
	// arrive answers DeliveryEventsArrive; err fails both methods.
	arrive bool
	err    error
	// after is how many looks find nothing before the report is there;
	// -1 never.
	after int
	looks int
	// asked are the (event, resend, since) of the looks.
	asked []string
}

func (r *reports) EmailAccepted(_ context.Context, eventID, resendID string, since time.Time) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.looks++
	r.asked = append(r.asked, eventID+"/"+resendID+"@"+since.Format(time.RFC3339))
	if r.err != nil {
		return "", false, r.err
	}
	if r.after < 0 || r.looks <= r.after {
		return "", false, nil
	}
	return "sg-msg-1", true, nil
}

func (r *reports) DeliveryEventsArrive(context.Context, time.Time) (bool, error) {
	return r.arrive, r.err
}

func TestFindInDeliveryEvents(t *testing.T) {
	since := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	pdf := []byte("%PDF-1.4 stand-in")
	sum := sha256.Sum256(pdf)
	tests := []struct {
		name      string
		events    *reports
		wait      time.Duration
		found     bool
		cannot    bool
		wantLooks int
	}{
		{name: "no events configured", events: nil},
		{name: "events never arrive here: no wait", events: &reports{arrive: false, after: -1}, wait: time.Minute},
		{name: "reported already", events: &reports{arrive: true}, found: true, wantLooks: 1},
		{name: "reported while waiting", events: &reports{arrive: true, after: 2}, wait: 5 * time.Second, found: true, wantLooks: 3},
		{name: "not reported within the wait", events: &reports{arrive: true, after: -1}, wait: 1200 * time.Millisecond, wantLooks: 3},
		{name: "database unreachable: send anyway", events: &reports{arrive: true, err: errors.New("connection refused")}, cannot: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := Channel{Mail: &sentMail{}, Render: (&renderData{}).render, Wait: tt.wait}
			if tt.events != nil {
				ch.Events = tt.events
			}
			in := input()
			in.ResendID = "req-1"
			r, found, err := ch.Find(t.Context(), in, since)
			if tt.cannot {
				require.ErrorIs(t, err, channel.ErrCannotLook)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.found, found)
			if tt.found {
				require.Equal(t, "sg-msg-1", r.ID)
				require.Equal(t, hex.EncodeToString(sum[:]), r.SHA256, "the receipt carries the certificate's hash, as a send's")
				require.Equal(t, in.Event.ID+"/req-1@"+since.Format(time.RFC3339), tt.events.asked[0])
			}
			if tt.events != nil {
				require.Equal(t, tt.wantLooks, tt.events.looks)
			}
		})
	}
}

// TestFindWaitsNoLongerThanTheAttempt: the wait leaves the attempt time to
// render and send.
func TestFindWaitsNoLongerThanTheAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), sendTime+time.Second)
	defer cancel()
	ev := &reports{arrive: true, after: -1}
	ch := Channel{Mail: &sentMail{}, Render: (&renderData{}).render, Wait: time.Minute, Events: ev}
	start := time.Now()
	_, found, err := ch.Find(ctx, input(), time.Now())
	require.NoError(t, err)
	require.False(t, found)
	require.Less(t, time.Since(start), 2*time.Second)
	require.NoError(t, ctx.Err(), "time is left to send")
}
