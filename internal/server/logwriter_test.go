package server

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer that counts its writes.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogWriterGathersLinesInOrder(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out, 20*time.Millisecond)
	const writers, lines = 8, 2000
	writeLines(lw, writers, lines).Wait()
	lw.Close()
	fmt.Fprintf(lw, "after close\n")
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines+1 || got[len(got)-1] != "after close" {
		t.Fatalf("%d lines, last %q; want %d, the last written after Close", len(got), got[len(got)-1], writers*lines+1)
	}
	checkLineOrder(t, got[:len(got)-1], writers)
	if out.writes > writers*lines/10 {
		t.Errorf("%d writes for %d lines: lines are not gathered", out.writes, writers*lines)
	}
}

func TestLogWriterWritesWithinItsDelay(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out, 5*time.Millisecond)
	defer lw.Close()
	fmt.Fprintf(lw, "one\n")
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the line was not written within 5 s (delay 5 ms): %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLogWriterCloseKeepsOrder: lines logged while Close runs are neither
// lost nor written ahead of older ones still pending (found in review:
// a line written straight through after closed was set could overtake
// Close's last flush).
func TestLogWriterCloseKeepsOrder(t *testing.T) {
	for range 20 {
		var out lockedBuffer
		lw := NewLogWriter(&out, time.Hour) // nothing is written before Close
		const writers, lines = 4, 3000
		wg := writeLines(lw, writers, lines)
		time.Sleep(time.Millisecond)
		lw.Close()
		wg.Wait()
		got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(got) != writers*lines {
			t.Fatalf("%d lines, want %d", len(got), writers*lines)
		}
		checkLineOrder(t, got, writers)
	}
}

// writeLines starts writers goroutines, each logging lines numbered lines
// to w.
func writeLines(w io.Writer, writers, lines int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for k := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "writer %d line %d\n", k, i)
			}
		}()
	}
	return &wg
}

// checkLineOrder fails unless each writer's lines in got are whole and in
// the order it wrote them.
func checkLineOrder(t *testing.T, got []string, writers int) {
	t.Helper()
	next := make([]int, writers)
	for _, line := range got {
		var w, i int
		if _, err := fmt.Sscanf(line, "writer %d line %d", &w, &i); err != nil || i != next[w] {
			t.Fatalf("line %q out of order or torn (want line %d of writer %d)", line, next[w], w)
		}
		next[w]++
	}
}
