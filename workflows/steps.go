package workflows

import (
	"encoding/json"
	"time"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
)

// This file is the contract between the workflows and the activities the
// worker registers: the activities' registered names, their inputs and
// results, and the failure types both sides match on. It lives here, not in
// the activities package, so that the workflows, the webhook server and
// coursehookctl never link the providers (Slack, SendGrid, the PDF and QR
// code renderers, the database drivers) the activities are built on.

// The activities' registered names: the worker registers the methods of
// activities.Activities, which the SDK names after the methods; the
// workflows schedule them by these names.
const (
	ActivityRecordCompletion   = "RecordCompletion"
	ActivityRecordIgnored      = "RecordIgnored"
	ActivityRecordOutcome      = "RecordOutcome"
	ActivityPostSlackNotice    = "PostSlackNotice"
	ActivityEmailCertificate   = "EmailCertificate"
	ActivityEnqueueDigestEntry = "EnqueueDigestEntry"
	ActivityPostDigest         = "PostDigest"
	// ActivityGatherDigestEntries and ActivityAnswerDigest keep a digest
	// window's entries in the database and answer them there, since the
	// bounded-digest change.
	ActivityGatherDigestEntries = "GatherDigestEntries"
	ActivityAnswerDigest        = "AnswerDigest"
	// ActivityAwaitDigest and ActivitySealDigestWindow serve the windows
	// the record step plans and keeps (runs without a version marker):
	// a gathered completion waits in AwaitDigest, which AnswerDigest
	// completes by its id (AwaitDigestActivityID), and the digest sums
	// such a window up from the database with SealDigestWindow.
	ActivityAwaitDigest      = "AwaitDigest"
	ActivitySealDigestWindow = "SealDigestWindow"
	// ActivityKeepDeadLetter keeps the body of an event whose workflow
	// fails, since the dead-letters change.
	ActivityKeepDeadLetter = "KeepDeadLetter"
	ActivityLoadEvent      = "LoadEvent"
	ActivityRecordResend   = "RecordResend"
	ActivityFinishResend   = "FinishResend"
	// ActivityDeliver sends one notice on one channel (DeliverInput, a
	// Receipt back). Since the channels change every notice goes through
	// it; PostSlackNotice and EmailCertificate stay for the runs from
	// before.
	ActivityDeliver = "Deliver"
)

// ActivityNames lists every activity the workflows schedule, for the
// worker's check that each is registered and for the workflow tests.
func ActivityNames() []string {
	return []string{ActivityRecordCompletion, ActivityRecordIgnored, ActivityRecordOutcome,
		ActivityPostSlackNotice, ActivityEmailCertificate, ActivityEnqueueDigestEntry, ActivityPostDigest,
		ActivityGatherDigestEntries, ActivityAnswerDigest, ActivityAwaitDigest, ActivitySealDigestWindow, ActivityKeepDeadLetter,
		ActivityLoadEvent, ActivityRecordResend, ActivityFinishResend, ActivityDeliver,
		ActivityApplyDeliveryEvents, ActivityPostDeliveryAlert, ActivityCertificateNotice, ActivityEnqueueExpiry}
}

// How an event's Slack announcement was made (its receipt's Via).
const (
	// AnnouncedMessage: a message of its own.
	AnnouncedMessage = "message"
	// AnnouncedDigest: a line in its course's cohort digest.
	AnnouncedDigest = "digest"
)

// Application error types. The workflow and operators match failures on these
// rather than on Go type names, which do not survive serialisation.
const (
	// ErrSlackPermanent: Slack refused the message for a reason a retry cannot
	// fix (a revoked token, a missing channel); the error message carries
	// Slack's own code.
	ErrSlackPermanent = "SlackPermanent"
	// ErrSlackRetryable: Slack was down, slow or rate limited us.
	ErrSlackRetryable = "SlackRetryable"
	// ErrEmailPermanent: SendGrid refused the email (bad key, invalid
	// address); the message carries SendGrid's errors[] text.
	ErrEmailPermanent = "EmailPermanent"
	// ErrEmailRetryable: SendGrid was down, slow or rate limited us.
	ErrEmailRetryable = "EmailRetryable"
	// ErrCertificate: the certificate cannot be rendered from this input, so
	// retrying would only fail the same way.
	ErrCertificate = "CertificateInvalid"
	// ErrRecordPermanent: the database refused a record step in a way no
	// retry can fix (the row is missing, a status it does not know, a schema
	// that does not match this code). Connection losses, timeouts, locks and
	// serialization failures are plain errors instead, retried without limit.
	ErrRecordPermanent = "RecordPermanent"
)

