package courses

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Routes holds the table in force and replaces it whole on a reload, so a
// reader sees either the old file or the new one, never a mix. It is safe
// for concurrent use.
type Routes struct {
	current atomic.Pointer[Table]
	// reload serialises reloads, so that a slow one cannot store its table
	// over the table of a later one.
	reload sync.Mutex
}

// NewRoutes starts with t. A nil t routes every course to the zero Route.
func NewRoutes(t *Table) *Routes {
	if t == nil {
		t = &Table{courses: map[string]Route{}}
	}
	r := &Routes{}
	r.current.Store(t)
	return r
}

// Route returns the current route of the course with id courseID.
func (r *Routes) Route(courseID string) Route { return r.current.Load().Route(courseID) }

// Table returns the table in force.
func (r *Routes) Table() *Table { return r.current.Load() }

// Reload reads the current table's file again over base. When the file is
// refused, the current table stays in force and the error says why.
func (r *Routes) Reload(base Route) error {
	_, err := r.load(base)
	return err
}

// load is Reload returning the table in force afterwards, for the log.
func (r *Routes) load(base Route) (*Table, error) {
	r.reload.Lock()
	defer r.reload.Unlock()
	old := r.current.Load()
	t, err := Load(old.Path(), base, old.sections...)
	if err != nil {
		return old, err
	}
	r.current.Store(t)
	return t, nil
}

// WatchHUP reloads on each value from hup (a channel given to
// signal.Notify for SIGHUP) until ctx ends or hup is closed. It logs each
// outcome: "courses file reloaded" with the number of courses, or the
// refusal at error level, saying the old routing stays. A nil log discards.
func (r *Routes) WatchHUP(ctx context.Context, base Route, hup <-chan os.Signal, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-hup:
			if !ok {
				return
			}
			t, err := r.load(base)
			if err != nil {
				log.Error("courses file refused; keeping the old routing",
					"path", t.Path(), "courses", t.Len(), "error", err)
				continue
			}
			log.Info("courses file reloaded", "path", t.Path(), "courses", t.Len())
		}
	}
}
