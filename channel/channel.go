// Package channel says what a notice channel is: the one interface a way of
// telling somebody about a completion implements (Slack, the certificate
// email, an onward webhook), and the classified failure its send returns.
// The worker registers a list of them; the activities, the workflow's steps,
// the store's receipts, the metrics and coursehookctl all go by a channel's
// name, so a new channel is a new implementation and a line in that list.
//
// The package is free of providers: the implementations bring theirs.
package channel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/workflows"
)

// Channel is one way of telling somebody about a completion.
type Channel interface {
	// Spec is what the worker and the workflow need to know of the
	// channel apart from how it sends.
	Spec() Spec
	// Enabled reports whether a course's route sends on this channel.
	Enabled(route courses.Route) bool
	// Send delivers the notice once and returns its receipt. A failure is
	// a *Failure, or any other error, which is retried.
	Send(ctx context.Context, n workflows.NoticeInput) (workflows.Receipt, error)
	// Find looks for the delivery an earlier attempt of the same notice
	// may have made since the given time, before its answer was lost to a
	// crash or a timeout: found means return that receipt rather than send
	// again. A channel that cannot look says found false; one that cannot
	// look with this configuration returns an error wrapping ErrCannotLook,
	// and the notice is sent anyway; any other error retries the attempt.
	Find(ctx context.Context, n workflows.NoticeInput, since time.Time) (r workflows.Receipt, found bool, err error)
}

// Spec describes a channel.
type Spec struct {
	// Name is the channel's word everywhere: FailedSteps, coursehookctl's
	// --what, the receipts, the metrics' channel label. Lower case letters.
	Name string
	// Provider is the metrics' provider label of its requests ("slack",
	// "sendgrid", "webhook").
	Provider string
	// Section is the channel's own key in COURSES_FILE, nil when the
	// courses package reads its settings itself (slack, email).
	Section *courses.Section
	// Queue is the throttled task queue its sends run on.
	Queue Queue
	// Digest: the channel announces through the course's cohort digest
	// (CourseDigest) unless the route turns the digest off.
	Digest bool
	// Permanent lists failure types besides the channel's own
	// (PermanentType) that stop the retries at once.
	Permanent []string
}

// Queue is a channel's task queue: its name is the deployment's queue and
// the suffix, and the worker polls it at PerSecond, across every worker
// (the server enforces it), so a burst never outruns the provider's limit.
type Queue struct {
	Suffix string
	// PerSecond is the queue's rate; zero leaves it unlimited.
	PerSecond float64
	// StartToClose bounds one attempt, and so how long a crashed worker's
	// attempt goes unnoticed.
	StartToClose time.Duration
}

// PermanentType and RetryableType are the Temporal failure types of a
// channel's failures, such as "SlackPermanent": the workflow stops retrying
// the first at once, and operators match on both.
func PermanentType(name string) string { return title(name) + "Permanent" }

// RetryableType: see PermanentType.
func RetryableType(name string) string { return title(name) + "Retryable" }

func title(name string) string {
	if name == "" {
		return ""
	}
	b := []byte(name)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

// Step is the workflow's step for a channel, as the record step decides it
// for an event; digest says the route gathers this channel's notices into
// the course's cohort digest.
func (s Spec) Step(digest bool) workflows.ChannelStep {
	return workflows.ChannelStep{
		Name:         s.Name,
		QueueSuffix:  s.Queue.Suffix,
		StartToClose: s.Queue.StartToClose,
		Permanent:    append([]string{PermanentType(s.Name)}, s.Permanent...),
		Digest:       digest,
	}
}

// Failure is a failed send, classified by the channel that knows its
// provider.
type Failure struct {
	// Permanent: a retry cannot help (a revoked token, an invalid address,
	// a 410 Gone).
	Permanent bool
	// RetryAfter is how long the provider asked us to wait, or zero.
	RetryAfter time.Duration
	// Type overrides the channel's failure type, for a cause operators
	// must tell apart (the email's CertificateInvalid).
	Type string
	// Message is the provider's own words, safe to log and to show.
	Message string
	// Err is the cause.
	Err error
}

func (f *Failure) Error() string {
	if f.Err != nil && f.Message == "" {
		return f.Err.Error()
	}
	return f.Message
}

func (f *Failure) Unwrap() error { return f.Err }

// Fail returns a *Failure with a formatted message.
func Fail(permanent bool, retryAfter time.Duration, cause error, format string, args ...any) *Failure {
	return &Failure{Permanent: permanent, RetryAfter: retryAfter, Message: fmt.Sprintf(format, args...), Err: cause}
}

// ErrCannotLook is wrapped by Find when the channel cannot look for an
// earlier delivery with its configuration (a Slack channel given by name, a
// token without the history scope): the notice is sent anyway, since
// telling nobody is worse than telling twice.
var ErrCannotLook = errors.New("cannot look for an earlier delivery")
