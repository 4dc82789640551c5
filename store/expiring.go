package store

import (
	"context"
	"fmt"
	"time"
)

// expiringQuery counts, per course, the certificates that expire in a range
// and are still their learners' own: neither renewed nor revoked. It reads
// the range of the expiry index, however many certificates never expire.
const expiringQuery = `SELECT course_id, COUNT(*) FROM completions
WHERE expires_at >= ? AND expires_at < ? AND superseded_by = '' AND revoked_at IS NULL
GROUP BY course_id`

// ExpiringByCourse counts the certificates that expire in [from, before),
// by course id, leaving out those a re-completion renewed and those an
// operator revoked: the learners due to renew.
func (s *Store) ExpiringByCourse(ctx context.Context, from, before time.Time) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(expiringQuery), s.dialect.timeArg(from), s.dialect.timeArg(before))
	if err != nil {
		return nil, fmt.Errorf("count expiring certificates: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var course string
		var n int
		if err := rows.Scan(&course, &n); err != nil {
			return nil, fmt.Errorf("count expiring certificates: %w", err)
		}
		counts[course] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count expiring certificates: %w", err)
	}
	return counts, nil
}
