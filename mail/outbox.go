package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/coursehook/coursehook/outbox"
)

var _ Sender = Outbox{}

// outboxKind is the outbox folder for emails.
const outboxKind = "email"

// Outbox writes each email to Dir/email instead of sending it: <event id>.json
// holds the v3 request body SendGrid would receive and <event id>.pdf the
// certificate.
type Outbox struct {
	Dir  string
	From From
}

// Send writes the certificate, then the envelope that names it, so an
// envelope never points at a missing file. The receipt's MessageID is the
// envelope's path. Sending the same event again replaces both files; a
// resend writes files of its own.
func (o Outbox) Send(ctx context.Context, m Message) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("write certificate email for event %s: %w", m.EventID, err)
	}
	name := outbox.MessageName(m.EventID, m.ResendID)
	if m.Reminder != nil {
		// email/<event id>-reminder-30d.json: a reminder is no resend.
		name = m.EventID + "-" + m.ResendID
	}
	var pdfPath string
	if m.Reminder == nil {
		var err error
		if pdfPath, err = outbox.Write(o.Dir, outboxKind, name, ".pdf", m.Certificate); err != nil {
			return Receipt{}, fmt.Errorf("write certificate for event %s: %w", m.EventID, err)
		}
	}

	envelope := Build(o.From, m)
	// A developer reads the envelope; megabytes of base64 would bury it, and
	// the PDF sits beside it.
	for _, a := range envelope.Attachments {
		a.Content = filepath.Base(pdfPath)
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetIndent("", "  ")
	// The same JSON value as the posted body, but with the HTML part legible
	// instead of full of \u003c.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope); err != nil {
		return Receipt{}, fmt.Errorf("encode email envelope for event %s: %w", m.EventID, err)
	}
	path, err := outbox.Write(o.Dir, outboxKind, name, ".json", data.Bytes())
	if err != nil {
		return Receipt{}, fmt.Errorf("write email envelope for event %s: %w", m.EventID, err)
	}
	return Receipt{MessageID: path}, nil
}
