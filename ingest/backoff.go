package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backoff spaces the attempts of an operation that must eventually
// succeed, such as reading from or writing to a cluster that is briefly
// away: the first wait is Initial, each next one twice as long, capped at
// Max. The zero value waits 250ms, doubling up to 10s.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// ErrPermanent marks an error Retry must not retry; wrap it with
// fmt.Errorf("...: %w", ErrPermanent) or errors.Join.
var ErrPermanent = errors.New("permanent error")

// Retry calls fn until it returns nil, an error wrapping [ErrPermanent],
// or ctx ends; then it returns that error (joined with ctx's). Before each
// wait it calls onErr, if set, with the attempt number, the error and the
// coming delay, so the caller can log and count the failure.
func (b Backoff) Retry(ctx context.Context, onErr func(attempt int, err error, delay time.Duration),
	fn func() error) error {
	delay, ceiling := b.Initial, b.Max
	if delay <= 0 {
		delay = 250 * time.Millisecond
	}
	if ceiling <= 0 {
		ceiling = 10 * time.Second
	}
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || errors.Is(err, ErrPermanent) {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		if onErr != nil {
			onErr(attempt, err, delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gave up after %d attempts: %w", attempt, errors.Join(err, ctx.Err()))
		case <-t.C:
		}
		delay = min(2*delay, ceiling)
	}
}