// RecordInput is one event as the webhook server accepted it: the fields
// coursehook reads (event.Event.Brief) and the raw body, kept byte for byte.
type RecordInput struct {
	Event      event.Event `json:"event"`
	Payload    []byte      `json:"payload"`
	ReceivedAt time.Time   `json:"receivedAt"`
	// RecordOnly turns every channel of the event's steps off
	// (CourseCompletionInput.RecordOnly).
	RecordOnly bool `json:"recordOnly,omitempty"`
	// PlanNotice asks the record step to decide, where the Slack notice
	// goes through the course's digest, whether it posts at once or the
	// digest gathers it (RecordResult.Notice), and to hand a gathered one
	// to the digest itself (RecordResult.Enqueued). Only runs since the
	// planned notices change ask: an older run asks the digest itself, and
	// a plan made for it would count it twice.
	PlanNotice bool `json:"planNotice,omitempty"`
	// NoticeDeadline is the run's (CourseCompletionInput.NoticeDeadline),
	// for the digest the record step may start.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
	// KeepEntry asks the record step to keep a gathered notice's entry in
	// its planned window's rows instead of handing it to the digest, and
	// to signal the digest only for a window's first entry
	// (RecordResult.Window). Only runs without a version marker (planned
	// windows) ask: their Slack step waits in AwaitDigest, where an older
	// run waits for the digest's signal.
	KeepEntry bool `json:"keepEntry,omitempty"`
}

// PlannedWindow is a digest window the record step planned and keeps the
// entries of (store.PlanNotice): its id and when it closes (zero: due).
type PlannedWindow struct {
	ID  string    `json:"id"`
	End time.Time `json:"end,omitzero"`
	// Digest is the digest workflow's id (DigestWorkflowID).
	Digest string `json:"digest"`
}

// RecordResult is the stored row's state. Receipts are set when an earlier
// run already delivered a notice, so the workflow can skip it.
type RecordResult struct {
	Created          bool     `json:"created"`
	AlreadyCompleted bool     `json:"alreadyCompleted"`
	Receipts         Receipts `json:"receipts,omitempty"`
	// Channels are the event's notice steps, in the order they are
	// reported, each on or off by its recorded route. Empty in the results
	// recorded before the channels change, whose runs spell out Slack and
	// email.
	Channels []ChannelStep `json:"channels,omitempty"`
	// Route is the routing recorded with the event on its first run; nil
	// when the worker has no routing (Activities.Routes unset).
	Route *courses.Route `json:"route,omitempty"`
	// Previous is the learner's earlier completion of the course when this
	// one is a re-completion.
	Previous *Previous `json:"previous,omitempty"`
	// VerificationCode is the certificate's code, stored with the row;
	// empty without verification.
	VerificationCode string `json:"verificationCode,omitempty"`
	// Renderer is the certificate renderer version stored with the row;
	// zero in results from before renderer versions, whose rows hold 1.
	Renderer int `json:"renderer,omitempty"`
	// Notice is the record step's plan for a Slack notice that goes
	// through the course's digest, when the run asked (RecordInput.
	// PlanNotice): NoticePost or NoticeGather, decided once per event by
	// the digest's own rule with the digest's state under a lock
	// (store.PlanNotice). Empty otherwise: the digest decides.
	Notice string `json:"notice,omitempty"`
	// Enqueued: the record step handed the notice it planned gathered to
	// the course's digest (DigestEnqueue, by signal-with-start), so the
	// run only waits for the answer. It spares a gathered completion the
	// EnqueueDigestEntry activity: a billable action, and three events and
	// a workflow task on the server. False where the worker has no client
	// for digests; the run then enqueues it.
	Enqueued bool `json:"enqueued,omitempty"`
	// Window is the planned window a gathered notice's entry was kept in,
	// when the run asked (RecordInput.KeepEntry) and the worker can signal
	// digests; the run then waits for the window's answer in AwaitDigest.
	Window *PlannedWindow `json:"window,omitempty"`
	// ExpiresAt is when the certificate lapses, zero when it never does.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Validity is the certificate's schedule of reminders and expiry,
	// for a course whose certificates expire; nil otherwise, and for an
	// import with --record-only.
	Validity *CertificateValidityInput `json:"validity,omitempty"`
}

