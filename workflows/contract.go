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
	for i := 0; i < len(eventID); i++ {
		if c := eventID[i]; c < 0x20 || c > 0x7e {
			sum := sha256.Sum256([]byte(eventID))
			return workflowIDPrefix + "sha256-" + hex.EncodeToString(sum[:])
		}
	}
	return workflowIDPrefix + eventID
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
}

// CourseCompletionResult is what the workflow did.
type CourseCompletionResult struct {
	Status            Status `json:"status"`
	SlackChannel      string `json:"slackChannel,omitempty"`
	SlackTS           string `json:"slackTs,omitempty"`
	EmailMessageID    string `json:"emailMessageId,omitempty"`
	CertificateSHA256 string `json:"certificateSha256,omitempty"`
	// FailedStep names the steps that failed permanently ("slack", "email"
	// or "slack,email"); Error holds the providers' own messages.
	FailedStep string `json:"failedStep,omitempty"`
	Error      string `json:"error,omitempty"`
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
	Status  Status `json:"status"`
	Record  Step   `json:"record"`
	Slack   Step   `json:"slack"`
	Email   Step   `json:"email"`
	Outcome Step   `json:"outcome"`
}

// Step names, as they appear in FailedStep.
const (
	StepNameSlack = "slack"
	StepNameEmail = "email"
)
