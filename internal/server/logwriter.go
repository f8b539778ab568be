package server

import (
	"io"
	"sync"
	"time"
)

// LogWriter gathers log lines for w and writes them together, so that a
// server answering thousands of requests a second makes a few writes a
// second for its access log instead of one per request (measured: the
// write was most of the access log's cost, which was a tenth of the
// dashboard query's server time). A line reaches w at most delay after it
// was logged, or at once when maxPending bytes wait; Close writes what is
// left. Write never fails: errors of w are dropped, as slog drops them.
// A process that dies without Close (a crash, SIGKILL) loses the lines of
// its last delay at most.
type LogWriter struct {
	w     io.Writer
	delay time.Duration

	mu      sync.Mutex
	pending []byte
	closed  bool

	flushMu sync.Mutex // one write to w at a time, in order
	spare   []byte     // guarded by flushMu
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
}

// maxPending is how many bytes wait at most before Write flushes itself.
const maxPending = 256 << 10

// NewLogWriter starts a LogWriter for w; delay is how long a line may
// wait (10 ms when 0).
func NewLogWriter(w io.Writer, delay time.Duration) *LogWriter {
	if delay <= 0 {
		delay = 10 * time.Millisecond
	}
	l := &LogWriter{w: w, delay: delay, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go l.loop()
	return l
}

// Write keeps a copy of p for the next write to w.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.flushMu.Lock()
		defer l.flushMu.Unlock()
		l.w.Write(p)
		return len(p), nil
	}
	first := len(l.pending) == 0
	l.pending = append(l.pending, p...)
	full := len(l.pending) >= maxPending
	l.mu.Unlock()
	if full {
		l.flush()
	} else if first {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (l *LogWriter) loop() {
	defer close(l.done)
	t := time.NewTimer(l.delay)
	t.Stop()
	for {
		select {
		case <-l.kick:
			t.Reset(l.delay)
			select {
			case <-t.C:
			case <-l.stop:
				t.Stop()
				return
			}
			l.flush()
		case <-l.stop:
			return
		}
	}
}

// flush writes what is pending.
func (l *LogWriter) flush() {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	b := l.pending
	l.pending = l.spare[:0]
	l.mu.Unlock()
	if len(b) > 0 {
		l.w.Write(b)
	}
	if cap(b) <= 4*maxPending {
		l.spare = b
	} else {
		l.spare = nil
	}
}

// Close writes what is pending and stops the LogWriter; later lines are
// written at once, after every earlier one.
func (l *LogWriter) Close() error {
	l.closeOnce.Do(l.close)
	return nil
}

func (l *LogWriter) close() {
	close(l.stop)
	<-l.done
	// Lines logged meanwhile still join pending; from the moment closed
	// is set, Write waits for flushMu, so none overtakes the last flush.
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	l.closed = true
	b := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(b) > 0 {
		l.w.Write(b)
	}
}