// UnmarshalJSON also reads the receipt fields of results recorded before
// the channels change.
func (r *RecordResult) UnmarshalJSON(b []byte) error {
	type plain RecordResult
	return decodeWithLegacyReceipts(b, (*plain)(r), &r.Receipts)
}

// The record step's plans for a digest-on Slack notice (RecordResult.Notice).
const (
	// NoticePost: the course is under its threshold with no digest window
	// open; the notice is posted at once, and the digest is not asked.
	NoticePost = "post"
	// NoticeGather: the digest gathers the notice into its window.
	NoticeGather = "gather"
)

// Previous is an earlier completion of the same course by the same learner.
type Previous struct {
	EventID     string    `json:"eventId"`
	CompletedAt time.Time `json:"completedAt"`
	// Renewed says the earlier certificate had an expiry date, so this
	// completion supersedes it and ends its schedule.
	Renewed bool `json:"renewed,omitempty"`
}

// NoticeInput is the completion to announce.
type NoticeInput struct {
	Event event.Event `json:"event"`
	// ReceivedAt dates the completion when the event has no timestamp
	// (event.Event.CompletionTime). Inputs scheduled before it existed lack
	// it, and then only the event's own timestamp counts.
	ReceivedAt time.Time `json:"receivedAt,omitzero"`
	// ResendID is the request id of an operator's resend (the Resend
	// workflow), so its messages are told apart from the first ones.
	ResendID string `json:"resendId,omitempty"`
	// Route is the event's recorded routing: its channel, email wording and
	// certificate wording. Nil (inputs from before routing) means the
	// configured defaults.
	Route *courses.Route `json:"route,omitempty"`
	// Previous marks a re-completion.
	Previous *Previous `json:"previous,omitempty"`
	// VerificationCode is printed on the certificate with a QR code of its
	// page, when the worker has verification on.
	VerificationCode string `json:"verificationCode,omitempty"`
	// Renderer is the certificate renderer version the row records, so
	// the email attaches the file the verification page offers; zero (an
	// input from before versions) means version 1.
	Renderer int `json:"renderer,omitempty"`
	// To is where the certificate email goes when it is not the learner's
	// own address: the corrected one an operator resent to.
	To string `json:"to,omitempty"`
	// ExpiresAt is when the certificate lapses, printed on it as "Valid
	// until"; zero for a certificate that never expires, and in inputs
	// from before certificates could.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Kind is the notice about the certificate's validity this is, if
	// any: a reminder (ReminderNotice) or ExpiryNotice. Empty is the
	// completion's own notice.
	Kind string `json:"kind,omitempty"`
}

// SlackResult says where the notice landed.
type SlackResult struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// EmailResult identifies the email and the certificate it carried.
type EmailResult struct {
	MessageID         string `json:"messageId"`
	CertificateSHA256 string `json:"certificateSha256"`
}

