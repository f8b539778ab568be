package graphql

import (
	"strconv"
	"strings"
)

// PathElem is one step of a Path: a key, or a list index when Key is "".
type PathElem struct {
	Key   string
	Index int
}

// Path is where in a request an error is, from the root "$", as Hasura
// reports it in extensions.path.
type Path []PathElem

// String renders p as Hasura's JSONPath: "$.selectionSet.rows.args.where._and[0]".
func (p Path) String() string {
	return string(p.appendTo(make([]byte, 0, 64)))
}

func (p Path) appendTo(dst []byte) []byte {
	dst = append(dst, '$')
	for _, e := range p {
		if e.Key == "" {
			dst = append(dst, '[')
			dst = strconv.AppendInt(dst, int64(e.Index), 10)
			dst = append(dst, ']')
			continue
		}
		dst = append(dst, '.')
		dst = append(dst, e.Key...)
	}
	return dst
}

// path is a position while walking a request (nil is "$"): each step lives in the
// frame of the function that walks into it and points to its parent, so
// walking a deep value costs nothing per level until an error freezes the
// chain into a Path. (Building a string per level costs memory quadratic
// in the depth.)
type path struct {
	up    *path
	key   string
	index int // when key is ""
}

// child is p.key.
func (p *path) child(key string) path { return path{up: p, key: key} }

// at is p[i].
func (p *path) at(i int) path { return path{up: p, index: i} }

// freeze copies the chain ending at p into a Path.
func (p *path) freeze() Path {
	n := 0
	for q := p; q != nil; q = q.up {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make(Path, n)
	for q := p; q != nil; q = q.up {
		n--
		// Clone, so that escape analysis sees nothing of the chain kept:
		// the steps then stay on their callers' stacks.
		out[n] = PathElem{Key: strings.Clone(q.key), Index: q.index}
	}
	return out
}

// String renders p, for messages that quote a path.
func (p *path) String() string { return p.freeze().String() }

// onHeap copies the chain ending at p to the heap, for walkers that
// recurse: Go's escape analysis cannot keep a chain built across recursive
// calls on the stack, and without the copy the caller's steps would be
// moved to the heap on every call, error or not.
func (p *path) onHeap() *path {
	if p == nil {
		return nil
	}
	return &path{up: p.up.onHeap(), key: strings.Clone(p.key), index: p.index}
}
