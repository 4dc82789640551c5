package mail

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
	"github.com/stretchr/testify/require"
)

func TestOutboxWritesEnvelopeAndPDF(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir, From: sampleFrom}
	m := sampleMessage()

	receipt, err := o.Send(t.Context(), m)
	require.NoError(t, err)
	folder := filepath.Join(dir, "email")
	require.Equal(t, filepath.Join(folder, sampleEventID+".json"), receipt.MessageID)

	pdf, err := os.ReadFile(filepath.Join(folder, sampleEventID+".pdf"))
	require.NoError(t, err)
	require.Equal(t, samplePDF, pdf)

	envelope, err := os.ReadFile(receipt.MessageID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(envelope), "{\n  "), "the envelope is indented for people to read")
	require.Contains(t, string(envelope), "<p>Congratulations, Bob Johnson!</p>", "the HTML part is legible, not \\u003c-escaped")

	// The envelope is the posted body except for the attachment's content.
	want := Build(sampleFrom, m)
	want.Attachments[0].Content = sampleEventID + ".pdf"
	require.JSONEq(t, string(sgmail.GetRequestBody(want)), string(envelope))

	var w wire
	require.NoError(t, json.Unmarshal(envelope, &w))
	require.Equal(t, "Your certificate for New Student Orientation", w.Subject)
	require.Equal(t, "certificate-"+sampleEventID+".pdf", w.Attachments[0].Filename)
}

func TestOutboxRewriteReplacesFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := Outbox{Dir: dir, From: sampleFrom}
	m := sampleMessage()

	first, err := o.Send(t.Context(), m)
	require.NoError(t, err)
	m.Certificate = []byte("%PDF-1.4 second render")
	second, err := o.Send(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, first, second)

	entries, err := os.ReadDir(filepath.Join(dir, "email"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{sampleEventID + ".json", sampleEventID + ".pdf"}, names)

	pdf, err := os.ReadFile(filepath.Join(dir, "email", sampleEventID+".pdf"))
	require.NoError(t, err)
	require.Equal(t, m.Certificate, pdf)
}

func TestOutboxKeepsUntrustedIDsInside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := sampleMessage()
	m.EventID = "../../escape"

	receipt, err := Outbox{Dir: dir, From: sampleFrom}.Send(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "email"), filepath.Dir(receipt.MessageID))
}

func TestOutboxHonoursCancellation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := Outbox{Dir: dir, From: sampleFrom}.Send(ctx, sampleMessage())
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(filepath.Join(dir, "email"))
	require.True(t, os.IsNotExist(err), "nothing is written for a cancelled send")
}
