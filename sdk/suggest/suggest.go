// Package suggest finds the known names closest to a mistyped one, for the
// "did you mean" of error messages: the node's config keys and service
// names, a console's commands, or a service's own names.
package suggest

import "strings"

// Closest returns the candidate nearest to s, ignoring case, if it is within
// maxDist edits; on a tie, the first in candidates. It returns "" when
// nothing is close enough or s itself is a candidate.
func Closest(s string, candidates []string, maxDist int) string {
	ls := strings.ToLower(s)
	best, bestDist := "", maxDist+1
	for _, c := range candidates {
		if c == s {
			return ""
		}
		if d := Distance(ls, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// MaxLen is the longest string Distance compares edit by edit.
const MaxLen = 64

// Distance returns the optimal string alignment distance between a and b:
// the number of single-byte insertions, deletions, substitutions and swaps
// of adjacent bytes that turn a into b, no substring edited twice. Names are
// ASCII, so bytes are characters. A string longer than MaxLen is no name:
// its distance is the longer length, so input from outside (a console
// line, a config file) costs no more than a name.
func Distance(a, b string) int {
	if len(a) > MaxLen || len(b) > MaxLen {
		return max(len(a), len(b))
	}
	// Three rows of the dynamic programming table: i-2, i-1 and i.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
