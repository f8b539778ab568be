//go:build ignore

// gen_tzdata copies the Go toolchain's zone database into tzdata/, where
// zonedata.go embeds it: go generate ./internal/pgtext runs it. The copy is
// the one package time/tzdata embeds (IANA data, public domain); it is not
// committed.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen_tzdata:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := filepath.Join(runtime.GOROOT(), "lib", "time")
	zip, err := os.ReadFile(filepath.Join(dir, "zoneinfo.zip"))
	if err != nil {
		return fmt.Errorf("the Go toolchain has no zone database: %w", err)
	}
	script, err := os.ReadFile(filepath.Join(dir, "update.bash"))
	if err != nil {
		return fmt.Errorf("the Go toolchain does not say which zone database it has: %w", err)
	}
	m := regexp.MustCompile(`(?m)^DATA=(\S+)`).FindSubmatch(script)
	if m == nil {
		return fmt.Errorf("no DATA= line in %s", filepath.Join(dir, "update.bash"))
	}
	if err := os.WriteFile(filepath.Join("tzdata", "zoneinfo.zip"), zip, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join("tzdata", "RELEASE"), append(m[1], '\n'), 0o644)
}
