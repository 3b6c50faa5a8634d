package term

import "unicode/utf8"

// Telnet commands (RFC 854).
const (
	cmdSE   = 240
	cmdNOP  = 241
	cmdIP   = 244
	cmdAYT  = 246
	cmdEC   = 247
	cmdEL   = 248
	cmdSB   = 250
	cmdWILL = 251
	cmdWONT = 252
	cmdDO   = 253
	cmdDONT = 254
	cmdIAC  = 255
)

// Telnet options the decoder knows by name.
const (
	OptEcho     = 1  // RFC 857
	OptSGA      = 3  // suppress go-ahead, RFC 858
	OptNAWS     = 31 // window size, RFC 1073 (refused)
	OptLinemode = 34 // RFC 1184 (refused: the server edits the line)
)

// MaxAnswers caps the negotiation answers one Decoder sends, so a client
// that keeps asking cannot make the server talk without end.
const MaxAnswers = 256

// maxParams is how many parameter bytes of an escape sequence are kept.
const maxParams = 8

// Decoder states.
const (
	stData  = iota // plain data
	stIAC          // after IAC
	stOpt          // after IAC WILL/WONT/DO/DONT, waiting for the option
	stSB           // inside a subnegotiation
	stSBIAC        // IAC inside a subnegotiation
	stEsc          // after ESC
	stCSI          // after ESC [
	stSS3          // after ESC O
	stUTF8         // inside a multi-byte UTF-8 sequence
)

// optionCount is the number of telnet options: an option is one byte.
const optionCount = 256

// Decoder parses the byte stream of one telnet connection into keys and
// negotiation answers. The zero value is not ready; use [NewDecoder].
type Decoder struct {
	state   int
	verb    byte // WILL/WONT/DO/DONT waiting for its option
	skipNL  bool // the previous data byte was CR: drop a following LF or NUL
	params  [maxParams]byte
	nparams int
	overrun bool // more than maxParams parameter bytes: drop the sequence
	utf     [utf8.UTFMax]byte
	nutf    int
	answers int

	// us and him hold the state of options on each side (RFC 1143 "no" or
	// "yes"); pending marks an offer the server made and the client has
	// not answered yet.
	us, him [optionCount]bool
	pending [optionCount]bool
}

// NewDecoder returns a decoder and the greeting to send when the connection
// opens: IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD. A telnet client that
// accepts both switches to character mode without local echo; a client that
// ignores them (netcat) keeps its own line editing and echo.
func NewDecoder() (*Decoder, []byte) {
	d := &Decoder{}
	d.pending[OptEcho] = true
	d.pending[OptSGA] = true
	return d, []byte{cmdIAC, cmdWILL, OptEcho, cmdIAC, cmdWILL, OptSGA}
}

// Echo reports whether the client agreed that the server echoes input (it
// answered DO ECHO). Until then, or with a client that does not negotiate,
// the client echoes for itself and the server must not.
func (d *Decoder) Echo() bool { return d.us[OptEcho] }

// Decode consumes p. Decoded keys are appended to keys and bytes to send
// back to the client (negotiation answers) to out; both are returned.
// Decode keeps its state between calls, so p may split a sequence anywhere.
func (d *Decoder) Decode(p []byte, keys []Key, out []byte) ([]Key, []byte) {
	for _, b := range p {
		switch d.state {
		case stIAC:
			keys, out = d.command(b, keys, out)
			continue
		case stOpt:
			out = d.negotiate(d.verb, b, out)
			d.state = stData
			continue
		case stSB:
			if b == cmdIAC {
				d.state = stSBIAC
			}
			continue
		case stSBIAC:
			switch b {
			case cmdSE:
				d.state = stData
			case cmdIAC: // escaped 255 inside the subnegotiation
				d.state = stSB
			default: // a client that forgot SE; treat as a new command
				d.state = stIAC
				keys, out = d.command(b, keys, out)
			}
			continue
		}
		if b == cmdIAC {
			// IAC interrupts any escape or UTF-8 sequence in progress,
			// except that IAC IAC is the data byte 255, handled there.
			d.state = stIAC
			continue
		}
		keys = d.data(b, keys)
	}
	return keys, out
}

// command handles the byte after IAC. An IAC inside an escape or UTF-8
// sequence abandons that sequence: decoding resumes in plain data.
func (d *Decoder) command(b byte, keys []Key, out []byte) ([]Key, []byte) {
	d.state = stData
	switch b {
	case cmdIAC:
		d.nutf = 0
		keys = d.data(cmdIAC, keys)
	case cmdWILL, cmdWONT, cmdDO, cmdDONT:
		d.verb = b
		d.state = stOpt
	case cmdSB:
		d.state = stSB
	case cmdIP:
		keys = append(keys, Key{Code: KeyInterrupt})
	case cmdEC:
		keys = append(keys, Key{Code: KeyBackspace})
	case cmdEL:
		keys = append(keys, Key{Code: KeyKillLine})
	case cmdAYT:
		out = d.answer(out, '\r', '\n', '[', 'y', 'e', 's', ']', '\r', '\n')
	}
	// NOP, DM, BRK, AO, GA and SE outside a subnegotiation are ignored.
	return keys, out
}

