package sendgridtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
)

// Mail is a decoded v3 request body, flattened for assertions.
type Mail struct {
	From struct {
		Email, Name string
	}
	Subject    string
	To         []string // addresses of every personalization's to
	ToNames    []string // display names, parallel to To
	Text, HTML string   // the text/plain and text/html content
	// CustomArgs are the top-level custom_args overlaid with the first
	// personalization's, which is how SendGrid combines them.
	CustomArgs  map[string]string
	Attachments []Attachment
}

// Attachment is one decoded attachment.
type Attachment struct {
	Filename, Type, Disposition string
	Content                     []byte // base64-decoded
}

// Mail decodes the message body.
func (s Sent) Mail() (Mail, error) {
	var w wireMail
	if err := json.Unmarshal(s.Body, &w); err != nil {
		return Mail{}, fmt.Errorf("decode message %s: %w", s.MessageID, err)
	}
	var m Mail
	if w.From != nil {
		m.From.Email, m.From.Name = w.From.Email, w.From.Name
	}
	m.Subject = w.Subject
	m.CustomArgs = maps.Clone(w.CustomArgs)
	for i, p := range w.Personalizations {
		for _, to := range p.To {
			m.To = append(m.To, to.Email)
			m.ToNames = append(m.ToNames, to.Name)
		}
		if i > 0 {
			continue
		}
		if p.Subject != "" {
			m.Subject = p.Subject
		}
		if len(p.CustomArgs) > 0 && m.CustomArgs == nil {
			m.CustomArgs = map[string]string{}
		}
		maps.Copy(m.CustomArgs, p.CustomArgs)
	}
	for _, c := range w.Content {
		switch c.Type {
		case "text/plain":
			m.Text = c.Value
		case "text/html":
			m.HTML = c.Value
		}
	}
	for i, a := range w.Attachments {
		content, err := base64.StdEncoding.DecodeString(a.Content)
		if err != nil {
			return Mail{}, fmt.Errorf("decode attachment %d of message %s: %w", i, s.MessageID, err)
		}
		m.Attachments = append(m.Attachments, Attachment{
			Filename:    a.Filename,
			Type:        a.Type,
			Disposition: a.Disposition,
			Content:     content,
		})
	}
	return m, nil
}
