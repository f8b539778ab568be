package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// defaultDataDir is --data-dir when it is not given.
const defaultDataDir = "./tally-data"

// envFlags registers flags that fall back to TALLY_* environment variables.
type envFlags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []string
}

// envName is the environment variable of a flag: --max-buckets is
// TALLY_MAX_BUCKETS.
func envName(flagName string) string {
	return "TALLY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (e *envFlags) help(name, help string) string {
	return help + " (env " + envName(name) + ")"
}

func (e *envFlags) String(name, def, help string) *string {
	if v := e.getenv(envName(name)); v != "" {
		def = v
	}
	return e.fs.String(name, def, e.help(name, help))
}

func (e *envFlags) Int(name string, def int, help string) *int {
	if v := e.getenv(envName(name)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not an integer", envName(name), v))
		} else {
			def = n
		}
	}
	return e.fs.Int(name, def, e.help(name, help))
}

func (e *envFlags) Int64(name string, def int64, help string) *int64 {
	if v := e.getenv(envName(name)); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not an integer", envName(name), v))
		} else {
			def = n
		}
	}
	return e.fs.Int64(name, def, e.help(name, help))
}

func (e *envFlags) Duration(name string, def time.Duration, help string) *time.Duration {
	if v := e.getenv(envName(name)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not a duration such as 30s", envName(name), v))
		} else {
			def = d
		}
	}
	return e.fs.Duration(name, def, e.help(name, help))
}
