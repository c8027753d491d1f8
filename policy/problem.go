package policy

import (
	"fmt"
	"strings"
)

// Problem is one mistake found in a policy file by Load. Load returns every
// Problem it finds, joined with errors.Join; use errors.As or a type switch
// over the joined errors to get at the positions.
type Problem struct {
	File      string
	Line, Col int    // 1-based; 0 when the problem has no position
	Msg       string // what is wrong
	Hint      string // how to fix it; may be empty
}

// Error formats the problem as "file:line:col: msg (hint: ...)".
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(p.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// suggest returns a did-you-mean hint for word among known, or a list of the
// known words when none is close enough.
func suggest(word string, known []string, what string) string {
	if m := closest(word, known); m != "" {
		return fmt.Sprintf("did you mean %q?", m)
	}
	if len(known) == 0 {
		return ""
	}
	return what + ": " + strings.Join(known, ", ")
}

// closest returns the entry of known nearest to word by Levenshtein distance,
// or "" when even the nearest is too far to be a plausible typo.
func closest(word string, known []string) string {
	best, bestD := "", -1
	lw := strings.ToLower(word)
	for _, k := range known {
		d := levenshtein(lw, strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(2, len([]rune(word))/3) || bestD >= len([]rune(word)) {
		return ""
	}
	return best
}

// levenshtein is the edit distance between a and b, counted in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
