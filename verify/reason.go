package verify

import (
	"fmt"
	"strings"
)

// Reason is the category of a certificate's revocation. The public page
// shows only its label, never an operator's free text, which could say more
// about the learner than anyone should read on a public page.
type Reason string

// The revocation categories. The zero Reason means not revoked.
const (
	// ReasonIssuedInError: the certificate should never have been issued,
	// such as a completion sent by mistake or for the wrong learner.
	ReasonIssuedInError Reason = "issued_in_error"
	// ReasonSuperseded: a corrected certificate replaces this one.
	ReasonSuperseded Reason = "superseded"
	// ReasonLearnerRequest: withdrawn because the learner asked.
	ReasonLearnerRequest Reason = "learner_request"
	// ReasonMisconduct: the completion broke the course's rules.
	ReasonMisconduct Reason = "misconduct"
	// ReasonOther: any other reason.
	ReasonOther Reason = "other"
)

var reasonLabels = map[Reason]string{
	ReasonIssuedInError:  "Issued in error",
	ReasonSuperseded:     "Replaced by a newer certificate",
	ReasonLearnerRequest: "Withdrawn at the learner's request",
	ReasonMisconduct:     "Revoked for a breach of the course rules",
	ReasonOther:          "Revoked by the issuer",
}

// Reasons lists every category, in the order an operator reads them.
func Reasons() []Reason {
	return []Reason{ReasonIssuedInError, ReasonSuperseded, ReasonLearnerRequest, ReasonMisconduct, ReasonOther}
}

// ParseReason reads a category as an operator types it: any case, with
// dashes or spaces for underscores ("issued-in-error" is ReasonIssuedInError).
// Its error lists the valid categories.
func ParseReason(s string) (Reason, error) {
	r := Reason(strings.ToLower(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(s))))
	if _, ok := reasonLabels[r]; ok {
		return r, nil
	}
	valid := make([]string, 0, len(reasonLabels))
	for _, r := range Reasons() {
		valid = append(valid, string(r))
	}
	return "", fmt.Errorf("unknown revocation reason %q: use one of %s", s, strings.Join(valid, ", "))
}

// Label is the reason as the public page words it; an unknown value, which
// only a hand-edited database could hold, reads as ReasonOther.
func (r Reason) Label() string {
	if l, ok := reasonLabels[r]; ok {
		return l
	}
	return reasonLabels[ReasonOther]
}
