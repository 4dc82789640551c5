package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
	"golang.org/x/time/rate"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/webhook"
)

// importArgs are import's flags and argument.
type importArgs struct {
	path, format string
	recordOnly   bool
	dryRun       bool
	// rate caps starts per second; zero is unlimited.
	rate     float64
	fromLine int
}

// defaultImportRate keeps a backfill from crowding out live deliveries on
// the Temporal frontend; the notices have their own throttled queues.
const defaultImportRate = 20

// parseImportArgs reads import's command line. The file may come before or
// after the flags.
func parseImportArgs(args []string) (importArgs, error) {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a := importArgs{}
	fs.StringVar(&a.format, "format", "", "jsonl or csv (default: by the file's extension)")
	fs.BoolVar(&a.recordOnly, "record-only", false, "record the completions, send no notice")
	fs.BoolVar(&a.dryRun, "dry-run", false, "validate and count, start nothing")
	fs.Float64Var(&a.rate, "rate", defaultImportRate, "starts per second at most; 0 is unlimited")
	fs.IntVar(&a.fromLine, "from-line", 1, "skip the lines before this one")
	if err := fs.Parse(args); err != nil {
		return a, fmt.Errorf("%w: import: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		return a, fmt.Errorf("%w: import needs a FILE of events (JSON Lines or CSV), or - for standard input", errUsage)
	}
	a.path = fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return a, fmt.Errorf("%w: import: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return a, fmt.Errorf("%w: import takes one FILE, got %q too", errUsage, fs.Arg(0))
	}
	switch {
	case a.rate < 0:
		return a, fmt.Errorf("%w: --rate %v: give starts per second, or 0 for no limit", errUsage, a.rate)
	case a.fromLine < 1:
		return a, fmt.Errorf("%w: --from-line %d: lines are numbered from 1", errUsage, a.fromLine)
	}
	var err error
	a.format, err = formatOf(a.path, a.format)
	return a, err
}

// importEvents is coursehookctl import: it starts the workflow of every
// event in a file, through the webhook's own validation and start.
func importEvents(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	a, err := parseImportArgs(args)
	if err != nil {
		return err
	}
	in, size, err := openInput(a.path, stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	im := &importer{args: a, progress: newProgress(stderr, size), backoff: time.Second}
	in.counted = im.progress.counted
	src, err := newSource(in, a.format)
	if err != nil {
		return err
	}

	if !a.dryRun {
		cfg, err := config.Load(getenv, config.Ctl)
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		if cfg.LearnerHashKeyDefault {
			fmt.Fprintln(stderr, "coursehookctl: LEARNER_HASH_KEY is unset; the LearnerHash search attribute of the imported events uses the development key")
		}
		c, err := dialTemporal(ctx, cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		im.start = webhook.New(c, discardLog(), webhook.Options{
			StartTimeout:   cfg.StartTimeout,
			NoticeDeadline: cfg.NoticeDeadline,
			TaskQueue:      cfg.TaskQueue,
			Namespace:      cfg.TemporalNamespace,
			LearnerHashKey: cfg.LearnerHashKey,
		}).Import
	}
	sum, err := im.run(ctx, src)
	if err != nil {
		return err
	}
	sum.print(stdout, a)
	return sum.err(a)
}

// input is the file read, counting the bytes for the progress bar.
type input struct {
	io.ReadCloser
	read    int64
	counted func(int64)
}

func (in *input) Read(p []byte) (int, error) {
	n, err := in.ReadCloser.Read(p)
	in.read += int64(n)
	if in.counted != nil {
		in.counted(in.read)
	}
	return n, err
}

// openInput opens path, or stdin for "-", and says its size (0 when
// unknown).
func openInput(path string, stdin io.Reader) (*input, int64, error) {
	if path == "-" {
		return &input{ReadCloser: io.NopCloser(stdin)}, 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errUsage, err)
	}
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return &input{ReadCloser: f}, size, nil
}

// importStart starts one event's workflow: webhook.Server.Import.
type importStart func(ctx context.Context, body []byte, receivedAt time.Time, opts webhook.ImportOptions) (string, error)

// importer runs one import.
type importer struct {
	args     importArgs
	start    importStart
	progress *progress
	// backoff is the wait before the first retry of a transient failure;
	// each retry waits twice as long as the one before.
	backoff time.Duration
}

// Retries and give-up: a transient failure is tried startAttempts times
// in all; after maxFailuresInARow lines failed one after the other,
// Temporal is taken to be down or refusing everything, and the import
// stops rather than fail every line that is left.
const (
	startAttempts     = 4
	maxFailuresInARow = 10
)

// problemLine is a line that was not imported, and why.
type problemLine struct {
	number int
	why    string
}

// importSummary counts what became of the lines read.
type importSummary struct {
	format            string
	first, last, read int
	accepted, ignored int
	duplicate         int
	invalid, failed   []problemLine
	// failedInARow counts the lines that failed one after the other, from
	// line streakFrom.
	failedInARow, streakFrom int
	// interrupted: the context ended the import; stopped says why it gave
	// up, if it did.
	interrupted bool
	stopped     string
	// resumeFrom is the first line not done when the import stopped early.
	resumeFrom int
}

func (im *importer) run(ctx context.Context, src source) (*importSummary, error) {
	sum := &importSummary{format: im.args.format}
	limit := rate.Inf
	if im.args.rate > 0 {
		limit = rate.Limit(im.args.rate)
	}
	limiter := rate.NewLimiter(limit, 1)
	defer im.progress.finish(sum)
	for ctx.Err() == nil {
		l, err := src.next()
		if errors.Is(err, io.EOF) {
			return sum, nil
		}
		if err != nil {
			return nil, err
		}
		if l.number < im.args.fromLine {
			continue
		}
		if sum.first == 0 {
			sum.first = l.number
		}
		sum.last, sum.resumeFrom = l.number, l.number
		sum.read++
		if stop, err := im.line(ctx, limiter, sum, l); stop || err != nil {
			return sum, err
		}
		sum.resumeFrom = l.number + 1
		im.progress.update(sum)
	}
	sum.interrupted = true
	return sum, nil
}

// line validates one line and, unless this is a dry run, starts its
// event. It says to stop when the import cannot go on.
func (im *importer) line(ctx context.Context, limiter *rate.Limiter, sum *importSummary, l line) (stop bool, err error) {
	problems := l.problems
	var ev event.Event
	if len(problems) == 0 {
		var invalid *event.ValidationError
		switch ev, err = event.Parse(l.body); {
		case errors.As(err, &invalid):
			problems = invalid.Problems
		case err != nil:
			return true, err
		}
	}
	switch {
	case len(problems) > 0:
		sum.invalid = append(sum.invalid, problemLine{l.number, problemText(problems)})
		return false, nil
	case im.args.dryRun:
		sum.count(acceptedStatus(ev))
		return false, nil
	}
	if err := limiter.Wait(ctx); err != nil {
		sum.interrupted = true
		return true, nil
	}
	status, err := im.startWithRetries(ctx, l.body)
	switch {
	case err != nil && ctx.Err() != nil:
		// Whether it started is unknown; a re-run from here finds out.
		sum.interrupted = true
		return true, nil
	case err != nil:
		sum.failed = append(sum.failed, problemLine{l.number, oneLine(err.Error())})
		if sum.failedInARow++; sum.failedInARow == 1 {
			sum.streakFrom = l.number
		}
		if sum.failedInARow == maxFailuresInARow {
			sum.stopped = fmt.Sprintf("stopped after %d lines in a row failed: is Temporal up, and does it take these starts?", maxFailuresInARow)
			sum.resumeFrom = sum.streakFrom
			return true, nil
		}
	default:
		sum.failedInARow = 0
		sum.count(status)
	}
	return false, nil
}

// acceptedStatus is what a dry run counts a valid event as.
func acceptedStatus(ev event.Event) string {
	if ev.IsCourseCompletion() {
		return webhook.StatusAccepted
	}
	return webhook.StatusIgnored
}

// count adds one started (or, in a dry run, startable) line.
func (s *importSummary) count(status string) {
	switch status {
	case webhook.StatusDuplicate:
		s.duplicate++
	case webhook.StatusIgnored:
		s.accepted++
		s.ignored++
	default:
		s.accepted++
	}
}

// startWithRetries starts one event, retrying a transient failure with
// backoff.
func (im *importer) startWithRetries(ctx context.Context, body []byte) (string, error) {
	wait := im.backoff
	for attempt := 1; ; attempt++ {
		status, err := im.start(ctx, body, time.Time{}, webhook.ImportOptions{RecordOnly: im.args.recordOnly})
		if err == nil || !webhook.Transient(err) || attempt == startAttempts {
			return status, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

// problemText names each field and says what is wrong with it, never its
// value: the events carry names and email addresses.
func problemText(ps []event.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = oneLine(p.Field) + ": " + oneLine(p.Message)
	}
	return strings.Join(parts, "; ")
}

// maxListed caps the invalid and the failed lines printed; the counts
// cover them all.
const maxListed = 1000

func (s *importSummary) print(w io.Writer, a importArgs) {
	if s.read == 0 {
		fmt.Fprintf(w, "no events read from line %d on\n", a.fromLine)
		return
	}
	if a.dryRun {
		fmt.Fprintf(w, "%d lines (dry run, nothing started): %d valid (%d of them ignored event types), %d invalid\n",
			s.read, s.accepted, s.ignored, len(s.invalid))
	} else {
		fmt.Fprintf(w, "%d lines: %d accepted (%d of them ignored event types), %d duplicate, %d invalid, %d failed\n",
			s.read, s.accepted, s.ignored, s.duplicate, len(s.invalid), len(s.failed))
	}
	fmt.Fprintf(w, "read lines %d to %d of %s (%s)\n", s.first, s.last, oneLine(a.path), s.format)
	listLines(w, "invalid (field: problem; values are not shown)", s.invalid)
	listLines(w, "failed", s.failed)
	switch {
	case s.interrupted:
		fmt.Fprintf(w, "interrupted at line %d; to go on: coursehookctl import --from-line %d (a line done twice is a duplicate)\n", s.resumeFrom, s.resumeFrom)
	case s.stopped != "":
		fmt.Fprintf(w, "%s; to go on: coursehookctl import --from-line %d\n", s.stopped, s.resumeFrom)
	case len(s.failed) > 0:
		fmt.Fprintln(w, "the failed lines can be imported again by running the same import: what was started is a duplicate")
	}
}

func listLines(w io.Writer, title string, ls []problemLine) {
	if len(ls) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for i, l := range ls {
		if i == maxListed {
			fmt.Fprintf(w, "  … and %d more\n", len(ls)-maxListed)
			break
		}
		fmt.Fprintf(w, "  line %d: %s\n", l.number, l.why)
	}
}

// err is the exit status: nil only when every line read was accepted or
// a duplicate, and the whole input was read.
func (s *importSummary) err(a importArgs) error {
	switch {
	case s.interrupted:
		return fmt.Errorf("import interrupted at line %d", s.resumeFrom)
	case s.stopped != "":
		return errors.New("import " + s.stopped)
	case a.dryRun && len(s.invalid) > 0:
		return fmt.Errorf("%d of %d lines are invalid", len(s.invalid), s.read)
	case len(s.invalid)+len(s.failed) > 0:
		return fmt.Errorf("%d of %d lines were not imported: %d invalid, %d failed", len(s.invalid)+len(s.failed), s.read, len(s.invalid), len(s.failed))
	}
	return nil
}

// progress reports how far the import is on stderr: a bar redrawn in
// place on a terminal, and a line every progressEvery lines otherwise.
type progress struct {
	w   io.Writer
	tty bool
	// size is the input's size, 0 when unknown (standard input), and read
	// how much of it was read.
	size, read int64
	drawn      time.Time
}

// progressEvery is how many lines a progress line reports, off a terminal.
const progressEvery = 1000

func newProgress(w io.Writer, size int64) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), size: size}
}

func (p *progress) counted(read int64) { p.read = read }

func (p *progress) update(s *importSummary) {
	if !p.tty {
		if s.read%progressEvery == 0 {
			fmt.Fprintf(p.w, "coursehookctl import: %s\n", s.counts())
		}
		return
	}
	if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond {
		p.drawn = now
		p.draw(s)
	}
}

func (p *progress) finish(s *importSummary) {
	if p.tty && s.read > 0 {
		p.draw(s)
		fmt.Fprintln(p.w)
	}
}

// draw writes the bar over the line it last wrote.
func (p *progress) draw(s *importSummary) {
	const width = 30
	bar := ""
	if p.size > 0 {
		done := int(min(p.read*width/p.size, width))
		bar = "[" + strings.Repeat("#", done) + strings.Repeat(".", width-done) + fmt.Sprintf("] %3d%% ", p.read*100/p.size)
	}
	fmt.Fprintf(p.w, "\r%s%s\x1b[K", bar, s.counts())
}

func (s *importSummary) counts() string {
	return fmt.Sprintf("%d lines: %d accepted, %d duplicate, %d invalid, %d failed",
		s.read, s.accepted, s.duplicate, len(s.invalid), len(s.failed))
}