// negotiate applies one WILL/WONT/DO/DONT from the client.
func (d *Decoder) negotiate(verb, opt byte, out []byte) []byte {
	switch verb {
	case cmdDO: // the client asks the server to enable opt
		if opt != OptEcho && opt != OptSGA {
			return d.answer(out, cmdIAC, cmdWONT, opt)
		}
		if d.us[opt] {
			return out
		}
		d.us[opt] = true
		if d.pending[opt] {
			d.pending[opt] = false
			return out
		}
		return d.answer(out, cmdIAC, cmdWILL, opt)
	case cmdDONT:
		d.pending[opt] = false // a refused offer needs no answer
		if !d.us[opt] {
			return out // already off: RFC 1143 says stay silent
		}
		d.us[opt] = false
		return d.answer(out, cmdIAC, cmdWONT, opt)
	case cmdWILL: // the client offers to enable opt on its side
		if opt != OptSGA {
			return d.answer(out, cmdIAC, cmdDONT, opt)
		}
		if d.him[opt] {
			return out
		}
		d.him[opt] = true
		return d.answer(out, cmdIAC, cmdDO, opt)
	case cmdWONT:
		if !d.him[opt] {
			return out
		}
		d.him[opt] = false
		return d.answer(out, cmdIAC, cmdDONT, opt)
	}
	return out
}

// answer appends b to out unless the answer budget is spent.
func (d *Decoder) answer(out []byte, b ...byte) []byte {
	if d.answers >= MaxAnswers {
		return out
	}
	d.answers++
	return append(out, b...)
}

// data handles one byte of the data stream (not an IAC command).
func (d *Decoder) data(b byte, keys []Key) []Key {
	switch d.state {
	case stEsc:
		switch b {
		case '[':
			d.state, d.nparams, d.overrun = stCSI, 0, false
			return keys
		case 'O':
			d.state = stSS3
			return keys
		}
		d.state = stData // a lone ESC (or Alt+key): drop the ESC
	case stCSI:
		switch {
		case b >= 0x30 && b <= 0x3f: // parameter byte
			if d.nparams < maxParams {
				d.params[d.nparams] = b
				d.nparams++
			} else {
				d.overrun = true
			}
			return keys
		case b >= 0x20 && b <= 0x2f: // intermediate byte: unused
			d.overrun = true
			return keys
		case b >= 0x40 && b <= 0x7e: // final byte
			d.state = stData
			if code, ok := d.csiKey(b); ok && !d.overrun {
				keys = append(keys, Key{Code: code})
			}
			return keys
		}
		d.state = stData // malformed: abandon and read b as data
	case stSS3:
		d.state = stData
		if code, ok := finalKey(b); ok {
			keys = append(keys, Key{Code: code})
		}
		return keys
	case stUTF8:
		if b&0xc0 == 0x80 && d.nutf < len(d.utf) {
			d.utf[d.nutf] = b
			d.nutf++
			if !utf8.FullRune(d.utf[:d.nutf]) {
				return keys
			}
			d.state = stData
			r, _ := utf8.DecodeRune(d.utf[:d.nutf])
			d.nutf = 0
			if r != utf8.RuneError && r >= 0xa0 {
				keys = append(keys, Key{Code: KeyRune, Rune: r})
			}
			return keys
		}
		d.state, d.nutf = stData, 0 // broken sequence: drop it, read b afresh
	}

	skip := d.skipNL
	d.skipNL = false
	switch {
	case b == '\r':
		d.skipNL = true
		return append(keys, Key{Code: KeyEnter})
	case b == '\n':
		if skip {
			return keys
		}
		return append(keys, Key{Code: KeyEnter})
	case b == 0x1b:
		d.state = stEsc
	case b == 0x7f:
		return append(keys, Key{Code: KeyBackspace})
	case b < 0x20:
		if code, ok := controlKey(b); ok {
			return append(keys, Key{Code: code})
		}
	case b < 0x7f:
		return append(keys, Key{Code: KeyRune, Rune: rune(b)})
	case b >= 0xc2 && b <= 0xf4: // a UTF-8 leading byte
		d.state, d.utf[0], d.nutf = stUTF8, b, 1
	}
	// Other C0 controls, NUL and stray bytes >= 0x80 are dropped.
	return keys
}

// csiKey maps the final byte (and parameters) of ESC [ ... to a key.
func (d *Decoder) csiKey(final byte) (KeyCode, bool) {
	if final != '~' {
		return finalKey(final)
	}
	switch string(d.params[:d.nparams]) {
	case "1", "7":
		return KeyHome, true
	case "4", "8":
		return KeyEnd, true
	case "3":
		return KeyDelete, true
	}
	return 0, false
}

// finalKey maps the letter ending ESC [ X or ESC O X to a key.
func finalKey(b byte) (KeyCode, bool) {
	switch b {
	case 'A':
		return KeyUp, true
	case 'B':
		return KeyDown, true
	case 'C':
		return KeyRight, true
	case 'D':
		return KeyLeft, true
	case 'H':
		return KeyHome, true
	case 'F':
		return KeyEnd, true
	}
	return 0, false
}
