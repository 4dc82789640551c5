package certmail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// sentMail records the message it is given.
type sentMail struct{ msgs []mail.Message }

func (s *sentMail) Send(_ context.Context, m mail.Message) (mail.Receipt, error) {
	s.msgs = append(s.msgs, m)
	return mail.Receipt{MessageID: "msg-1"}, nil
}

// renderData records what the certificate was rendered from.
type renderData struct {
	data     []certificate.Data
	versions []int
}

func (r *renderData) render(version int, d certificate.Data) ([]byte, error) {
	r.data = append(r.data, d)
	r.versions = append(r.versions, version)
	return []byte("%PDF-1.4 stand-in"), nil
}

const (
	baseURL = "https://certificates.example.com"
	code    = "7KQ2M-X4D9R-0ZPV3-TNW8H"
)

func input() workflows.NoticeInput {
	return workflows.NoticeInput{
		Event: event.Event{
			ID: "32ed16df-27cb-5f72-90ff-4eaf39346f86", Event: event.TypeCourseCompletion,
			Timestamp: "2019-10-17T20:50:53.103Z", User: "bob.johnson@example.com",
			NotifiableID: "7670fdbe-15ed-504b-a680-d404fa4b0eb4", Title: " Q&A #1:\u200b \"C++\" für 100% — 入门 ",
			UserDetail: &event.UserDetail{FirstName: "Bob", LastName: "Johnson"},
		},
		ReceivedAt:       time.Date(2019, 10, 17, 20, 50, 54, 0, time.UTC),
		Route:            &courses.Route{Email: courses.EmailRoute{Enabled: true}, Certificate: courses.CertificateRoute{Issuer: "Acme & Co."}, LinkedIn: courses.LinkedInRoute{OrganizationID: "1337"}},
		VerificationCode: code,
	}
}

// TestSendAddToLinkedIn: the email links LinkedIn only with verification on
// (a base URL and a code), and then to the very page the certificate's QR
// code holds.
func TestSendAddToLinkedIn(t *testing.T) {
	tests := []struct {
		name    string
		baseURL string
		issuer  string
		edit    func(*workflows.NoticeInput)
		// want are the link's organization parameters; nil: no link.
		want url.Values
	}{
		{name: "the course's LinkedIn page", baseURL: baseURL, want: url.Values{"organizationId": {"1337"}}},
		{name: "the issuer without a page", baseURL: baseURL,
			edit: func(in *workflows.NoticeInput) { in.Route.LinkedIn = courses.LinkedInRoute{} },
			want: url.Values{"organizationName": {"Acme & Co."}}},
		{name: "the default issuer without an issuer", baseURL: baseURL + "/", issuer: "Coursehook Academy",
			edit: func(in *workflows.NoticeInput) {
				in.Route.LinkedIn, in.Route.Certificate.Issuer = courses.LinkedInRoute{}, " "
			},
			want: url.Values{"organizationName": {"Coursehook Academy"}}},
		{name: "no route", baseURL: baseURL, issuer: "Coursehook Academy",
			edit: func(in *workflows.NoticeInput) { in.Route = nil },
			want: url.Values{"organizationName": {"Coursehook Academy"}}},
		{name: "no organisation at all", baseURL: baseURL,
			edit: func(in *workflows.NoticeInput) { in.Route = nil },
			want: url.Values{}},
		{name: "no PUBLIC_BASE_URL", baseURL: ""},
		{name: "no verification code", baseURL: baseURL,
			edit: func(in *workflows.NoticeInput) { in.VerificationCode = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, rendered := &sentMail{}, &renderData{}
			ch := Channel{Mail: sent, Render: rendered.render, PublicBaseURL: tt.baseURL, IssuerName: tt.issuer}
			in := input()
			if tt.edit != nil {
				tt.edit(&in)
			}
			r, err := ch.Send(t.Context(), in)
			require.NoError(t, err)
			require.Equal(t, "msg-1", r.ID)
			require.Len(t, sent.msgs, 1)
			require.Len(t, rendered.data, 1)
			msg, v := sent.msgs[0], rendered.data[0].Verification

			if tt.want == nil {
				require.Empty(t, msg.LinkedInURL)
				require.Nil(t, v, "no verification, no page to link to")
				return
			}
			require.NotNil(t, v)
			u, err := url.Parse(msg.LinkedInURL)
			require.NoError(t, err)
			require.Equal(t, "https://www.linkedin.com/profile/add", u.Scheme+"://"+u.Host+u.Path)
			want := url.Values{
				"startTask":  {"CERTIFICATION_NAME"},
				"name":       {`Q&A #1: "C++" für 100% — 入门`},
				"issueYear":  {"2019"},
				"issueMonth": {"10"},
				"certUrl":    {verify.PageURL(baseURL, code)},
				"certId":     {code},
			}
			for k, vs := range tt.want {
				want[k] = vs
			}
			require.Equal(t, want, u.Query())
			require.Equal(t, v.URL, u.Query().Get("certUrl"), "the page the QR code holds")
			require.Equal(t, v.Code, u.Query().Get("certId"))
		})
	}
}

// TestSendDrawsWithTheRowsRenderer: the certificate is drawn by the
// renderer version the row records, and an input from before versions by
// version 1, which drew every certificate then; the receipt's SHA-256 is
// that file's.
func TestSendDrawsWithTheRowsRenderer(t *testing.T) {
	for _, tt := range []struct{ given, want int }{{0, certificate.Renderer1}, {1, certificate.Renderer1}, {2, certificate.Renderer2}} {
		sent := &sentMail{}
		ch := Channel{Mail: sent, Render: certificate.RenderVersion, PublicBaseURL: baseURL}
		in := input()
		in.Renderer = tt.given
		r, err := ch.Send(t.Context(), in)
		require.NoError(t, err)
		require.Len(t, sent.msgs, 1)

		data, err := certificate.ForEvent(in.Event, in.ReceivedAt, in.Route, nil,
			&certificate.Verification{Code: code, URL: verify.PageURL(baseURL, code)}, time.Time{})
		require.NoError(t, err)
		want, err := certificate.RenderVersion(tt.want, data)
		require.NoError(t, err)
		require.Equal(t, want, sent.msgs[0].Certificate, "renderer %d", tt.given)
		sum := sha256.Sum256(want)
		require.Equal(t, hex.EncodeToString(sum[:]), r.SHA256)
	}
}

// TestSendLinkedInReachesBothParts builds the email certmail hands over, as
// SendGrid and the outbox do, and finds the link in both parts.
func TestSendLinkedInReachesBothParts(t *testing.T) {
	sent := &sentMail{}
	ch := Channel{Mail: sent, Render: (&renderData{}).render, PublicBaseURL: baseURL}
	_, err := ch.Send(t.Context(), input())
	require.NoError(t, err)
	require.Len(t, sent.msgs, 1)
	link := sent.msgs[0].LinkedInURL
	require.NotEmpty(t, link)

	parts := map[string]string{}
	for _, c := range mail.Build(mail.From{Email: "certificates@example.com"}, sent.msgs[0]).Content {
		parts[c.Type] = c.Value
	}
	require.Contains(t, parts["text/plain"], "Add it to your LinkedIn profile: "+link+"\n")
	require.Contains(t, parts["text/html"], `<a href="`+html.EscapeString(link)+`">Add to LinkedIn</a>`)
}
