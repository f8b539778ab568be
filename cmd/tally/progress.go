package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal-like writer.
type progress struct {
	w      io.Writer
	label  string
	total  int
	done_  int
	start  time.Time
	lastAt time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: max(total, 1), start: time.Now()}
	p.draw()
	return p
}

func (p *progress) add(n int) {
	p.done_ += n
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
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %d", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), int(frac*100), p.done_)
}

func (p *progress) done() {
	p.total = max(p.done_, 1)
	p.draw()
	fmt.Fprintf(p.w, " sessions in %s\n", time.Since(p.start).Round(time.Millisecond))
}
