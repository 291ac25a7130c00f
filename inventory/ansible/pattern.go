package ansible

import (
	"fmt"
	"strconv"
	"strings"
)

// pattern is a host name as written in the inventory: literal text and host ranges, e.g.
// edge-[001:300] or web-[a:f]. A pattern without ranges is one host.
type pattern struct {
	text  string
	parts []part
}

// part is literal text (rng nil) or one range.
type part struct {
	lit string
	rng *hostRange
}

// hostRange is [begin:end] or [begin:end:step]: numbers (zero-padded to width when begin is
// written with a leading zero) or letters.
type hostRange struct {
	alpha      bool
	begin, end int // numbers, or indexes into letters
	step       int
	width      int // 0: no padding
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// parsePattern splits a host pattern into literals and ranges. The error says what to fix.
func parsePattern(s string) (pattern, error) {
	p := pattern{text: s}
	rest := s
	for {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			if strings.IndexByte(rest, ']') >= 0 {
				return p, fmt.Errorf("host %q has a ']' without '[': write a range as name-[01:10]", s)
			}
			if rest != "" {
				p.parts = append(p.parts, part{lit: rest})
			}
			return p, nil
		}
		closing := strings.IndexByte(rest[open:], ']')
		if closing < 0 {
			return p, fmt.Errorf("host range in %q is not closed: add the ']' after %q", s, rest[open:])
		}
		body := rest[open+1 : open+closing]
		r, err := parseRange(body)
		if err != nil {
			return p, fmt.Errorf("host range [%s] in %q: %v", body, s, err)
		}
		if open > 0 {
			p.parts = append(p.parts, part{lit: rest[:open]})
		}
		p.parts = append(p.parts, part{rng: r})
		rest = rest[open+closing+1:]
	}
}

func parseRange(body string) (*hostRange, error) {
	b := strings.Split(body, ":")
	if len(b) != 2 && len(b) != 3 {
		return nil, fmt.Errorf("write begin:end or begin:end:step, e.g. [01:20] or [a:f]")
	}
	beg, end := b[0], b[1]
	if beg == "" {
		beg = "0"
	}
	if end == "" {
		return nil, fmt.Errorf("the range has no end: write begin:end, e.g. [%s:20]", beg)
	}
	r := &hostRange{step: 1}
	if len(b) == 3 {
		st, err := strconv.Atoi(b[2])
		if err != nil || st < 1 {
			return nil, fmt.Errorf("the step %q is not a positive number", b[2])
		}
		r.step = st
	}
	if beg[0] == '0' && len(beg) > 1 {
		if len(beg) != len(end) {
			w := max(len(beg), len(end))
			return nil, fmt.Errorf("begin %q and end %q differ in width: write both ends zero-padded to the same number of digits, e.g. [%s:%s]",
				beg, end, strings.Repeat("0", w-len(beg))+beg, strings.Repeat("0", w-len(end))+end)
		}
		r.width = len(beg)
	}
	ib, ie := strings.Index(letters, beg), strings.Index(letters, end)
	if len(beg) == 1 && len(end) == 1 && ib >= 0 && ie >= 0 {
		if ib > ie {
			return nil, fmt.Errorf("begin %q comes after end %q: swap them", beg, end)
		}
		r.alpha, r.begin, r.end = true, ib, ie
		return r, nil
	}
	nb, err1 := strconv.Atoi(beg)
	ne, err2 := strconv.Atoi(end)
	if err1 != nil || err2 != nil || nb < 0 || ne < 0 {
		return nil, fmt.Errorf("begin and end must both be numbers or both single letters")
	}
	if nb > ne {
		return nil, fmt.Errorf("begin %d is larger than end %d: swap them", nb, ne)
	}
	if (ne-nb)/r.step >= 1_000_000 {
		return nil, fmt.Errorf("the range makes more than a million hosts")
	}
	r.begin, r.end = nb, ne
	return r, nil
}

// values are the range's elements as they appear in host names.
func (r *hostRange) values() []string {
	var out []string
	for i := r.begin; i <= r.end; i += r.step {
		if r.alpha {
			out = append(out, letters[i:i+1])
		} else {
			out = append(out, fmt.Sprintf("%0*d", r.width, i))
		}
	}
	return out
}

func (p pattern) hasRange() bool {
	for _, pt := range p.parts {
		if pt.rng != nil {
			return true
		}
	}
	return false
}

// expand lists the pattern's host names, the first range varying slowest.
func (p pattern) expand() []string {
	names := []string{""}
	for _, pt := range p.parts {
		if pt.rng == nil {
			for i := range names {
				names[i] += pt.lit
			}
			continue
		}
		vals := pt.rng.values()
		next := make([]string, 0, len(names)*len(vals))
		for _, n := range names {
			for _, v := range vals {
				next = append(next, n+v)
			}
		}
		names = next
	}
	return names
}
