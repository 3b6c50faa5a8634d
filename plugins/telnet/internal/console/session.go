package console

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mtnode/mtnode/plugins/telnet/internal/pwhash"
	"github.com/mtnode/mtnode/plugins/telnet/internal/term"
)

// maxLoginFailures is how many wrong passwords end a session.
const maxLoginFailures = 3

// readBufSize is the size of one read from the connection.
const readBufSize = 4096

// session is one connected client. All its fields belong to the goroutine
// running run, except conn, which the reader goroutine reads.
type session struct {
	srv  *Server
	tree *Tree
	cfg  *Config
	id   uint64
	conn net.Conn
	log  *slog.Logger

	dec    *term.Decoder
	ed     *term.Editor
	out    bytes.Buffer
	keys   []term.Key
	cwd    []string
	authed bool
	fails  int

	// The command in flight: its reply channel (nil when idle), the
	// command, and the timer bounding the wait.
	pending    chan string
	pendingCmd *Command
	deadline   *time.Timer
	// hold is the pause after a wrong password (nil when none): keys wait
	// in the typeahead until it ends, so guesses come no faster than one
	// per Config.LoginFailDelay however fast the client sends them.
	hold *time.Timer
	// typeahead holds keys typed while a command runs or a hold lasts,
	// replayed after it, up to maxTypeahead keys.
	typeahead    []term.Key
	maxTypeahead int
}

func newSession(srv *Server, id uint64, conn net.Conn) *session {
	s := &session{
		srv:          srv,
		tree:         srv.tree,
		cfg:          &srv.cfg,
		id:           id,
		conn:         conn,
		log:          srv.cfg.Logger.With("session", id, "peer", conn.RemoteAddr().String()),
		authed:       srv.cfg.PasswordHash == "",
		maxTypeahead: 4 * srv.cfg.MaxLineLength,
	}
	s.ed = term.NewEditor(&s.out, srv.cfg.MaxLineLength, srv.cfg.HistorySize, completer{s})
	s.ed.Mode = term.ModeQuiet // until the client accepts the server's echo
	return s
}

// completer completes against the tree from the session's directory.
type completer struct{ s *session }

func (c completer) Complete(head string) (int, []string) {
	if !c.s.authed {
		return 0, nil
	}
	return c.s.tree.complete(c.s.cwd, head)
}

// run serves the session until the client leaves, quits, idles out or the
// server closes. It owns the reader goroutine and waits for it.
func (s *session) run() {
	in := make(chan []byte)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go s.read(in, stop, readerDone)
	defer func() {
		close(stop)
		s.conn.Close()
		<-readerDone
		if s.deadline != nil {
			s.deadline.Stop()
		}
		if s.hold != nil {
			s.hold.Stop()
		}
	}()
	s.log.Info("console session opened")
	defer s.log.Info("console session closed")

	dec, greeting := term.NewDecoder()
	s.dec = dec
	s.out.Write(greeting)
	fmt.Fprintf(&s.out, "%s console (mtnode). Type help or ? for help, TAB completes.\r\n", s.cfg.Name)
	s.prompt()

	idle := time.NewTimer(s.cfg.IdleTimeout)
	defer idle.Stop()
	// An unauthenticated session may not keep its slot for the idle
	// timeout: it has LoginTimeout to log in.
	login := time.NewTimer(s.cfg.LoginTimeout)
	defer login.Stop()
	for s.flush() {
		var timeout, loginEnd, holdEnd <-chan time.Time
		if s.pending != nil {
			timeout = s.deadline.C
		}
		if !s.authed {
			loginEnd = login.C
		}
		if s.hold != nil {
			holdEnd = s.hold.C
		}
		select {
		case chunk, ok := <-in:
			if !ok {
				return // the client left
			}
			idle.Reset(s.cfg.IdleTimeout)
			if !s.input(chunk) {
				s.flush()
				return
			}
		case text := <-s.pending:
			s.endCommand()
			s.print(text)
			if !s.resume() {
				s.flush()
				return
			}
		case <-timeout:
			s.print(fmt.Sprintf("%% no answer from %s for %s within %v", s.pendingCmd.Owner, "/"+s.pendingCmd.Path, s.cfg.CommandTimeout))
			s.endCommand()
			if !s.resume() {
				s.flush()
				return
			}
		case <-holdEnd:
			s.hold = nil
			if !s.resume() {
				s.flush()
				return
			}
		case <-loginEnd:
			s.out.WriteString("\r\n% not logged in within " + s.cfg.LoginTimeout.String() + ", closing the session\r\n")
			s.flush()
			return
		case <-idle.C:
			s.out.WriteString("\r\n% idle for " + s.cfg.IdleTimeout.String() + ", closing the session\r\n")
			s.flush()
			return
		case <-s.srv.done:
			s.out.WriteString("\r\n% the console is shutting down\r\n")
			s.flush()
			return
		}
	}
}

