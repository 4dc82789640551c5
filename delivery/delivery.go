// Package delivery is the delivery state of one certificate email, as
// SendGrid's Event Webhook reports it.
//
// SendGrid posts events in batches, retries failed posts and gives no order
// across batches, so a "delivered" can arrive after the "bounced" that
// followed it. The states therefore form a total order and a state only ever
// moves up it (Advance): whatever order the events arrive in, the final state
// is the same.
package delivery

import (
	"fmt"
	"strings"
)

// State is where one email stands. The zero value means nothing is known yet.
type State string

// The states, in rank order. The order is what Advance relies on:
//
//   - Sent is coursehook's own: the send API accepted the message. Every
//     SendGrid event says more than that.
//   - Processed: SendGrid accepted it for delivery.
//   - Deferred: the receiving server asked SendGrid to retry; a later
//     Delivered or Bounced supersedes it, so it ranks below both.
//   - Delivered: the receiving server accepted it.
//   - Dropped: SendGrid refused to send it (suppressed or invalid address,
//     ...) before any delivery attempt, so no Deferred or Delivered follows
//     for that message. It is a final failure, so it ranks above every state
//     that says the message is on its way or arrived; its place relative to
//     Bounced and Spam, which cannot follow it, only keeps the order total.
//   - Bounced: the receiving server refused it. An asynchronous bounce can
//     come after Delivered (the server accepted, then sent a bounce
//     message), and it is the truer outcome, so it ranks higher.
//   - Spam: the learner reported it as spam. That can only happen after
//     delivery and is the last thing we learn, so it ranks highest.
const (
	Sent      State = "sent"
	Processed State = "processed"
	Deferred  State = "deferred"
	Delivered State = "delivered"
	Dropped   State = "dropped"
	Bounced   State = "bounced"
	Spam      State = "spam"
)

// States returns every state in rank order. The slice is the caller's.
func States() []State {
	return []State{Sent, Processed, Deferred, Delivered, Dropped, Bounced, Spam}
}

// Rank is s's place in the order: Sent 0 up to Spam 6, and -1 for anything
// else (the empty state included).
func Rank(s State) int {
	switch s {
	case Sent:
		return 0
	case Processed:
		return 1
	case Deferred:
		return 2
	case Delivered:
		return 3
	case Dropped:
		return 4
	case Bounced:
		return 5
	case Spam:
		return 6
	}
	return -1
}

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	return Rank(s) >= 0
}

// Failed reports whether the email did not reach the learner's inbox as
// intended: dropped, bounced, or reported as spam.
func (s State) Failed() bool {
	return s == Dropped || s == Bounced || s == Spam
}

// Advance is the state once next is reported while cur holds. It never moves
// backwards: it is whichever of the two ranks higher, so applying events in
// any order gives the same result. An invalid next changes nothing; an empty
// or invalid cur takes next.
func Advance(cur, next State) State {
	if !next.Valid() {
		return cur
	}
	if Rank(next) > Rank(cur) {
		return next
	}
	return cur
}

// ParseStates reads a comma-separated list such as "bounced,dropped", as the
// --delivery flag and the delivery query parameter take it. Words are
// trimmed and lower-cased, empty words and repeats are skipped, and an empty
// list gives no states and no error.
func ParseStates(list string) ([]State, error) {
	var out []State
	seen := make(map[State]bool)
	for word := range strings.SplitSeq(list, ",") {
		s := State(strings.ToLower(strings.TrimSpace(word)))
		if s == "" || seen[s] {
			continue
		}
		if !s.Valid() {
			return nil, fmt.Errorf("unknown delivery state %q (want %s)", strings.TrimSpace(word), names())
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

// names lists the states for error messages.
func names() string {
	all := States()
	words := make([]string, len(all))
	for i, s := range all {
		words[i] = string(s)
	}
	return strings.Join(words, ", ")
}
