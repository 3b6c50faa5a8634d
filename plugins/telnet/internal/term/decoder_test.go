package term

import (
	"bytes"
	"slices"
	"testing"
)

func keysOf(s string) []Key {
	var ks []Key
	for _, r := range s {
		ks = append(ks, Key{Code: KeyRune, Rune: r})
	}
	return ks
}

func k(c KeyCode) Key { return Key{Code: c} }

func TestDecoderKeys(t *testing.T) {
	enter := []Key{k(KeyEnter)}
	tests := []struct {
		name string
		in   string
		want []Key
	}{
		{"plain", "ls", keysOf("ls")},
		{"cr lf", "ls\r\n", append(keysOf("ls"), enter...)},
		{"cr nul", "ls\r\x00", append(keysOf("ls"), enter...)},
		{"bare lf", "ls\n", append(keysOf("ls"), enter...)},
		{"bare cr", "ls\r", append(keysOf("ls"), enter...)},
		{"two lines lf", "a\nb\n", []Key{{KeyRune, 'a'}, k(KeyEnter), {KeyRune, 'b'}, k(KeyEnter)}},
		{"empty lines", "\r\n\r\n", []Key{k(KeyEnter), k(KeyEnter)}},
		{"csi arrows", "\x1b[A\x1b[B\x1b[C\x1b[D", []Key{k(KeyUp), k(KeyDown), k(KeyRight), k(KeyLeft)}},
		{"csi home end", "\x1b[H\x1b[F", []Key{k(KeyHome), k(KeyEnd)}},
		{"ss3", "\x1bOH\x1bOF\x1bOA", []Key{k(KeyHome), k(KeyEnd), k(KeyUp)}},
		{"tilde", "\x1b[1~\x1b[4~\x1b[3~\x1b[7~\x1b[8~", []Key{k(KeyHome), k(KeyEnd), k(KeyDelete), k(KeyHome), k(KeyEnd)}},
		{"unknown csi dropped", "\x1b[5~\x1b[2;5Rx", keysOf("x")},
		{"long csi dropped", "\x1b[1111111111111111~x", keysOf("x")},
		{"lone esc", "\x1bx", keysOf("x")},
		{"controls", "\x01\x05\x02\x06\x03\x04\x15\x17\x0b\x0c\x10\x0e\x09\x7f\x08",
			[]Key{k(KeyHome), k(KeyEnd), k(KeyLeft), k(KeyRight), k(KeyInterrupt), k(KeyEOF),
				k(KeyKillLine), k(KeyKillWord), k(KeyKillEnd), k(KeyRedraw), k(KeyUp), k(KeyDown),
				k(KeyTab), k(KeyBackspace), k(KeyBackspace)}},
		{"utf8", "é€", keysOf("é€")},
		{"bad utf8", "\xc3x\x80y\xe2\x82", keysOf("xy")},
		{"iac iac is data", "\xff\xff", nil},
		{"iac ip", "\xff\xf4", []Key{k(KeyInterrupt)}},
		{"iac ec el", "\xff\xf7\xff\xf8", []Key{k(KeyBackspace), k(KeyKillLine)}},
		{"naws skipped", "a\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0b", keysOf("ab")},
		{"sb with escaped iac", "\xff\xfa\x18\xff\xff\x01\xff\xf0c", keysOf("c")},
		{"negotiation mid line", "l\xff\xfd\x01s", keysOf("ls")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := NewDecoder()
			got, _ := d.Decode([]byte(tt.in), nil, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Decode(%q) = %v, want %v", tt.in, got, tt.want)
			}
			// Byte by byte must give the same keys.
			d, _ = NewDecoder()
			var one []Key
			for i := range len(tt.in) {
				one, _ = d.Decode([]byte{tt.in[i]}, one, nil)
			}
			if !slices.Equal(one, tt.want) {
				t.Errorf("Decode byte by byte(%q) = %v, want %v", tt.in, one, tt.want)
			}
		})
	}
}

func TestDecoderNegotiation(t *testing.T) {
	const (
		iac  = "\xff"
		will = "\xfb"
		wont = "\xfc"
		do   = "\xfd"
		dont = "\xfe"
	)
	tests := []struct {
		name     string
		in       string
		wantOut  string
		wantEcho bool
	}{
		{"client accepts", iac + do + "\x01" + iac + do + "\x03", "", true},
		{"client refuses echo", iac + dont + "\x01", "", false},
		{"accept then turn off", iac + do + "\x01" + iac + dont + "\x01", iac + wont + "\x01", false},
		{"repeated do is quiet", iac + do + "\x01" + iac + do + "\x01", "", true},
		{"linemode refused", iac + will + "\x22", iac + dont + "\x22", false},
		{"naws refused", iac + will + "\x1f", iac + dont + "\x1f", false},
		{"unknown do refused", iac + do + "\x18", iac + wont + "\x18", false},
		{"client sga accepted", iac + will + "\x03" + iac + will + "\x03", iac + do + "\x03", false},
		{"client sga withdrawn", iac + will + "\x03" + iac + wont + "\x03", iac + do + "\x03" + iac + dont + "\x03", false},
		{"wont of disabled is quiet", iac + wont + "\x03", "", false},
		{"are you there", iac + "\xf6", "\r\n[yes]\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, greet := NewDecoder()
			if want := iac + will + "\x01" + iac + will + "\x03"; string(greet) != want {
				t.Fatalf("greeting = %q, want %q", greet, want)
			}
			keys, out := d.Decode([]byte(tt.in), nil, nil)
			if len(keys) != 0 {
				t.Errorf("keys = %v, want none", keys)
			}
			if string(out) != tt.wantOut {
				t.Errorf("out = %q, want %q", out, tt.wantOut)
			}
			if d.Echo() != tt.wantEcho {
				t.Errorf("Echo() = %v, want %v", d.Echo(), tt.wantEcho)
			}
		})
	}
}

func TestDecoderAnswerBudget(t *testing.T) {
	d, _ := NewDecoder()
	flood := bytes.Repeat([]byte{cmdIAC, cmdDO, 99}, 10*MaxAnswers)
	_, out := d.Decode(flood, nil, nil)
	if got, want := len(out), 3*MaxAnswers; got != want {
		t.Errorf("answers to a flood: got %d bytes, want %d", got, want)
	}
}
