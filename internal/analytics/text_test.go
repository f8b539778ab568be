package analytics

import (
	"errors"
	"testing"
)

// TestTextArguments: a Text or TextArray argument whose text is not valid
// UTF-8 without NUL is a KindData error naming the argument (and the
// element), whatever transport built the arguments; REST's query
// parameters can carry bytes GraphQL's JSON cannot.
func TestTextArguments(t *testing.T) {
	f := NewCatalogue().Function(IntervalFunction)
	base := func(name string, v any) Args {
		return Args{Names: []string{"start_time", "end_time", name}, Values: []any{"2024-01-08", "2024-01-09", v}}
	}
	for _, c := range []struct {
		args   Args
		arg    string
		reason string
	}{
		{base("channels", "{w\xffb}"), "channels", "argument channels has invalid UTF-8 (byte 0xFF) at byte 2; text must be valid UTF-8 without NUL"},
		{base("agent_ids", []any{"ann", "b\x00b"}), "agent_ids", "argument agent_ids element 1 has NUL at byte 1; text must be valid UTF-8 without NUL"},
		{base("channels", []any{nil, "\xc3"}), "channels", "argument channels element 1 has invalid UTF-8 (byte 0xC3) at byte 0; text must be valid UTF-8 without NUL"},
	} {
		_, err := f.Prepare(c.args, Limits{})
		var ae *ArgError
		if !errors.As(err, &ae) || ae.Kind != KindData || ae.Arg != c.arg || ae.Reason != c.reason {
			t.Errorf("%v: %#v", c.args.Values, err)
		}
	}
	if _, err := f.Prepare(base("channels", []any{"wéb", "😀"}), Limits{}); err != nil {
		t.Errorf("good text: %v", err)
	}
}
