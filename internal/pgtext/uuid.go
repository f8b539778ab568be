package pgtext

// UUID is a 16-byte UUID.
type UUID [16]byte

// String renders the canonical lower-case hyphenated form.
func (u UUID) String() string {
	const hexdigits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexdigits[c>>4]
		b[j+1] = hexdigits[c&15]
		j += 2
	}
	return string(b[:])
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParseUUID reads a UUID as PostgreSQL's uuid_in does: 32 hex digits, upper
// or lower case, optionally with a hyphen after any group of four digits
// and optionally wrapped in braces.
func ParseUUID(s string) (UUID, error) {
	u, ok := parseUUID(s)
	if !ok {
		return u, uuidErr(s)
	}
	return u, nil
}

// ParseUUIDBytes is ParseUUID(string(b)) without making the string unless
// b is not a UUID (the error holds it).
func ParseUUIDBytes(b []byte) (UUID, error) {
	u, ok := parseUUID(b)
	if !ok {
		return u, uuidErr(string(b))
	}
	return u, nil
}

func parseUUID[S string | []byte](s S) (UUID, bool) {
	var u UUID
	src := s
	braces := false
	if len(src) > 0 && src[0] == '{' {
		src = src[1:]
		braces = true
	}
	for i := 0; i < 16; i++ {
		if len(src) < 2 {
			return u, false
		}
		hi, ok1 := unhex(src[0])
		lo, ok2 := unhex(src[1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[i] = hi<<4 | lo
		src = src[2:]
		if len(src) > 0 && src[0] == '-' && i%2 == 1 && i < 15 {
			src = src[1:]
		}
	}
	if braces {
		if len(src) == 0 || src[0] != '}' {
			return u, false
		}
		src = src[1:]
	}
	return u, len(src) == 0
}

func uuidErr(s string) error {
	return &SyntaxError{Type: "uuid", Input: s, Reason: `expected 32 hexadecimal digits such as "d2be0283-9b53-4d7b-b77d-2650f3a1a99c"`}
}

// NullUUID is an array element of type uuid that may be NULL.
type NullUUID struct {
	UUID  UUID
	Valid bool
}

// ParseUUIDArray reads a uuid[] literal ("_uuid"): an array literal whose
// non-NULL elements are UUIDs as ParseUUID reads them.
func ParseUUIDArray(s string) ([]NullUUID, error) {
	elems, err := ParseArray(s)
	if err != nil {
		return nil, err
	}
	out := make([]NullUUID, len(elems))
	for i, e := range elems {
		if e == nil {
			continue
		}
		u, err := ParseUUID(*e)
		if err != nil {
			return nil, err
		}
		out[i] = NullUUID{UUID: u, Valid: true}
	}
	return out, nil
}
