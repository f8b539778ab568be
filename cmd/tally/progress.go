package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal-like writer: the
// share of total done, and how many sessions so far.
type progress struct {
	w      io.Writer
	label  string
	total  int64 // units of done
	done_  int64
	count  int // sessions
	start  time.Time
	lastAt time.Time
}

func newProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{w: w, label: label, total: max(total, 1), start: time.Now()}
	p.draw()
	return p
}

// add counts n sessions, each a unit of the total.
func (p *progress) add(n int) { p.set(p.done_+int64(n), p.count+n) }

// set puts the bar at done units of the total, count sessions so far.
func (p *progress) set(done int64, count int) {
	p.done_, p.count = done, count
	if time.Since(p.lastAt) > 100*time.Millisecond {
		p.draw()
	}
}

func (p *progress) draw() {
	p.lastAt = time.Now()
	frac := float64(p.done_) / float64(p.total)
	if frac > 1 {
		frac = 1
	}
	const width = 30
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %d", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), int(frac*100), p.count)
}

func (p *progress) done() {
	p.done_ = p.total
	p.draw()
	fmt.Fprintf(p.w, " sessions in %s\n", time.Since(p.start).Round(time.Millisecond))
}
