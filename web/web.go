// Package web holds Tally's browser pages, embedded in the binary so that
// nothing is loaded from the internet at run time: the console (a query
// editor with the SPEC query and its headers ready to run) and the
// dashboard that charts open and closed sessions per interval.
package web

import "embed"

// FS holds console.html and dashboard.html.
//
//go:embed console.html
var FS embed.FS
