package server

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waitClosed fails t unless ch is closed within a few seconds.
func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not closed after 5 s", what)
	}
}

// TestWithTimeoutIsContexts: each way of ending the context, with Done
// and a child context taken before or after it ends, gives what
// context.WithTimeout gives.
func TestWithTimeoutIsContexts(t *testing.T) {
	type impl struct {
		name string
		make func(context.Context, time.Duration) (context.Context, context.CancelFunc)
	}
	impls := []impl{{"context", context.WithTimeout}, {"server", withTimeout}}
	for _, ending := range []string{"deadline", "cancel", "parent"} {
		for _, watchFirst := range []bool{false, true} {
			for _, im := range impls {
				t.Run(im.name+"/"+ending, func(t *testing.T) {
					parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), transportKey{}, "v"))
					defer cancelParent()
					d := time.Hour
					if ending == "deadline" {
						d = 30 * time.Millisecond
					}
					ctx, cancel := im.make(parent, d)
					defer cancel()
					if ctx.Value(transportKey{}) != "v" {
						t.Fatal("parent's value lost")
					}
					if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > d {
						t.Fatalf("Deadline() = %v, %v", dl, ok)
					}
					if err := ctx.Err(); err != nil {
						t.Fatalf("Err() before the end = %v", err)
					}
					var child context.Context
					ran := make(chan struct{})
					var stopped func() bool
					if watchFirst {
						select {
						case <-ctx.Done():
							t.Fatal("Done closed before the end")
						default:
						}
						var cancelChild context.CancelFunc
						child, cancelChild = context.WithCancel(ctx)
						defer cancelChild()
						stopped = context.AfterFunc(ctx, func() { close(ran) })
					}
					want := context.Canceled
					switch ending {
					case "deadline":
						want = context.DeadlineExceeded
						if watchFirst {
							waitClosed(t, "Done at the deadline", ctx.Done())
						} else {
							for ctx.Err() == nil {
								time.Sleep(time.Millisecond)
							}
						}
					case "cancel":
						cancel()
					case "parent":
						cancelParent()
						if watchFirst {
							waitClosed(t, "Done after the parent ends", ctx.Done())
						}
					}
					if err := ctx.Err(); !errors.Is(err, want) {
						t.Fatalf("Err() = %v, want %v", err, want)
					}
					if !watchFirst {
						var cancelChild context.CancelFunc
						child, cancelChild = context.WithCancel(ctx)
						defer cancelChild()
						stopped = context.AfterFunc(ctx, func() { close(ran) })
					}
					waitClosed(t, "Done", ctx.Done())
					waitClosed(t, "the child's Done", child.Done())
					waitClosed(t, "the AfterFunc", ran)
					if stopped() {
						t.Fatal("stop after the end reported that it stopped the function")
					}
					if err := child.Err(); !errors.Is(err, want) {
						t.Fatalf("the child's Err() = %v, want %v", err, want)
					}
					cancel()
					cancelParent()
					if err := ctx.Err(); !errors.Is(err, want) {
						t.Fatalf("Err() after more ends = %v, want the first, %v", err, want)
					}
				})
			}
		}
	}
}

// TestWithTimeoutStop: an AfterFunc stopped before the end never runs,
// and the parent's earlier deadline is the context's.
func TestWithTimeoutStop(t *testing.T) {
	parent, cancelParent := context.WithTimeout(context.Background(), time.Minute)
	defer cancelParent()
	ctx, cancel := withTimeout(parent, time.Hour)
	pd, _ := parent.Deadline()
	if dl, _ := ctx.Deadline(); !dl.Equal(pd) {
		t.Fatalf("Deadline() = %v, want the parent's %v", dl, pd)
	}
	ran := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(ran) })
	if !stop() {
		t.Fatal("stop before the end did not stop the function")
	}
	cancel()
	waitClosed(t, "Done", ctx.Done())
	select {
	case <-ran:
		t.Fatal("a stopped function ran")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestWithTimeoutConcurrent: under the race detector, Err, Done,
// AfterFunc and the ends called together end the context once.
func TestWithTimeoutConcurrent(t *testing.T) {
	for range 200 {
		parent, cancelParent := context.WithCancel(context.Background())
		ctx, cancel := withTimeout(parent, time.Millisecond)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				switch i {
				case 0:
					cancel()
				case 1:
					cancelParent()
				case 2:
					waitClosed(t, "Done", ctx.Done())
				case 3:
					for ctx.Err() == nil {
					}
				case 4:
					ch := make(chan struct{})
					context.AfterFunc(ctx, func() { close(ch) })
					waitClosed(t, "the AfterFunc", ch)
				case 5:
					c, cc := context.WithCancel(ctx)
					waitClosed(t, "the child's Done", c.Done())
					cc()
				}
			})
		}
		wg.Wait()
		cancelParent()
		if t.Failed() {
			return
		}
		if err := ctx.Err(); err != context.Canceled && err != context.DeadlineExceeded {
			t.Fatalf("Err() = %v", err)
		}
	}
}
