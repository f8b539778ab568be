package apikey

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes is the longest name a key may have.
const MaxNameBytes = 200

// CheckName reports whether name may name a key: at most MaxNameBytes of
// valid UTF-8 without control characters. A name is shown in terminals
// (tally keys list) and logs, where a control character could rewrite
// what an operator sees, so such names are refused rather than stored.
func CheckName(name string) error {
	if len(name) > MaxNameBytes {
		return fmt.Errorf("name is %d bytes long; the limit is %d", len(name), MaxNameBytes)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("name %s is not valid UTF-8", strconv.Quote(name))
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("name %s has a control character (%U) at byte %d; names are shown in terminals and logs, so they may hold printable characters only", strconv.Quote(name), r, i)
		}
	}
	return nil
}

// DisplayName is name as a terminal may print it: unchanged when it is
// printable, else quoted with Go's escapes (\x1b, \n, \u0085), so that a
// name stored before CheckName existed cannot move the cursor or fake a
// line.
func DisplayName(name string) string {
	if utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsControl) < 0 {
		return name
	}
	return strconv.Quote(name)
}