// OutcomeInput is the final state of one event.
type OutcomeInput struct {
	EventID string `json:"eventId"`
	Status  string `json:"status"`
	// Receipts are the deliveries to store; a channel it leaves out keeps
	// its stored receipt.
	Receipts   Receipts `json:"receipts,omitempty"`
	FailedStep string   `json:"failedStep,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// UnmarshalJSON also reads the receipt fields of inputs scheduled before
// the channels change.
func (o *OutcomeInput) UnmarshalJSON(b []byte) error {
	type plain OutcomeInput
	return decodeWithLegacyReceipts(b, (*plain)(o), &o.Receipts)
}

// ErrResendRefused: the event cannot be resent (unknown, or not a course
// completion). coursehookctl checks first, so this guards the workflow.
const ErrResendRefused = "ResendRefused"

// LoadInput names a recorded event.
type LoadInput struct {
	EventID string `json:"eventId"`
	// CurrentRouting asks for the worker's routing now rather than the
	// route recorded with the event.
	CurrentRouting bool `json:"currentRouting,omitempty"`
}

// LoadedEvent is a recorded event as a resend needs it: rebuilt from the
// stored row and raw payload, so a resend works after Temporal's retention
// removed the original workflow.
type LoadedEvent struct {
	Event      event.Event `json:"event"`
	ReceivedAt time.Time   `json:"receivedAt"`
	Status     string      `json:"status"`
	FailedStep string      `json:"failedStep,omitempty"`
	Receipts   Receipts    `json:"receipts,omitempty"`
	// Channels are the steps a resend may send, as for a completion; empty
	// in the results recorded before the channels change.
	Channels []ChannelStep `json:"channels,omitempty"`
	// Route is the event's recorded route, or the current one when asked;
	// nil without routing.
	Route *courses.Route `json:"route,omitempty"`
	// VerificationCode is the certificate's code, given one now if the
	// row predates codes and the worker verifies.
	VerificationCode string `json:"verificationCode,omitempty"`
	// Renderer is the certificate renderer version the row records: a
	// resend attaches the very file first sent.
	Renderer int `json:"renderer,omitempty"`
	// Revoked says an operator revoked the certificate: a resend does not
	// email it again.
	Revoked bool `json:"revoked,omitempty"`
	// To is the corrected address an earlier resend gave, empty while the
	// learner's own stands.
	To string `json:"to,omitempty"`
	// ExpiresAt is the certificate's expiry date, printed on it again.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// UnmarshalJSON also reads the receipt fields of results recorded before
// the channels change.
func (l *LoadedEvent) UnmarshalJSON(b []byte) error {
	type plain LoadedEvent
	return decodeWithLegacyReceipts(b, (*plain)(l), &l.Receipts)
}

// ResendRecord is the audit row of one resend.
type ResendRecord struct {
	RequestID   string    `json:"requestId"`
	EventID     string    `json:"eventId"`
	What        string    `json:"what"`
	Reason      string    `json:"reason,omitempty"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	// To is a corrected address for the email; the audit row keeps it
	// beside the old one, and later resends use it.
	To string `json:"to,omitempty"`
}

