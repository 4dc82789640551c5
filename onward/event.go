package onward

import (
	"time"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/workflows"
)

// The event the webhook channel posts: its type, and the version of its
// schema. A change that could break a receiver gets a new version.
const (
	EventType    = "course.completed"
	EventVersion = 1
)

// Event is the JSON body of one delivery (docs/channels.md, "Onward webhooks",
// gives the schema). Every field is data the platform sent or coursehook
// decided; none is a secret.
type Event struct {
	Type    string `json:"type"`
	Version int    `json:"version"`
	// ID is the delivery's id, the webhook-id header: the same on every
	// retry, so a receiver can drop a repeat.
	ID string `json:"id"`
	// Timestamp is when the learner completed the course.
	Timestamp time.Time  `json:"timestamp"`
	Data      Completion `json:"data"`
}

// Completion is what the event says.
type Completion struct {
	// EventID is the platform's id of the completion event.
	EventID     string    `json:"eventId"`
	CompletedAt time.Time `json:"completedAt"`
	// ReceivedAt is when coursehook accepted the platform's delivery.
	ReceivedAt  time.Time    `json:"receivedAt"`
	Learner     Learner      `json:"learner"`
	Course      Course       `json:"course"`
	Company     Company      `json:"company"`
	Certificate *Certificate `json:"certificate,omitempty"`
	Route       Route        `json:"route"`
	// PreviousEventID is the learner's earlier completion of the course,
	// when this one is a re-completion.
	PreviousEventID string `json:"previousEventId,omitempty"`
	// ResendID is the operator's resend request this delivery answers;
	// empty for the first delivery.
	ResendID string `json:"resendId,omitempty"`
}

// Learner is the learner as the platform sent them: its userDetail ids and
// the customer's own references.
type Learner struct {
	Email              string `json:"email"`
	FirstName          string `json:"firstName,omitempty"`
	LastName           string `json:"lastName,omitempty"`
	ID                 string `json:"id,omitempty"`
	ExternalCustomerID string `json:"externalCustomerId,omitempty"`
	SFContactID        string `json:"sfContactId,omitempty"`
	SFAccountID        string `json:"sfAccountId,omitempty"`
	Ref1               string `json:"ref1,omitempty"`
	Ref2               string `json:"ref2,omitempty"`
	Ref3               string `json:"ref3,omitempty"`
}

// Course is the course: the platform's id and title, and the operators'
// name from COURSES_FILE when it has one.
type Course struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Name  string `json:"name,omitempty"`
}

// Company is the learner's company on the platform.
type Company struct {
	ID string `json:"id,omitempty"`
}

// Certificate is the certificate's public verification, when coursehook
// verifies certificates (PUBLIC_BASE_URL).
type Certificate struct {
	VerificationCode string `json:"verificationCode"`
	VerificationURL  string `json:"verificationUrl"`
}

// Route is what the course's route sent for this completion.
type Route struct {
	Slack   bool `json:"slack"`
	Email   bool `json:"email"`
	Webhook bool `json:"webhook"`
	// SlackChannel is the Slack channel the notice went to, when the
	// course has its own.
	SlackChannel string `json:"slackChannel,omitempty"`
}

// NewEvent is the event for one completion. full is the event as the
// platform sent it (the workflow carries only the brief one, without the
// references); in is the notice the workflow asked for.
func NewEvent(id string, full event.Event, in workflows.NoticeInput, verificationURL string) Event {
	completed := full.CompletionTime(in.ReceivedAt).UTC()
	c := Completion{
		EventID:     full.ID,
		CompletedAt: completed,
		ReceivedAt:  in.ReceivedAt.UTC(),
		Learner:     Learner{Email: full.User},
		Course:      Course{ID: full.NotifiableID, Title: full.Title},
		Company:     Company{ID: full.CompanyID},
		Route:       Route{Slack: true, Email: true, Webhook: true},
		ResendID:    in.ResendID,
	}
	if d := full.UserDetail; d != nil {
		c.Learner = Learner{Email: full.User, FirstName: d.FirstName, LastName: d.LastName, ID: d.ID,
			ExternalCustomerID: d.ExternalCustomerID, SFContactID: d.SFContactID, SFAccountID: d.SFAccountID,
			Ref1: d.Ref1, Ref2: d.Ref2, Ref3: d.Ref3}
	}
	if r := in.Route; r != nil {
		c.Course.Name = r.CourseName
		c.Route = Route{Slack: r.Slack.Enabled, Email: r.Email.Enabled, Webhook: true, SlackChannel: r.Slack.Channel}
	}
	if in.VerificationCode != "" && verificationURL != "" {
		c.Certificate = &Certificate{VerificationCode: in.VerificationCode, VerificationURL: verificationURL}
	}
	if p := in.Previous; p != nil {
		c.PreviousEventID = p.EventID
	}
	return Event{Type: EventType, Version: EventVersion, ID: id, Timestamp: completed, Data: c}
}
