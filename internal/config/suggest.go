package config

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/mtnode/mtnode/sdk/suggest"
)

// maxSuggestDistance is how many edits (insertions, deletions,
// substitutions or swaps of adjacent characters, ignoring case) a key may be
// from a known one and still get it as a suggestion.
const maxSuggestDistance = 2

// Unknown returns the keys in the file, in the --set overrides and in the
// MT_ variables of the environment (see [Options.Environ]) that are
// probably typos, each with a did-you-mean suggestion where one is close:
//
//   - keys whose service (the part before the first '.', or the whole key
//     when it has no dot) is not in knownPrefixes and defined no key;
//   - keys of a service that has defined at least one key with Lookup, but
//     never this one, when started reports that the service has finished
//     its start (started nil: every service that defined a key has).
//
// A service that has not started yet has defined nothing, and one still
// starting may not have defined all of its keys yet, so their keys are
// only checked against their name. Keys a service defined are never
// unknown.
// Suggestions come from the defined keys and, for a wrong service name,
// from knownPrefixes and the services that defined keys; a case-only
// difference always counts as close.
//
// The warnings come in file order, then the overrides by key, then the
// environment variables by name. The caller owns the slice.
func (s *Store) Unknown(knownPrefixes []string, started func(service string) bool) []Warning {
	s.mu.RLock()
	defer s.mu.RUnlock()

	services := make(map[string]bool) // known service names
	for _, p := range knownPrefixes {
		services[p] = true
	}
	definedIn := make(map[string]bool) // services that defined a key
	defined := make([]string, 0, len(s.defs))
	for k := range s.defs {
		definedIn[prefixOf(k)] = true
		services[prefixOf(k)] = true
		defined = append(defined, k)
	}
	slices.Sort(defined)
	names := make([]string, 0, len(services))
	for p := range services {
		names = append(names, p)
	}
	slices.Sort(names)

	unknown := func(key string) bool {
		if s.defs[key] != nil {
			return false
		}
		p := prefixOf(key)
		return !services[p] || definedIn[p] && (started == nil || started(p))
	}
	suggest := func(key string) string {
		if k := closest(key, defined); k != "" {
			return k
		}
		if p := prefixOf(key); !services[p] {
			if q := closest(p, names); q != "" {
				return q + key[len(p):]
			}
		}
		return ""
	}

	var out []Warning
	for k, e := range s.doc.entries {
		if unknown(k) {
			out = append(out, Warning{File: s.name, Line: e.line, Key: k, Suggestion: suggest(k)})
		}
	}
	slices.SortFunc(out, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key))
	})
	for _, k := range slices.Sorted(maps.Keys(s.flags)) {
		if unknown(k) {
			out = append(out, Warning{File: "--set", Key: k, Suggestion: suggest(k)})
		}
	}
	for _, v := range s.envKeys() {
		if unknown(v.key) {
			out = append(out, Warning{File: "environment " + v.name, Key: v.key, Suggestion: suggest(v.key)})
		}
	}
	return out
}

// prefixOf returns the service part of a key: what comes before the first
// '.', or the whole key.
func prefixOf(key string) string {
	if i := strings.IndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return key
}

// Suggest returns the candidate key closest to key, as [Store.Unknown]
// suggests one (a case-only difference always counts as close), or "" when
// none is close or key is itself a candidate.
func Suggest(key string, candidates []string) string {
	return closest(key, candidates)
}

// closest returns the candidate nearest to s within maxSuggestDistance.
func closest(s string, candidates []string) string {
	return suggest.Closest(s, candidates, maxSuggestDistance)
}
