package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Source tells where an effective value came from.
type Source int

// Sources, from lowest to highest precedence.
const (
	SourceDefault  Source = iota // the default given by the service
	SourceEmbedded               // the embedded config (Options.Embedded), used while no file exists
	SourceFile                   // the config file
	SourceEnv                    // an MT_<Service>_<key> environment variable
	SourceFlag                   // a --set Service.key=value override
)

// String returns "default", "embedded", "file", "env" or "flag".
func (s Source) String() string {
	switch s {
	case SourceDefault:
		return "default"
	case SourceEmbedded:
		return "embedded"
	case SourceFile:
		return "file"
	case SourceEnv:
		return "env"
	case SourceFlag:
		return "flag"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// Options configure [Open]. The zero value is an empty in-memory store that
// reads the process environment.
type Options struct {
	// Path is the config file. "" keeps the store in memory only (tests,
	// embedded configs); nothing is ever written then.
	Path string
	// Embedded is initial content, used when Path is "" or the file does
	// not exist yet. It is parsed like a file named "<embedded>"; once the
	// store writes Path, the file holds this content plus the new keys.
	Embedded string
	// Env looks up environment variables; nil means os.LookupEnv. A variable
	// MT_<Service>_<key> (see EnvName) overrides the file.
	Env func(name string) (string, bool)
	// Environ lists the environment as "NAME=value" strings, as os.Environ
	// does, so that [Store.Effective] and [Store.Unknown] see the MT_
	// variables of keys no service has defined. It is read once, by Open.
	// nil means os.Environ when Env is nil too, and no variables when Env is
	// given (a caller that injects Env injects Environ as well).
	Environ func() []string
	// Overrides are values from --set Service.key=value flags. They win
	// over everything else and are never written to the file.
	Overrides map[string]string
	// Logger receives warnings (bad values, failed writes); nil discards them.
	Logger *slog.Logger
	// ReadOnly keeps the store from ever writing the file.
	ReadOnly bool
}

// Store is the config of one node: the parsed file, the keys services have
// defined, and the overrides. It is safe for concurrent use.
//
// Lock order: wmu before mu. wmu serializes file writes and is held while
// the file is written, without mu, so readers are not held up by disk I/O.
type Store struct {
	path     string
	readOnly bool
	env      func(string) (string, bool)
	envNames []string // MT_ variables that name a key, sorted; see envKey
	flags    map[string]string
	log      *slog.Logger

	wmu sync.Mutex

	mu          sync.RWMutex
	name        string                 // the file as messages name it: path, "<embedded>" or "<memory>"
	doc         *document              // what the file says, plus keys added since
	defs        map[string]*definition // keys defined by Lookup, first definition wins
	pending     map[string]uint64      // keys Set since the last write, with their change number
	gen         uint64                 // change number of the latest change to doc
	flushed     uint64                 // change number the file on disk holds
	disk        []byte                 // content last read from or written to path
	onDisk      bool                   // whether path existed then
	writeFailed bool                   // the last write failed (and was logged)
	problems    []problem
	seen        map[string]bool // problems already recorded, by message
}

// A definition is what a service said about a key when it looked it up.
type definition struct {
	key       string
	def, desc string
	env       string // snapshot of the environment override, taken at definition
	envOK     bool
}

type problem struct {
	key string
	err error
}

// Names of sources that are not files, as messages show them.
const (
	embeddedName = "<embedded>"
	memoryName   = "<memory>"
)

// Open reads and parses the config file at opts.Path if it exists; a missing
// file is fine and is created, with its directory, on the first write. It
// also checks the syntax of the override keys. All problems are returned
// together (see [ParseError]); a store is returned only when there are none.
func Open(opts Options) (*Store, error) {
	s := &Store{
		path:     opts.Path,
		readOnly: opts.ReadOnly,
		env:      opts.Env,
		flags:    make(map[string]string, len(opts.Overrides)),
		log:      opts.Logger,
		defs:     make(map[string]*definition),
		pending:  make(map[string]uint64),
		seen:     make(map[string]bool),
	}
	environ := opts.Environ
	if s.env == nil {
		s.env = os.LookupEnv
		if environ == nil {
			environ = os.Environ
		}
	}
	if environ != nil {
		for _, kv := range environ() {
			name, _, _ := strings.Cut(kv, "=")
			if _, ok := envKey(name); ok {
				s.envNames = append(s.envNames, name)
			}
		}
		slices.Sort(s.envNames)
		s.envNames = slices.Compact(s.envNames)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(opts.Overrides)) {
		if msg := checkKey(k); msg != "" {
			errs = append(errs, fmt.Errorf("config: --set %s=...: %s", k, msg))
			continue
		}
		s.flags[k] = strings.TrimSpace(opts.Overrides[k])
	}
	if s.path != "" {
		data, exists, err := readFile(s.path)
		switch {
		case err != nil:
			errs = append(errs, err)
		case exists:
			doc, perrs := parse(s.path, data)
			errs = append(errs, perrs...)
			s.doc, s.name, s.disk, s.onDisk = doc, s.path, data, true
		}
	}
	if s.doc == nil && !s.onDisk && opts.Embedded != "" {
		doc, perrs := parse(embeddedName, []byte(opts.Embedded))
		errs = append(errs, perrs...)
		s.doc, s.name = doc, embeddedName
		if doc != nil {
			for _, e := range doc.entries {
				e.embedded = true
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if s.doc == nil {
		s.doc, s.name = newDocument(), memoryName
		if s.path != "" {
			s.name = s.path
		}
	}
	return s, nil
}

// Path returns the config file's path, or "" for an in-memory store.
func (s *Store) Path() string { return s.path }

// Exists reports whether the config file existed when the store last read
// or wrote it. It is false for an in-memory store, and for a file that the
// first write will create (from the embedded config, if there is one).
func (s *Store) Exists() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.onDisk
}

// EnvName returns the environment variable that overrides key: "MT_" plus
// the key with its first '.' replaced by '_', as in MT_RPC_bindAddr for
// RPC.bindAddr and MT_Start for Start.
func EnvName(key string) string {
	return "MT_" + strings.Replace(key, ".", "_", 1)
}

// envKey returns the key an environment variable overrides: the reverse of
// EnvName, with the first '_' after "MT_" read as the '.'. ok is false for a
// variable that is not MT_ followed by a valid key. A key whose service name
// has a '_' is named by the same variable as another key; envKeys prefers the
// key the store knows.
func envKey(name string) (key string, ok bool) {
	rest, ok := strings.CutPrefix(name, "MT_")
	if !ok {
		return "", false
	}
	key = strings.Replace(rest, "_", ".", 1)
	if checkKey(key) != "" || EnvName(key) != name {
		return "", false
	}
	return key, true
}

// envKeys returns the keys the MT_ variables of the environment override,
// each with its variable, sorted by variable. A variable that names a key
// the store knows (from the file, a definition or --set) gets that key.
// The caller holds mu.
func (s *Store) envKeys() []envVar {
	if len(s.envNames) == 0 {
		return nil
	}
	known := make(map[string]string) // variable -> key
	for k := range s.doc.entries {
		known[EnvName(k)] = k
	}
	for k := range s.flags {
		known[EnvName(k)] = k
	}
	for k := range s.defs {
		known[EnvName(k)] = k
	}
	out := make([]envVar, 0, len(s.envNames))
	for _, name := range s.envNames {
		k, ok := known[name]
		if !ok {
			k, _ = envKey(name)
		}
		out = append(out, envVar{name: name, key: k})
	}
	return out
}

// An envVar is an MT_ environment variable and the key it overrides.
type envVar struct{ name, key string }

// Lookup returns the effective value of key and where it came from: a
// --set override, else the environment, else the file, else def. The first
// Lookup of a key defines it with its default and description; a later one
// with another default or description gets the first one's. Defining a
// key that is missing from the file adds it, under a "# desc (default: def)"
// line, and writes the file (unless the store is read-only or in memory);
// the write is atomic, and Lookup returns once the file holds the key. A
// failed write is logged, and the value is still returned.
//
// Lookup of a defined key takes a read lock and a few map lookups; services
// call it when they start. An invalid key is recorded as a problem (see
// [Store.Problems]) and gets def.
func (s *Store) Lookup(key, def, desc string) (value string, src Source) {
	s.mu.RLock()
	if d, ok := s.defs[key]; ok {
		value, src = s.resolve(key, d)
		s.mu.RUnlock()
		return value, src
	}
	s.mu.RUnlock()
	return s.define(key, def, desc)
}

// defined returns the effective value of key if a service has defined it.
// It takes the key as bytes so that a Section can build prefix.k without
// allocating, and allocates nothing itself.
func (s *Store) defined(key []byte) (full, value string, src Source, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.defs[string(key)]
	if !ok {
		return "", "", SourceDefault, false
	}
	value, src = s.resolve(d.key, d)
	return d.key, value, src, true
}

// define is the slow path of Lookup: the first lookup of a key.
func (s *Store) define(key, def, desc string) (string, Source) {
	if msg := checkKey(key); msg != "" {
		s.report(key, fmt.Errorf("config: looking up %q: %s", key, msg))
		return def, SourceDefault
	}
	s.mu.Lock()
	d, ok := s.defs[key]
	if ok { // defined meanwhile by another goroutine
		v, src := s.resolve(key, d)
		s.mu.Unlock()
		return v, src
	}
	d = &definition{key: key, def: def, desc: desc}
	if v, ok := s.env(EnvName(key)); ok {
		d.env, d.envOK = strings.TrimSpace(v), true
	}
	s.defs[key] = d
	changed := s.doc.define(key, d)
	if changed {
		s.gen++
	}
	gen := s.gen
	v, src := s.resolve(key, d)
	s.mu.Unlock()
	if changed && s.writable() {
		if err := s.flush(gen); err != nil {
			s.writeError(err)
		}
	}
	return v, src
}

// resolve returns the effective value of key. d is the key's definition, or
// nil for a key no service defined. The caller holds mu.
func (s *Store) resolve(key string, d *definition) (string, Source) {
	if v, ok := s.flags[key]; ok {
		return v, SourceFlag
	}
	if d != nil {
		if d.envOK {
			return d.env, SourceEnv
		}
	} else if v, ok := s.env(EnvName(key)); ok {
		return strings.TrimSpace(v), SourceEnv
	}
	if e := s.doc.entries[key]; e != nil && !e.fromDefault {
		if e.embedded {
			return e.value, SourceEmbedded
		}
		return e.value, SourceFile
	}
	if d != nil {
		return d.def, SourceDefault
	}
	return "", SourceDefault
}

// Set sets key to value in the file, as an operator does: the key is checked,
// the value is trimmed and must be one line, and the file is written
// atomically, keeping every comment and other key. A --set or environment
// override of the key still wins over the new value. Set returns
// [ErrReadOnly] on a read-only store, and the error of a failed write (the
// new value is then in memory only).
func (s *Store) Set(key, value string) error {
	if msg := checkKey(key); msg != "" {
		return fmt.Errorf("config: setting %q: %s", key, msg)
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("config: setting %s: the value has a line break or NUL byte; a value is one line of text", key)
	}
	if s.readOnly {
		return ErrReadOnly
	}
	s.mu.Lock()
	e := s.doc.entries[key]
	if e == nil {
		e = &entry{key: key}
		if d := s.defs[key]; d != nil {
			e.comments = []string{genLine(key, d.def, d.desc)}
		}
		s.doc.entries[key] = e
	}
	e.value, e.fromDefault, e.embedded = value, false, false
	s.gen++
	gen := s.gen
	s.pending[key] = gen
	s.mu.Unlock()
	if !s.writable() {
		return nil
	}
	return s.flush(gen)
}

func (s *Store) writable() bool { return s.path != "" && !s.readOnly }

// flush writes the file if it does not yet hold change gen. Writers queue on
// wmu, and the first one writes every change made so far, so a burst of
// definitions at startup costs a few writes, not one each.
//
// If the file changed on disk since the store last read or wrote it (an
// operator edited it), flush parses it again and applies the store's own
// changes to the new content rather than overwriting the edit; if the edited
// file does not parse, it is left alone and the errors are returned.
func (s *Store) flush(gen uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	done := s.flushed >= gen
	s.mu.RUnlock()
	if done {
		return nil
	}
	target := writeTarget(s.path)
	cur, exists, err := readFile(target)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if exists != s.onDisk || !bytes.Equal(cur, s.disk) {
		if err := s.merge(cur, exists); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	data, lines := s.doc.format()
	upto := s.gen
	s.mu.Unlock()

	if err := writeAtomic(target, data); err != nil {
		return fmt.Errorf("config: writing %s: %w", s.path, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.disk, s.onDisk, s.flushed, s.name = data, true, upto, s.path
	for k, n := range lines {
		if e := s.doc.entries[k]; e != nil {
			e.line, e.embedded = n, false
		}
	}
	for k, g := range s.pending {
		if g <= upto {
			delete(s.pending, k)
		}
	}
	if s.writeFailed {
		s.writeFailed = false
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "config: file written again", slog.String("file", s.path))
	}
	return nil
}

// merge replaces the document with the file's new content (cur; exists is
// false if the file was removed) and applies the store's changes to it: the
// values Set since the last write and the keys services defined. The caller
// holds wmu and mu.
func (s *Store) merge(cur []byte, exists bool) error {
	doc := newDocument()
	if exists {
		var errs []error
		if doc, errs = parse(s.path, cur); errs != nil {
			return fmt.Errorf("config: %s was edited and no longer parses, so it is not rewritten; fix it: %w", s.path, errors.Join(errs...))
		}
	}
	for k := range s.pending {
		old := s.doc.entries[k]
		if e := doc.entries[k]; e != nil {
			e.value = old.value
		} else {
			doc.entries[k] = &entry{key: k, value: old.value, comments: old.comments}
		}
	}
	for k, d := range s.defs {
		doc.define(k, d)
		// A default the store wrote and the edit kept is still a default.
		if old, e := s.doc.entries[k], doc.entries[k]; old != nil && old.fromDefault && e.value == old.value {
			e.fromDefault = true
		}
	}
	s.doc, s.disk, s.onDisk, s.name = doc, cur, exists, s.path
	return nil
}

// writeError logs a failed write once at Warn, then at Debug until a write
// succeeds again, so a read-only directory does not flood the log.
func (s *Store) writeError(err error) {
	s.mu.Lock()
	first := !s.writeFailed
	s.writeFailed = true
	s.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.Background(), level, "config: cannot write file, new keys are in memory only",
		slog.String("file", s.path), slog.Any("err", err))
}

// Entry is one key of the effective config, as [Store.Effective] lists it.
type Entry struct {
	Key         string
	Value       string // the effective value
	Default     string // the default a service gave; "" if none defined it
	Description string // the description a service gave
	Source      Source // where Value came from
	Known       bool   // a service defined the key with Lookup
	// Documented: no service defined the key in this process, but its
	// comment in the file, written when one did, gives Default and
	// Description.
	Documented bool
}

// ShownDefault renders e's default as the config file's comments and
// messages do (quoted when empty, padded or holding control characters),
// or "" when neither a definition nor the file gives one.
func (e Entry) ShownDefault() string {
	if !e.Known && !e.Documented {
		return ""
	}
	return showDefault(e.Default)
}

// Effective returns every key the store knows, from the file, from
// definitions, from --set overrides and from the MT_ variables of the
// environment (see [Options.Environ]), sorted by key, each with its
// effective value and source. The caller owns the slice.
func (s *Store) Effective() []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make(map[string]bool, len(s.doc.entries)+len(s.defs)+len(s.flags)+len(s.envNames))
	for k := range s.doc.entries {
		keys[k] = true
	}
	for k := range s.defs {
		keys[k] = true
	}
	for k := range s.flags {
		keys[k] = true
	}
	for _, v := range s.envKeys() {
		keys[v.key] = true
	}
	out := make([]Entry, 0, len(keys))
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		d := s.defs[k]
		e := Entry{Key: k, Known: d != nil}
		if d != nil {
			e.Default, e.Description = d.def, d.desc
		} else if fe := s.doc.entries[k]; fe != nil && len(fe.comments) > 0 {
			e.Description, e.Default, e.Documented = parseGenerated(fe.comments[len(fe.comments)-1])
		}
		e.Value, e.Source = s.resolve(k, d)
		out = append(out, e)
	}
	return out
}

// Sub returns the typed getters for one service: key k of the section is
// prefix+"."+k. An empty prefix reads keys as given.
func (s *Store) Sub(prefix string) *Section {
	return &Section{store: s, prefix: prefix}
}

// Problems returns every bad value the typed getters of all sections have
// met, in the order they were met. The caller owns the slice.
func (s *Store) Problems() []error {
	return s.problemsWith("")
}

// problemsWith returns the problems of keys that start with prefix.
func (s *Store) problemsWith(prefix string) []error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []error
	for _, p := range s.problems {
		if strings.HasPrefix(p.key, prefix) {
			out = append(out, p.err)
		}
	}
	return out
}

// report records a problem and logs it at Warn, once per distinct message.
func (s *Store) report(key string, err error) {
	msg := err.Error()
	s.mu.Lock()
	if s.seen[msg] {
		s.mu.Unlock()
		return
	}
	s.seen[msg] = true
	s.problems = append(s.problems, problem{key: key, err: err})
	s.mu.Unlock()
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "config: bad value, using the default",
		slog.String("key", key), slog.Any("err", err))
}

// Where describes where the effective value of key comes from, as a
// [ValueError] names it: "conf/mtnode.conf:7", "<embedded>:2",
// "env MT_Node_logLevel", "--set" or "default". Callers that check a value
// themselves use it to say where a bad one is.
func (s *Store) Where(key string) string {
	s.mu.RLock()
	_, src := s.resolve(key, s.defs[key])
	s.mu.RUnlock()
	return s.where(key, src)
}

// where describes where key's value from src came from, for a ValueError.
func (s *Store) where(key string, src Source) string {
	switch src {
	case SourceFlag:
		return "--set"
	case SourceEnv:
		return "env " + EnvName(key)
	case SourceFile, SourceEmbedded:
		s.mu.RLock()
		defer s.mu.RUnlock()
		if e := s.doc.entries[key]; e != nil && e.line > 0 {
			return s.name + ":" + strconv.Itoa(e.line)
		}
		return s.name
	}
	return "default"
}