// ResendOutcome is how a resend ended, and the event's state after it.
type ResendOutcome struct {
	RequestID string `json:"requestId"`
	// Event is the completion's new state: status, receipts and the steps
	// still failed.
	Event OutcomeInput `json:"event"`
	// Sent names the notices this resend delivered; Failed the ones it could
	// not, with Error saying why.
	Sent   []string `json:"sent,omitempty"`
	Failed []string `json:"failed,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// DigestEntry is one completion offered to its course's digest: the
// digest decides whether it gets a message of its own or a line in the
// digest, and signals the answer back to WorkflowID.
type DigestEntry struct {
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
	// LearnerName is shown in the digest (the first ten are named).
	LearnerName string `json:"learnerName,omitempty"`
	CourseTitle string `json:"courseTitle,omitempty"`
	CourseName  string `json:"courseName,omitempty"`
	// Threshold and Window are the event's recorded route: the first
	// Threshold completions of a Window are posted one by one.
	Threshold int           `json:"threshold"`
	Window    time.Duration `json:"window"`
	// Gather: the record step planned the entry gathered (store.PlanNotice),
	// so the digest gathers it whatever its own count says, which misses
	// the completions that posted at once without asking it.
	Gather bool `json:"gather,omitempty"`
	// Planned, instead of an entry to count, is a window the record step
	// opened and keeps the entries of: the digest closes it at its end,
	// reads it from the database (SealDigestWindow), posts it and
	// answers its entries' AwaitDigest activities.
	Planned *PlannedWindow `json:"planned,omitempty"`
}

// DigestStart identifies a course's digest: one per deployment (task
// queue), course and channel.
type DigestStart struct {
	TaskQueue string `json:"taskQueue"`
	CourseID  string `json:"courseId"`
	Channel   string `json:"channel"`
	// NoticeDeadline bounds the retries of a digest post, as the notices'
	// own; zero means the default.
	NoticeDeadline time.Duration `json:"noticeDeadline,omitempty"`
	// Kind is what the digest gathers: completions (empty) or, for
	// DigestExpiry, expired certificates.
	Kind string `json:"kind,omitempty"`
}

// DigestExpiry is the Kind of a course's expiry digest, which gathers the
// certificates that expire together, as a cohort certified together does.
const DigestExpiry = "expiry"

// ExpiryDigestWorkflowID is the id of the CourseDigest gathering a course's
// expired certificates for one Slack channel, beside its completions'
// digest (DigestWorkflowID).
func ExpiryDigestWorkflowID(taskQueue, courseID, channel string) string {
	return "certificate-expiry-digest-" + idPart(taskQueue) + "/" + idPart(courseID) + "/" + idPart(channel)
}

// DeadLetterInput is an accepted event whose workflow fails for good: its
// body as received, when, and why. DatabaseFailed says the database refused
// it, so the letter goes to DEAD_LETTER_DIR first.
type DeadLetterInput struct {
	EventID        string    `json:"eventId"`
	Payload        []byte    `json:"payload"`
	ReceivedAt     time.Time `json:"receivedAt"`
	Error          string    `json:"error"`
	DatabaseFailed bool      `json:"databaseFailed,omitempty"`
}

// DeadLetterResult says where the letter was kept: a file's path, or
// "database".
type DeadLetterResult struct {
	Where string `json:"where"`
}

// GatherInput is a batch of entries a digest gathered into its open window,
// for GatherDigestEntries to keep; with no WindowID, entries to look up
// only, which a closed window may have gathered.
type GatherInput struct {
	DigestID string          `json:"digestId"`
	WindowID string          `json:"windowId"`
	Entries  []GatheredEntry `json:"entries"`
}

// GatheredEntry is what the database keeps of an entry: whom to answer.
type GatheredEntry struct {
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
}

// GatherResult says which entries of a GatherInput were new to the window
// (Fresh, their event ids), to count and name; the others came again, and
// Late of them had an answer already, which GatherDigestEntries gave again.
// A look-up names the entries Waiting for an answer under way.
type GatherResult struct {
	Fresh   []string `json:"fresh,omitempty"`
	Late    int      `json:"late,omitempty"`
	Waiting []string `json:"waiting,omitempty"`
}

// AnswerDigestInput is a closed window and its answer (EventID empty),
// which AnswerDigest signals to each entry the window gathered.
type AnswerDigestInput struct {
	DigestID     string       `json:"digestId"`
	WindowID     string       `json:"windowId"`
	Announcement Announcement `json:"announcement"`
	// Awaited: the window was planned by the record steps, and its entries
	// wait in AwaitDigest, completed by id rather than signalled.
	Awaited bool `json:"awaited,omitempty"`
}

// AwaitDigestActivityID is the activity id of a completion's AwaitDigest,
// by which AnswerDigest completes it.
const AwaitDigestActivityID = "digest-answer"

// AwaitDigestInput names a completion's entry in a planned window.
type AwaitDigestInput struct {
	DigestID string `json:"digestId"`
	WindowID string `json:"windowId"`
	EventID  string `json:"eventId"`
}

// SealDigestInput is a planned window to close and sum up.
type SealDigestInput struct {
	DigestID string `json:"digestId"`
	WindowID string `json:"windowId"`
}

// SealDigestResult is what the digest message says of a planned window:
// how many entries, and the first learners' names. Answered says the
// window was answered already (told again), and is not posted again.
type SealDigestResult struct {
	Count    int      `json:"count"`
	Names    []string `json:"names,omitempty"`
	Answered bool     `json:"answered,omitempty"`
}

// AnswerDigestResult counts the entries answered, and those whose workflow
// had already ended (its deadline passed) and so had nobody to tell.
type AnswerDigestResult struct {
	Answered int `json:"answered"`
	Gone     int `json:"gone,omitempty"`
}

// EnqueueInput is what EnqueueDigestEntry sends: the entry, to the digest
// workflow WorkflowID (of type WorkflowType, started on TaskQueue with
// Start when it is not running).
type EnqueueInput struct {
	WorkflowID   string      `json:"workflowId"`
	WorkflowType string      `json:"workflowType"`
	TaskQueue    string      `json:"taskQueue"`
	Signal       string      `json:"signal"`
	Entry        DigestEntry `json:"entry"`
	Start        DigestStart `json:"start"`
}

// DigestEnqueue is the EnqueueInput that hands ev's Slack notice to its
// course's digest on route's channel: the digest workflow of taskQueue,
// answering the run workflowID. gather marks an entry the record step
// planned gathered. The workflow and the record step both build it here.
func DigestEnqueue(taskQueue, workflowID string, ev event.Event, route *courses.Route, noticeDeadline time.Duration, gather bool) EnqueueInput {
	id := DigestWorkflowID(taskQueue, ev.NotifiableID, route.Slack.Channel)
	return EnqueueInput{
		WorkflowID:   id,
		WorkflowType: DigestWorkflowType,
		TaskQueue:    taskQueue,
		Signal:       DigestEntrySignal,
		Entry: DigestEntry{
			EventID:     ev.ID,
			WorkflowID:  workflowID,
			LearnerName: ev.LearnerName(),
			CourseTitle: ev.Title,
			CourseName:  route.CourseName,
			Threshold:   route.Digest.Threshold,
			Window:      route.Digest.Window,
			Gather:      gather,
		},
		Start: DigestStart{TaskQueue: taskQueue, CourseID: ev.NotifiableID, Channel: route.Slack.Channel,
			NoticeDeadline: noticeDeadline},
	}
}

// DigestInput is one digest message: the completions of a course window
// beyond its threshold. Its JSON is the one PostDigest has always taken.
type DigestInput struct {
	// Channel is where the digest goes; empty means the configured one.
	Channel     string `json:"channel,omitempty"`
	CourseID    string `json:"course_id"`
	CourseTitle string `json:"course_title"`
	// CourseName is the operators' own name for the course, shown when set.
	CourseName string `json:"course_name,omitempty"`
	// WindowID identifies the course window; it goes into the message's
	// metadata, so a retry can find the digest it already posted.
	WindowID    string    `json:"window_id"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Count is how many completions the digest announces.
	Count int `json:"count"`
	// Names are learner names to list, at most MaxDigestNames.
	Names []string `json:"names,omitempty"`
	// ListHint tells the reader how to list every completion.
	ListHint string `json:"list_hint,omitempty"`
	// Kind is the digest's (DigestStart.Kind): DigestExpiry announces
	// certificates that expired, not completions.
	Kind string `json:"kind,omitempty"`
}

