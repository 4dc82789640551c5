// Package workflows owns the CourseCompletion workflow and its contract: the
// task queue, the query name, the input and result types and the workflow id
// scheme. The webhook server and the worker both import it, so no name is
// spelled twice.
package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
)

// TaskQueue is where the worker polls and the webhook server starts work,
// unless TEMPORAL_TASK_QUEUE says otherwise.
const TaskQueue = config.DefaultTaskQueue

// SlackTaskQueue is the queue Slack notices run on, beside the workflow's
// own queue. Slack allows about one message per second per channel, so the
// worker polls it with a server-side rate limit (TaskQueueActivitiesPerSecond);
// keeping Slack apart means that limit never slows the database or email.
func SlackTaskQueue(taskQueue string) string {
	return taskQueue + "-slack"
}

// EmailTaskQueue is the queue certificate emails run on. SendGrid limits
// each account's rate, so the worker polls it with a server-side rate limit
// (SENDGRID_EMAILS_PER_SECOND), as it does Slack's.
func EmailTaskQueue(taskQueue string) string {
	return taskQueue + "-email"
}

// ProgressQuery returns a Progress: each step's state, for operators
// (`temporal workflow query --type progress`) and tests.
const ProgressQuery = "progress"

// DefaultNoticeDeadline is how long the Slack notice and the email are
// retried before the workflow gives up on them and ends partial, unless
// NOTICE_DEADLINE says otherwise.
const DefaultNoticeDeadline = config.DefaultNoticeDeadline

// workflowIDPrefix makes the ids readable in the Temporal UI and keeps them
// apart from any other workflow in the namespace.
const workflowIDPrefix = "course-completion-"

// WorkflowID is the id of the workflow for one event: "course-completion-"
// followed by the platform's event id. A re-delivery carries the same event
// id, so it maps to the same workflow and Temporal refuses to start it twice.
//
// The SDK sends the workflow id in a gRPC header, which takes printable ASCII
// only, so an event id with any other character (validation allows any
// visible text) is replaced by "sha256-" and the hex SHA-256 of its bytes:
// still one id per event, and one Temporal accepts. The platform's ids are
// UUIDs, which are kept as they are.
func WorkflowID(eventID string) string {
	return workflowIDPrefix + headerSafe(eventID)
}

// headerSafe is s when it is printable ASCII, and "sha256-" and the hex
// SHA-256 of its bytes otherwise.
func headerSafe(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			sum := sha256.Sum256([]byte(s))
			return "sha256-" + hex.EncodeToString(sum[:])
		}
	}
	return s
}

// digestIDPrefix names the per-course digest workflows.
const digestIDPrefix = "course-digest-"

// DigestWorkflowID is the id of the CourseDigest gathering a course's
// completions for one Slack channel in the deployment whose task queue is
// taskQueue: "course-digest-<task queue>/<course id>/<channel>". A course
// routed to another channel later gets a digest of its own there, and two
// deployments sharing a namespace never feed each other's digests.
//
// Each part longer than 64 bytes is replaced by its SHA-256, so the id stays
// under the 255 characters a Temporal server on SQL persistence accepts.
func DigestWorkflowID(taskQueue, courseID, channel string) string {
	return digestIDPrefix + idPart(taskQueue) + "/" + idPart(courseID) + "/" + idPart(channel)
}

func idPart(s string) string {
	if len(s) > 64 {
		sum := sha256.Sum256([]byte(s))
		return "sha256-" + hex.EncodeToString(sum[:])
	}
	return headerSafe(s)
}

// DigestWorkflowType is CourseDigest's registered name.
const DigestWorkflowType = "CourseDigest"

// DigestEntrySignal carries a DigestEntry to a CourseDigest.
const DigestEntrySignal = "digest-entry"

// AnnouncementSignal carries an Announcement from a CourseDigest back to
// the CourseCompletion it answers.
const AnnouncementSignal = "announcement"

// What a CourseDigest tells a completion.
const (
	// AnnouncePost: the completion is among its window's first
	// Threshold, and posts its own message.
	AnnouncePost = "post"
	// AnnounceDigest: the completion was announced in a digest.
	AnnounceDigest = "digest"
	// AnnounceFailed: the digest could not be posted.
	AnnounceFailed = "failed"
)

// Announcement is a CourseDigest's answer to one entry.
type Announcement struct {
	EventID string `json:"eventId"`
	Kind    string `json:"kind"`
	// Channel and TS locate the digest message (AnnounceDigest).
	Channel  string `json:"channel,omitempty"`
	TS       string `json:"ts,omitempty"`
	WindowID string `json:"windowId,omitempty"`
	// Error is why the digest failed (AnnounceFailed).
	Error string `json:"error,omitempty"`
	// At is when the digest answered.
	At time.Time `json:"at"`
	// Completed: the digest kept its receipt with the event's row, and it
	// completed the row (store.KeepAnnounced), so a planned run has no
	// outcome left to record.
	Completed bool `json:"completed,omitempty"`
}

