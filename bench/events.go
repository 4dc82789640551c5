package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/internal/samples"
)

// sampleSet is the platform's sample events, read once; events hands out
// distinct events built from them in turn.
type sampleSet struct {
	names   []string
	bodies  []string
	ids     []string
	courses []string
	// pad, when positive, is the size every body is padded to.
	pad int
}

// loadSamples reads every *.json in dir. Each must be a valid course
// completion: the bench counts on every event it posts completing.
func loadSamples(dir string, pad int) (*sampleSet, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no sample events (*.json) in %s", dir)
	}
	slices.Sort(paths)
	s := &sampleSet{pad: pad}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ev, err := event.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", p, err)
		}
		if !ev.IsCourseCompletion() {
			return nil, fmt.Errorf("sample %s is a %q event, not a course completion", p, ev.Event)
		}
		s.names = append(s.names, filepath.Base(p))
		s.bodies = append(s.bodies, string(raw))
		s.ids = append(s.ids, ev.ID)
		s.courses = append(s.courses, ev.NotifiableID)
	}
	return s, nil
}

// courseMode is which course the events of a row complete.
type courseMode int

const (
	// sampleCourses keeps each sample's course.
	sampleCourses courseMode = iota
	// eachOwnCourse gives every event a course of its own, so no course
	// ever has a cohort.
	eachOwnCourse
	// oneCourse gives every event the same course, a cohort.
	oneCourse
)

// events returns n distinct events, the samples in turn, each with a fresh
// event id in place of the sample's, and the course courses says.
func (s *sampleSet) events(n int, courses courseMode) (ids []string, bodies [][]byte, err error) {
	cohort := uuid.NewString()
	for i := range n {
		k := i % len(s.bodies)
		id := uuid.NewString()
		text := strings.Replace(s.bodies[k], s.ids[k], id, 1)
		switch courses {
		case eachOwnCourse:
			text = strings.Replace(text, s.courses[k], uuid.NewString(), 1)
		case oneCourse:
			text = strings.Replace(text, s.courses[k], cohort, 1)
		}
		body := []byte(text)
		if s.pad > 0 {
			if body, err = samples.Pad(body, s.pad); err != nil {
				return nil, nil, fmt.Errorf("sample %s: %w", s.names[k], err)
			}
		}
		ids, bodies = append(ids, id), append(bodies, body)
	}
	return ids, bodies, nil
}

// first is the first sample, decoded, for the certificate row.
func (s *sampleSet) first() (event.Event, error) {
	return event.Parse([]byte(s.bodies[0]))
}

// describe names the samples and their sizes for the table's header.
func (s *sampleSet) describe() string {
	var parts []string
	for i, n := range s.names {
		size := len(s.bodies[i])
		if s.pad > 0 {
			size = s.pad
		}
		parts = append(parts, fmt.Sprintf("%s (%d B)", n, size))
	}
	return strings.Join(parts, ", ")
}

// answerBody is the part of the webhook's JSON answer the bench reads.
type answerBody struct {
	Status     string `json:"status"`
	EventID    string `json:"eventId"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
}

func decodeAnswer(raw []byte) (answerBody, error) {
	var a answerBody
	err := json.Unmarshal(raw, &a)
	return a, err
}