// MaxDigestNames is how many learners a digest names.
const MaxDigestNames = 10

// Receipt is what a channel's provider gave back for one delivery: enough
// for an operator, or a retry, to find it again.
type Receipt struct {
	// ID is the provider's id of the delivery: Slack's message ts,
	// SendGrid's message id, the webhook-id.
	ID string `json:"id"`
	// Where is where it went when the channel has more than one place: the
	// Slack channel, the webhook's host.
	Where string `json:"where,omitempty"`
	// Via says how a channel with more than one way made it: Slack's
	// AnnouncedMessage or AnnouncedDigest.
	Via string `json:"via,omitempty"`
	// SHA256 is the hex SHA-256 of what was delivered, where that is kept:
	// the certificate PDF.
	SHA256 string `json:"sha256,omitempty"`
}

// String is the receipt as progress and logs show it.
func (r Receipt) String() string {
	s := r.ID
	if r.Where != "" {
		s = r.Where + " " + s
	}
	if r.Via == AnnouncedDigest {
		s = "in the cohort digest: " + s
	}
	return s
}

// UnmarshalJSON also reads the results of PostSlackNotice and
// EmailCertificate (SlackResult, EmailResult), which the runs from before
// the channels change recorded.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	type plain Receipt
	var v struct {
		plain
		SlackResult
		MessageID         string `json:"messageId"`
		CertificateSHA256 string `json:"certificateSha256"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Receipt(v.plain)
	if r.ID == "" {
		r.ID = v.TS + v.MessageID
	}
	if r.Where == "" {
		r.Where = v.Channel
	}
	if r.SHA256 == "" {
		r.SHA256 = v.CertificateSHA256
	}
	return nil
}

// Receipts are an event's deliveries by channel name.
type Receipts map[string]Receipt

// legacyReceipts are the receipt fields that inputs and results carried
// before the channels change. Recorded histories, and activities that
// workers of that time scheduled, still hold them.
type legacyReceipts struct {
	SlackChannel      string `json:"slackChannel,omitempty"`
	SlackTS           string `json:"slackTs,omitempty"`
	EmailMessageID    string `json:"emailMessageId,omitempty"`
	CertificateSHA256 string `json:"certificateSha256,omitempty"`
	Announcement      string `json:"announcement,omitempty"`
}

// decodeWithLegacyReceipts decodes b into v, a type without UnmarshalJSON
// of its own, then adds to *receipts the legacy receipt fields b holds.
func decodeWithLegacyReceipts(b []byte, v any, receipts *Receipts) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	var l legacyReceipts
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*receipts = l.fold(*receipts)
	return nil
}

// fold adds the legacy receipts to r, which keeps any it has.
func (l legacyReceipts) fold(r Receipts) Receipts {
	add := func(name string, rc Receipt) {
		if rc.ID == "" {
			return
		}
		if r == nil {
			r = Receipts{}
		}
		if _, ok := r[name]; !ok {
			r[name] = rc
		}
	}
	add(StepNameSlack, Receipt{ID: l.SlackTS, Where: l.SlackChannel, Via: l.Announcement})
	add(StepNameEmail, Receipt{ID: l.EmailMessageID, SHA256: l.CertificateSHA256})
	return r
}

// ChannelStep is how the workflow sends one notice: decided by the record
// step from the worker's channels and the event's route, and so recorded in
// the history, which keeps a replay on the same steps whatever the worker
// registers later.
type ChannelStep struct {
	// Name is the channel's (StepNameSlack, StepNameEmail, "webhook").
	Name string `json:"name"`
	// Off: the route does not send on this channel.
	Off bool `json:"off,omitempty"`
	// QueueSuffix names the channel's throttled task queue: the
	// workflow's own queue and the suffix.
	QueueSuffix string `json:"queueSuffix"`
	// StartToClose bounds one attempt.
	StartToClose time.Duration `json:"startToClose"`
	// Permanent are the failure types that stop the retries at once.
	Permanent []string `json:"permanent,omitempty"`
	// Digest: the notice goes through the course's cohort digest.
	Digest bool `json:"digest,omitempty"`
}

// DeliverInput is one notice on one channel.
type DeliverInput struct {
	Channel string      `json:"channel"`
	Notice  NoticeInput `json:"notice"`
	// Expect, set by a lean run, names every channel the event's row waits
	// for: Deliver keeps its own receipt in the row, and completes the row
	// when all of them hold one. Empty (a resend, an older run): the
	// workflow records the receipts itself.
	Expect []string `json:"expect,omitempty"`
}

// DeliverResult is Deliver's answer: the receipt and whether keeping it
// completed the event's row. Its JSON is the receipt's with one field
// more, so a run from before it reads it as its Receipt.
type DeliverResult struct {
	Receipt
	// Completed: every channel of Expect now holds a receipt and the row
	// says completed, so the run has no outcome left to record.
	Completed bool `json:"completed,omitempty"`
}

// UnmarshalJSON reads the receipt as Receipt does, and Completed: without
// it the embedded Receipt's UnmarshalJSON would take the whole object and
// drop Completed.
func (d *DeliverResult) UnmarshalJSON(b []byte) error {
	var v struct {
		Completed bool `json:"completed"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if err := d.Receipt.UnmarshalJSON(b); err != nil {
		return err
	}
	d.Completed = v.Completed
	return nil
}
