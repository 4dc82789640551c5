package workflows

import (
	"unicode/utf8"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursehook/coursehook/event"
)

// Search attributes coursehook sets on every CourseCompletion, so operators
// can find events in the UI and the CLI by course, company, learner and
// outcome. Temporal stores them unencrypted, so none holds a name, an email
// address or a title: the learner appears as event.Event.LearnerHash.
var (
	// CourseIDKey is the event's notifiableId.
	CourseIDKey = temporal.NewSearchAttributeKeyKeyword("CourseId")
	// CompanyIDKey is the event's companyId.
	CompanyIDKey = temporal.NewSearchAttributeKeyKeyword("CompanyId")
	// LearnerHashKey is the keyed hash of the learner's email.
	LearnerHashKey = temporal.NewSearchAttributeKeyKeyword("LearnerHash")
	// CompletionStatusKey is where the event stands: CompletionRecording,
	// CompletionNotifying, then a final Status.
	CompletionStatusKey = temporal.NewSearchAttributeKeyKeyword("CompletionStatus")
	// FailedStepsKey names the notices that failed for good (StepNameSlack,
	// StepNameEmail).
	FailedStepsKey = temporal.NewSearchAttributeKeyKeywordList("FailedSteps")
)

// The CompletionStatus values a workflow passes through before its final
// Status (completed, partial, duplicate or ignored).
const (
	CompletionRecording = "recording"
	CompletionNotifying = "notifying"
)

// SearchAttributeTypes are the attributes every namespace coursehook runs in
// must have registered, with their types.
func SearchAttributeTypes() map[string]enums.IndexedValueType {
	return map[string]enums.IndexedValueType{
		CourseIDKey.GetName():         enums.INDEXED_VALUE_TYPE_KEYWORD,
		CompanyIDKey.GetName():        enums.INDEXED_VALUE_TYPE_KEYWORD,
		LearnerHashKey.GetName():      enums.INDEXED_VALUE_TYPE_KEYWORD,
		CompletionStatusKey.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
		FailedStepsKey.GetName():      enums.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	}
}

// maxAttributeRunes bounds an id copied into a search attribute. Validation
// bounds the ids of a course completion to event.MaxIDLength already; the
// fields of an ignored event are not checked and are left out.
const maxAttributeRunes = event.MaxIDLength

// StartSearchAttributes are what is known at ingest: the course, the company
// and the learner of a course completion, and CompletionStatus "recording".
// learnerHash is e.LearnerHash under the deployment's key.
func StartSearchAttributes(e event.Event, learnerHash string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(startUpdates(e, learnerHash)...)
}

// startUpdates are StartSearchAttributes as upserts, for a workflow that
// learns them itself (Resend).
func startUpdates(e event.Event, learnerHash string) []temporal.SearchAttributeUpdate {
	updates := []temporal.SearchAttributeUpdate{CompletionStatusKey.ValueSet(CompletionRecording)}
	if e.IsCourseCompletion() {
		for _, kv := range []struct {
			key   temporal.SearchAttributeKeyKeyword
			value string
		}{{CourseIDKey, e.NotifiableID}, {CompanyIDKey, e.CompanyID}, {LearnerHashKey, learnerHash}} {
			if kv.value != "" && utf8.RuneCountInString(kv.value) <= maxAttributeRunes {
				updates = append(updates, kv.key.ValueSet(kv.value))
			}
		}
	}
	return updates
}

// upsertStatus tells the visibility store where an event stands, and which
// notices failed for good, if any.
func upsertStatus(ctx workflow.Context, status string, failed ...string) error {
	updates := []temporal.SearchAttributeUpdate{CompletionStatusKey.ValueSet(status)}
	if len(failed) > 0 {
		updates = append(updates, FailedStepsKey.ValueSet(failed))
	}
	return workflow.UpsertTypedSearchAttributes(ctx, updates...)
}

// SearchAttributeTypeName is the type as the Temporal CLI spells it.
func SearchAttributeTypeName(t enums.IndexedValueType) string {
	switch t {
	case enums.INDEXED_VALUE_TYPE_KEYWORD:
		return "Keyword"
	case enums.INDEXED_VALUE_TYPE_KEYWORD_LIST:
		return "KeywordList"
	}
	return t.String()
}
