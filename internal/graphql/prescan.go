package graphql

// Pre-scans: gqlparser's parser and Tally's JSON decoder recurse once per
// level of nesting, so the nesting of a document and of its variables is
// measured first by loops that keep no stack, and anything deeper than
// the limits allow is refused before a recursive function sees it.

// docStats are what scanDocument learns of a GraphQL document.
type docStats struct {
	depth  int // deepest nesting of {, [ and (
	tokens int // names, numbers, strings and punctuators
}

// scanDocument measures a GraphQL document without parsing it: strings,
// block strings and comments are skipped, so brackets inside them do not
// count. Malformed text is measured as far as it goes; the parser reports
// what is wrong with it.
func scanDocument(q string) docStats {
	var st docStats
	depth := 0
	inToken := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '#':
			for i < len(q) && q[i] != '\n' && q[i] != '\r' {
				i++
			}
			inToken = false
		case c == '"':
			st.tokens++
			inToken = false
			if i+2 < len(q) && q[i+1] == '"' && q[i+2] == '"' {
				i += 3
				for i < len(q) {
					if q[i] == '\\' && i+3 < len(q) && q[i+1] == '"' && q[i+2] == '"' && q[i+3] == '"' {
						i += 4
						continue
					}
					if q[i] == '"' && i+2 < len(q) && q[i+1] == '"' && q[i+2] == '"' {
						i += 2
						break
					}
					i++
				}
				continue
			}
			for i++; i < len(q) && q[i] != '"' && q[i] != '\n'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		case c == '{' || c == '[' || c == '(':
			depth++
			st.depth = max(st.depth, depth)
			st.tokens++
			inToken = false
		case c == '}' || c == ']' || c == ')':
			depth = max(depth-1, 0)
			st.tokens++
			inToken = false
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			inToken = false
		case c == '_' || c == '-' || c == '.' || c == '+' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !inToken {
				st.tokens++
				inToken = true
			}
		default:
			st.tokens++
			inToken = false
		}
	}
	return st
}

// jsonDepth is the deepest nesting of objects and arrays in JSON text,
// strings skipped. It is meant for text encoding/json has accepted.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}