// Receipt is the Slack receipt of an event a posted digest announced
// (AnnounceDigest): the digest's message.
func (a Announcement) Receipt() Receipt {
	return Receipt{ID: a.TS, Where: a.Channel, Via: AnnouncedDigest}
}

// Status is how a workflow ended, and the Progress status while it runs.
type Status string

// The statuses. Completed, partial and ignored are also what the database
// row ends with; duplicate leaves the row as the earlier run wrote it.
const (
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusPartial   Status = "partial"
	StatusDuplicate Status = "duplicate"
	StatusIgnored   Status = "ignored"
)

// Summary is the one line the Temporal UI lists beside the workflow. The
// UI renders it as Markdown, so it holds only text coursehook chose and ids
// made of letters, digits and dashes; never a name or a title.
func Summary(e event.Event) string {
	kind := "Ignored event"
	if e.IsCourseCompletion() {
		kind = "Course completion"
	}
	if id := e.NotifiableID; id != "" && len(id) <= 64 && strings.IndexFunc(id, notIDRune) < 0 {
		return kind + ", course " + id
	}
	return kind
}

func notIDRune(r rune) bool {
	return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_'
}

// CourseCompletionInput is one accepted webhook delivery.
type CourseCompletionInput struct {
	// Event is the part of the body coursehook reads (event.Event.Brief):
	// bounded fields only, so a large body is not carried twice. Inputs
	// written before the brief form carry the whole decoded event.
	Event event.Event `json:"event"`
	// Payload is the body exactly as received, kept byte for byte.
	Payload    []byte    `json:"payload"`
	ReceivedAt time.Time `json:"receivedAt"`
	// NoticeDeadline bounds the retries of the Slack notice and of the email;
	// zero means DefaultNoticeDeadline.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
	// RecordOnly records the completion, with its verification code, and
	// sends no notice: history imported from before go-live
	// (coursehookctl import --record-only). The record step turns every
	// channel off (RecordInput.RecordOnly), so the workflow issues the
	// commands of a course whose route sends nothing, with no new version.
	RecordOnly bool `json:"recordOnly,omitempty"`
}

// CourseCompletionResult is what the workflow did.
type CourseCompletionResult struct {
	Status Status `json:"status"`
	// Receipts are the event's deliveries by channel: this run's and the
	// ones an earlier run made.
	Receipts Receipts `json:"receipts,omitempty"`
	// FailedStep names the channels that failed permanently, in the order
	// of the event's channels ("slack", "email", "slack,email,webhook");
	// Error holds the providers' own messages.
	FailedStep string `json:"failedStep,omitempty"`
	Error      string `json:"error,omitempty"`
	// PreviousEventID is the earlier completion a re-completion follows.
	PreviousEventID string `json:"previousEventId,omitempty"`
}

// UnmarshalJSON also reads the receipt fields of the results of runs from
// before the channels change, for callers reading an old workflow's result.
func (r *CourseCompletionResult) UnmarshalJSON(b []byte) error {
	type plain CourseCompletionResult
	return decodeWithLegacyReceipts(b, (*plain)(r), &r.Receipts)
}

// StepState is where one step stands.
type StepState string

// The step states.
const (
	StepPending StepState = "pending"
	StepRunning StepState = "running"
	StepDone    StepState = "done"
	StepFailed  StepState = "failed"
	StepSkipped StepState = "skipped"
)

// Step is one step's state, with the receipt or the error that explains it.
type Step struct {
	State  StepState `json:"state"`
	Detail string    `json:"detail,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// Progress is the answer to ProgressQuery.
type Progress struct {
	Status Status `json:"status"`
	// Route is the routing recorded with the event: what it was decided to
	// send, and where. Nil before it is recorded, and without routing.
	Route  *courses.Route `json:"route,omitempty"`
	Record Step           `json:"record"`
	// Channels are the notice steps by channel name, once the event's
	// channels are known.
	Channels map[string]Step `json:"channels,omitempty"`
	Outcome  Step            `json:"outcome"`
	// Validity says where the certificate's validity schedule stands, for
	// a course whose certificates expire.
	Validity string `json:"validity,omitempty"`
}

// The built-in channels' names, as they appear in FailedSteps, the
// receipts and coursehookctl's --what.
const (
	StepNameSlack = "slack"
	StepNameEmail = "email"
)
