package main

import (
	"fmt"
	"os"
	"time"

	"github.com/coursehook/coursehook/app"
	"github.com/coursehook/coursehook/certificate"
)

// certResult is the renderer's speed and output size.
type certResult struct {
	Renders     int
	Median, P99 time.Duration
	Size        int
	// GCPercent is the garbage collection target the renders ran under.
	GCPercent int
}

// certificate renders the first sample's certificate opts.Renders times in
// this process, as the email activity does for every event.
func (b *bench) certificate() (certResult, error) {
	ev, err := b.samples.first()
	if err != nil {
		return certResult{}, err
	}
	data := certificate.Data{
		LearnerName:   ev.LearnerName(),
		CourseTitle:   ev.Title,
		CompletedAt:   ev.CompletionTime(time.Now()),
		CertificateID: ev.ID,
	}
	b.progress("certificate: %d renders", b.opts.Renders)
	// Render under the worker's garbage collection target, as the email
	// activity does.
	gc, _, undo := app.TuneGC(os.Getenv)
	defer undo()
	times := make([]time.Duration, b.opts.Renders)
	var size int
	for i := range times {
		began := time.Now()
		pdf, err := certificate.Render(data)
		times[i] = time.Since(began)
		if err != nil {
			return certResult{}, fmt.Errorf("certificate: %w", err)
		}
		size = len(pdf)
	}
	d := newDist(times)
	return certResult{Renders: len(times), Median: d.pct(50), P99: d.pct(99), Size: size, GCPercent: gc}, nil
}
