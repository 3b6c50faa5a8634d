package console

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// A Handler runs a registered command.
//
// Run is called on the session's goroutine and must not block: it starts
// the work (typically by queueing an event for the owning service) and
// returns. The command ends when reply is called, once, from any
// goroutine; reply never blocks, and calls after the first, or after the
// session gave up waiting, are ignored. The reply text may span lines.
type Handler interface {
	Run(call *Call, reply func(text string))
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(call *Call, reply func(text string))

// Run calls f(call, reply).
func (f HandlerFunc) Run(call *Call, reply func(string)) { f(call, reply) }

// Call is one command typed by a user, ready for its handler.
type Call struct {
	Session uint64 // the session's id, unique within a Server
	Path    string // absolute path of the command, "/demo/push"
	Args    []Arg  // the arguments given, in spec order
	Line    string // the line as typed
	Dir     string // the session's current directory, "/demo"
}

// Arg is one bound argument.
type Arg struct {
	Name, Value string
}

// Arg returns the value of the named argument and whether it was given.
func (c *Call) Arg(name string) (string, bool) {
	for _, a := range c.Args {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// Command is a registered command. It is immutable once added.
type Command struct {
	Path    string    // slash-separated, without a leading slash: "rpc/peers"
	Args    []ArgSpec // the argument specs, see [ParseArgs]
	Desc    string    // one line of help
	Owner   string    // the registering service; its commands leave with it
	Handler Handler
}

// Name returns the last element of the command's path.
func (c *Command) Name() string { return c.Path[strings.LastIndexByte(c.Path, '/')+1:] }

// Usage returns the absolute path with the argument synopsis.
func (c *Command) Usage() string {
	if len(c.Args) == 0 {
		return "/" + c.Path
	}
	return "/" + c.Path + " " + Synopsis(c.Args)
}

// builtinNames lists the names the console keeps for itself in every
// directory, sorted.
func builtinNames() []string { return []string{"?", "cd", "exit", "help", "ls", "quit"} }

func isBuiltin(name string) bool { return slices.Contains(builtinNames(), name) }

// Errors returned by [Tree.Add].
var (
	// ErrTaken means the path is another service's command, or a
	// directory.
	ErrTaken = errors.New("console: path taken")
	// ErrBadPath means the path is empty or has a bad element.
	ErrBadPath = errors.New("console: bad command path")
)

// dir is one directory of the tree.
type dir struct {
	desc string
	dirs map[string]*dir
	cmds map[string]*Command
}

func newDir(desc string) *dir {
	return &dir{desc: desc, dirs: make(map[string]*dir), cmds: make(map[string]*Command)}
}

// Tree is the directory tree of commands. It is safe for concurrent use:
// services add and remove commands while sessions read it.
type Tree struct {
	mu   sync.RWMutex
	root *dir
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{root: newDir("")} }

// splitPath splits a slash-separated path into checked elements.
func splitPath(path string) ([]string, error) {
	var elems []string
	for e := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
		if !validName(e) || isBuiltin(e) {
			return nil, fmt.Errorf("%w %q: element %q must be letters, digits, '_', '-' or '.', and not a built-in (%s)",
				ErrBadPath, path, e, strings.Join(builtinNames(), " "))
		}
		elems = append(elems, e)
	}
	return elems, nil
}

func validName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Add registers a command at path ("rpc/peers") with an argument spec (see
// [ParseArgs]), creating missing directories. A command re-added by its
// owner is replaced; a path held by another owner, or by a directory, is
// refused with [ErrTaken].
func (t *Tree) Add(path, args, desc, owner string, h Handler) (*Command, error) {
	elems, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	specs, err := ParseArgs(args)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("console: command %q has no handler", path)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.root
	for i, e := range elems[:len(elems)-1] {
		if c, ok := d.cmds[e]; ok {
			return nil, fmt.Errorf("%w: %q is a command of %s", ErrTaken, strings.Join(elems[:i+1], "/"), c.Owner)
		}
		next, ok := d.dirs[e]
		if !ok {
			next = newDir("")
			d.dirs[e] = next
		}
		d = next
	}
	name := elems[len(elems)-1]
	if _, ok := d.dirs[name]; ok {
		return nil, fmt.Errorf("%w: %q is a directory", ErrTaken, strings.Join(elems, "/"))
	}
	if old, ok := d.cmds[name]; ok && old.Owner != owner {
		return nil, fmt.Errorf("%w: %q is a command of %s", ErrTaken, strings.Join(elems, "/"), old.Owner)
	}
	c := &Command{Path: strings.Join(elems, "/"), Args: specs, Desc: desc, Owner: owner, Handler: h}
	d.cmds[name] = c
	return c, nil
}

// Describe sets the one-line help of a directory, creating it if needed.
func (t *Tree) Describe(path, desc string) error {
	elems, err := splitPath(path)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.root
	for i, e := range elems {
		if _, ok := d.cmds[e]; ok {
			return fmt.Errorf("%w: %q is a command", ErrTaken, strings.Join(elems[:i+1], "/"))
		}
		next, ok := d.dirs[e]
		if !ok {
			next = newDir("")
			d.dirs[e] = next
		}
		d = next
	}
	d.desc = desc
	return nil
}

// RemoveOwner removes every command of owner, and directories left empty,
// and returns how many commands went.
func (t *Tree) RemoveOwner(owner string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return removeOwner(t.root, owner)
}

func removeOwner(d *dir, owner string) int {
	n := 0
	for name, c := range d.cmds {
		if c.Owner == owner {
			delete(d.cmds, name)
			n++
		}
	}
	for name, sub := range d.dirs {
		n += removeOwner(sub, owner)
		if len(sub.cmds) == 0 && len(sub.dirs) == 0 {
			delete(d.dirs, name)
		}
	}
	return n
}

// Len returns the number of commands in the tree.
func (t *Tree) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var count func(d *dir) int
	count = func(d *dir) int {
		n := len(d.cmds)
		for _, sub := range d.dirs {
			n += count(sub)
		}
		return n
	}
	return count(t.root)
}

// Lookup returns the command at an absolute or slash-separated path.
func (t *Tree) Lookup(path string) (*Command, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	elems := strings.Split(strings.Trim(path, "/"), "/")
	d := t.root
	for _, e := range elems[:len(elems)-1] {
		if d = d.dirs[e]; d == nil {
			return nil, false
		}
	}
	c, ok := d.cmds[elems[len(elems)-1]]
	return c, ok
}

// walk resolves a path relative to cwd (absolute when it starts with
// "/"), with "." and ".." elements, to a list of directory elements. It
// stops at the first element that is not a directory and returns the
// elements resolved so far and the rest. The caller holds t.mu.
func (t *Tree) walk(cwd []string, path string) (dirPath []string, d *dir, rest []string) {
	if strings.HasPrefix(path, "/") {
		cwd = nil
	}
	dirPath = slices.Clone(cwd)
	d = t.dirAt(dirPath)
	if d == nil { // cwd vanished: its service left
		dirPath, d = nil, t.root
	}
	elems := strings.Split(path, "/")
	for i, e := range elems {
		switch e {
		case "", ".":
			continue
		case "..":
			if len(dirPath) > 0 {
				dirPath = dirPath[:len(dirPath)-1]
				d = t.dirAt(dirPath)
			}
			continue
		}
		next, ok := d.dirs[e]
		if !ok {
			return dirPath, d, elems[i:]
		}
		dirPath, d = append(dirPath, e), next
	}
	return dirPath, d, nil
}

// dirAt returns the directory at elems, or nil. The caller holds t.mu.
func (t *Tree) dirAt(elems []string) *dir {
	d := t.root
	for _, e := range elems {
		if d = d.dirs[e]; d == nil {
			return nil
		}
	}
	return d
}

// names returns the sorted entries of d: directories with a trailing
// slash, then commands.
func (d *dir) names() (dirs, cmds []string) {
	for n := range d.dirs {
		dirs = append(dirs, n)
	}
	for n := range d.cmds {
		cmds = append(cmds, n)
	}
	slices.Sort(dirs)
	slices.Sort(cmds)
	return dirs, cmds
}

// absPath renders directory elements as an absolute path.
func absPath(elems []string) string { return "/" + strings.Join(elems, "/") }

// exists reports whether the directory at elems exists.
func (t *Tree) exists(elems []string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dirAt(elems) != nil
}

// Remove removes owner's command at path. It fails when the path is not a
// command of owner.
func (t *Tree) Remove(path, owner string) error {
	elems, err := splitPath(path)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.dirAt(elems[:len(elems)-1])
	name := elems[len(elems)-1]
	if d == nil || d.cmds[name] == nil || d.cmds[name].Owner != owner {
		return fmt.Errorf("console: %q is not a command of %s", strings.Join(elems, "/"), owner)
	}
	delete(d.cmds, name)
	prune(t.root)
	return nil
}

// prune removes empty directories under d. The caller holds t.mu.
func prune(d *dir) {
	for name, sub := range d.dirs {
		prune(sub)
		if len(sub.cmds) == 0 && len(sub.dirs) == 0 {
			delete(d.dirs, name)
		}
	}
}