// read copies the connection's bytes to in until an error or stop.
func (s *session) read(in chan<- []byte, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer close(in)
	buf := make([]byte, readBufSize)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			select {
			case in <- bytes.Clone(buf[:n]):
			case <-stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// flush writes pending output; false means the client is gone.
func (s *session) flush() bool {
	if s.out.Len() == 0 {
		return true
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	_, err := s.conn.Write(s.out.Bytes())
	s.out.Reset()
	if err != nil {
		s.log.Debug("console write failed", "err", err)
		return false
	}
	return true
}

// input decodes one chunk from the client and applies its keys; false
// ends the session.
func (s *session) input(chunk []byte) bool {
	var answers []byte
	s.keys, answers = s.dec.Decode(chunk, s.keys[:0], nil)
	s.out.Write(answers)
	s.setMode()
	return s.feed(s.keys)
}

// setMode follows the negotiated echo: the server draws the line only when
// the client agreed not to echo.
func (s *session) setMode() {
	switch {
	case !s.dec.Echo():
		s.ed.Mode = term.ModeQuiet
	case !s.authed:
		s.ed.Mode = term.ModeHidden
	default:
		s.ed.Mode = term.ModeEcho
	}
}

// feed applies keys. Keys that arrive while a command runs, or during the
// pause after a wrong password, wait in the typeahead, except Ctrl-C,
// which abandons the command.
func (s *session) feed(keys []term.Key) bool {
	for _, k := range keys {
		switch {
		case s.pending == nil && s.hold == nil:
			if !s.press(k) {
				return false
			}
		case s.pending != nil && k.Code == term.KeyInterrupt:
			s.out.WriteString("^C\r\n")
			s.print("% abandoned /" + s.pendingCmd.Path + "; a late answer is discarded")
			s.endCommand()
			s.typeahead = s.typeahead[:0]
			s.prompt()
		case len(s.typeahead) < s.maxTypeahead:
			s.typeahead = append(s.typeahead, k)
		}
	}
	return true
}

// resume prints the prompt after a command and replays the typeahead.
func (s *session) resume() bool {
	s.prompt()
	keys := s.typeahead
	s.typeahead = nil
	return s.feed(keys)
}

// press applies one key to the editor; false ends the session.
func (s *session) press(k term.Key) bool {
	action, line := s.ed.Press(k)
	switch action {
	case term.ActionQuit:
		s.out.WriteString("\r\nbye\r\n")
		return false
	case term.ActionCancel:
		s.prompt()
	case term.ActionTooLong:
		// Running what is left of the line could do harm (a cut
		// config/set writes a cut value): refuse it whole.
		s.print(fmt.Sprintf("%% line too long (max %d characters); not run", s.cfg.MaxLineLength))
		s.prompt()
	case term.ActionLine:
		if !s.authed {
			return s.login(line)
		}
		return s.execute(line)
	}
	return true
}

// login checks a password line.
func (s *session) login(line string) bool {
	ok, err := pwhash.Verify(s.cfg.PasswordHash, line)
	if err == nil && ok {
		s.authed = true
		s.setMode()
		s.log.Info("console login")
		s.prompt()
		return true
	}
	s.fails++
	s.log.Warn("console login failed", "failures", s.fails)
	if s.fails >= maxLoginFailures {
		s.out.WriteString("% wrong password; closing the session\r\n")
		return false
	}
	s.out.WriteString("% wrong password\r\n")
	s.hold = time.NewTimer(s.cfg.LoginFailDelay) // the prompt comes when it fires
	return true
}

// execute runs one line; false ends the session.
func (s *session) execute(line string) bool {
	p, err := s.tree.parse(s.cwd, line)
	if err != nil {
		s.print("% " + strings.ReplaceAll(err.Error(), "\n", "\n% "))
		s.prompt()
		return true
	}
	switch p.op {
	case opHelp:
		s.reply(s.tree.help(s.cwd, p.path))
	case opList:
		s.reply(s.tree.list(s.cwd, p.path))
	case opCd:
		s.cwd = p.dir
		s.prompt()
	case opQuit:
		s.out.WriteString("bye\r\n")
		return false
	case opCommand:
		s.dispatch(p, line)
	default:
		s.prompt()
	}
	return true
}

// reply prints a built-in's output or error and the prompt.
func (s *session) reply(text string, err error) {
	if err != nil {
		text = "% " + strings.ReplaceAll(err.Error(), "\n", "\n% ")
	}
	s.print(text)
	s.prompt()
}

// dispatch hands a command to its handler and starts waiting for the
// answer. The reply function never blocks: its channel has room for the
// one answer that counts.
func (s *session) dispatch(p parsed, line string) {
	ch := make(chan string, 1)
	var once sync.Once
	reply := func(text string) { once.Do(func() { ch <- text }) }
	call := &Call{Session: s.id, Path: "/" + p.cmd.Path, Args: p.args, Line: line, Dir: absPath(s.cwd)}
	s.pending, s.pendingCmd = ch, p.cmd
	if s.deadline == nil {
		s.deadline = time.NewTimer(s.cfg.CommandTimeout)
	} else {
		s.deadline.Reset(s.cfg.CommandTimeout)
	}
	s.log.Debug("console command", "command", call.Path, "service", p.cmd.Owner)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("console command handler panicked", "command", call.Path, "err", r)
			reply(fmt.Sprintf("%% command %s failed: %v", call.Path, r))
		}
	}()
	p.cmd.Handler.Run(call, reply)
}

// endCommand stops waiting for the command in flight.
func (s *session) endCommand() {
	s.pending, s.pendingCmd = nil, nil
	s.deadline.Stop()
}

// print writes text, ending every line with CR LF.
func (s *session) print(text string) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return
	}
	s.out.WriteString(strings.ReplaceAll(text, "\n", "\r\n"))
	s.out.WriteString("\r\n")
}

// prompt draws the prompt (or the password request) and the line.
func (s *session) prompt() {
	if !s.authed {
		s.ed.Prompt = "Password: "
	} else {
		if !s.tree.exists(s.cwd) {
			s.cwd = nil // the directory's service left
		}
		s.ed.Prompt = s.cfg.Name + ":" + absPath(s.cwd) + "$ "
	}
	s.ed.Redraw()
}
