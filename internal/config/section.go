package config

import (
	"errors"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// Section is the config of one service: typed getters for the keys
// prefix.k, made by [Store.Sub]. Every getter takes the key (without the
// prefix), the default and a description, defines the key as [Store.Lookup]
// does, and converts the effective value. A value that does not convert
// gives the default and is recorded as a [ValueError] (see
// [Section.Problems]), logged once at Warn.
//
// A Section is safe for concurrent use.
type Section struct {
	store  *Store
	prefix string
}

// lookup returns the full key of k, its effective value and its source,
// as Store.Lookup does. sdef formats the default; it is called only when the
// key is defined here for the first time, so that reading a defined key
// allocates nothing.
func (c *Section) lookup(k string, sdef func() string, desc string) (full, value string, src Source) {
	var buf [64]byte
	b := buf[:0]
	if c.prefix != "" {
		b = append(append(b, c.prefix...), '.')
	}
	b = append(b, k...)
	if full, value, src, ok := c.store.defined(b); ok {
		return full, value, src
	}
	full = string(b)
	value, src = c.store.Lookup(full, sdef(), desc)
	return full, value, src
}

// bad records that value of key (from src) could not be used.
func (c *Section) bad(key, value string, src Source, reason, def string) {
	c.store.report(key, &ValueError{Where: c.store.where(key, src), Key: key, Value: value, Reason: reason, Default: def})
}

// String returns the value of key as it is.
func (c *Section) String(key, def, desc string) string {
	_, v, _ := c.lookup(key, func() string { return def }, desc)
	return v
}

// Int returns the value of key as a decimal 64-bit integer, such as 4096 or
// -1. (Leading zeros do not make it octal.)
func (c *Section) Int(key string, def int64, desc string) int64 {
	sdef := func() string { return strconv.FormatInt(def, 10) }
	full, v, src := c.lookup(key, sdef, desc)
	if src == SourceDefault {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		reason := "is not an integer"
		if errors.Is(err, strconv.ErrRange) {
			reason = "is out of range for a 64-bit integer"
		}
		c.bad(full, v, src, reason, sdef())
		return def
	}
	return n
}

// IntMin is Int for a value that must be at least min, such as a queue
// limit: a smaller value gives the default and is recorded as a
// [ValueError] ("is less than the minimum 1"), as a value that does not
// convert is. def must be at least min; a smaller def is the caller's bug,
// recorded the same way, and min is used instead.
func (c *Section) IntMin(key string, def, min int64, desc string) int64 {
	n := c.Int(key, def, desc)
	if n >= min {
		return n
	}
	sdef := func() string { return strconv.FormatInt(def, 10) }
	full, v, src := c.lookup(key, sdef, desc)
	use := def
	if src == SourceDefault || def < min {
		use = min
	}
	c.bad(full, v, src, "is less than the minimum "+strconv.FormatInt(min, 10), strconv.FormatInt(use, 10))
	return use
}

// Bool returns the value of key as a boolean: true, false, 1, 0, t, f, yes,
// no, on or off, in any case.
func (c *Section) Bool(key string, def bool, desc string) bool {
	sdef := func() string { return strconv.FormatBool(def) }
	full, v, src := c.lookup(key, sdef, desc)
	if src == SourceDefault {
		return def
	}
	b, valid := parseBool(v)
	if !valid {
		c.bad(full, v, src, "is not a boolean (use true or false)", sdef())
		return def
	}
	return b
}

func parseBool(s string) (b, ok bool) {
	switch strings.ToLower(s) {
	case "1", "t", "true", "yes", "on":
		return true, true
	case "0", "f", "false", "no", "off":
		return false, true
	}
	return false, false
}

// Duration returns the value of key as a duration: a Go duration such as
// 1.5s, 250ms or 1m30s, or a plain number of seconds such as 0.25 or 30.
// The default is written to the file in Go form (1m30s).
func (c *Section) Duration(key string, def time.Duration, desc string) time.Duration {
	sdef := def.String
	full, v, src := c.lookup(key, sdef, desc)
	if src == SourceDefault {
		return def
	}
	d, valid := parseDuration(v)
	if !valid {
		c.bad(full, v, src, "is not a duration (use 1.5s, 250ms, 2m, or seconds such as 0.25)", sdef())
		return def
	}
	return d
}

// DurationMin is Duration for a value that must be at least min, such as a
// timeout that cannot be zero: a smaller value gives the default and is
// recorded as a [ValueError], as IntMin does. def must be at least min.
func (c *Section) DurationMin(key string, def, min time.Duration, desc string) time.Duration {
	d := c.Duration(key, def, desc)
	if d >= min {
		return d
	}
	full, v, src := c.lookup(key, def.String, desc)
	c.bad(full, v, src, "is less than the minimum "+min.String(), def.String())
	return def
}

func parseDuration(s string) (time.Duration, bool) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.Abs(f*float64(time.Second)) >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(math.Round(f * float64(time.Second))), true
}

// Bytes returns the value of key as a number of bytes: a plain count
// (8388608), or a number with a binary unit, where K, KiB = 1024; M, MiB =
// 1024²; G, GiB = 1024³; T, TiB = 1024⁴ (in any case, with or without a space:
// 64KiB, 8M, "8 MiB", 1.5GiB; fractions are rounded to whole bytes). B means
// bytes. Decimal units (kB, MB, GB, TB) are refused, because half the world
// reads them as powers of 1000 and half as powers of 1024; negative sizes are
// refused too. The default is written to the file as a plain count.
func (c *Section) Bytes(key string, def int64, desc string) int64 {
	sdef := func() string { return strconv.FormatInt(def, 10) }
	full, v, src := c.lookup(key, sdef, desc)
	if src == SourceDefault {
		return def
	}
	n, reason := parseBytes(v)
	if reason != "" {
		c.bad(full, v, src, reason, sdef())
		return def
	}
	return n
}

// unitSize returns the size in bytes of a lower-case unit of Bytes.
func unitSize(unit string) (int64, bool) {
	switch unit {
	case "", "b":
		return 1, true
	case "k", "ki", "kib":
		return 1 << 10, true
	case "m", "mi", "mib":
		return 1 << 20, true
	case "g", "gi", "gib":
		return 1 << 30, true
	case "t", "ti", "tib":
		return 1 << 40, true
	}
	return 0, false
}

// parseBytes parses a byte size as Bytes documents it. It returns "" or the
// reason the text is not a size.
func parseBytes(s string) (int64, string) {
	const notSize = "is not a byte size (use a number of bytes, or units such as 64KiB, 8MiB, 1GiB)"
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	if num == "" {
		return 0, notSize
	}
	mult, ok := unitSize(unit)
	if !ok {
		switch unit {
		case "kb", "mb", "gb", "tb":
			up := strings.ToUpper(unit[:1])
			return 0, "uses the ambiguous unit " + strconv.Quote(s[i:]) + " (write " + up + "iB for powers of 1024, or a plain number of bytes)"
		}
		return 0, notSize
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, "is too large for a byte size"
		}
		return n * mult, ""
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, notSize
	}
	f = math.Round(f * float64(mult))
	if f >= math.MaxInt64 {
		return 0, "is too large for a byte size"
	}
	return int64(f), ""
}

// Addrs returns the value of key as a list of host:port addresses, separated
// by commas, such as "127.0.0.1:10100, [::1]:10100". Spaces around entries
// are trimmed and empty entries skipped. Each entry must split with
// net.SplitHostPort (so an IPv6 host is in brackets) and have a numeric port
// from 0 to 65535; an empty host (":8080") means every interface. If any
// entry is bad the whole default is used. The caller owns the slice.
func (c *Section) Addrs(key, def, desc string) []string {
	full, v, src := c.lookup(key, func() string { return def }, desc)
	addrs, reason := parseAddrs(v)
	if reason == "" {
		return addrs
	}
	if src == SourceDefault {
		// A bad default is the service's bug; report it and keep the
		// entries that are good.
		c.bad(full, v, src, reason, strings.Join(addrs, ","))
		return addrs
	}
	c.bad(full, v, src, reason, def)
	addrs, reason = parseAddrs(def)
	if reason != "" {
		c.bad(full, def, SourceDefault, reason, strings.Join(addrs, ","))
	}
	return addrs
}

// parseAddrs parses an address list as Addrs documents it. It returns the
// good entries and the reason the first bad one is bad, or "".
func parseAddrs(s string) ([]string, string) {
	var out []string
	reason := ""
	for a := range strings.SplitSeq(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		_, port, err := net.SplitHostPort(a)
		if err == nil {
			if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
				err = errors.New("port " + strconv.Quote(port) + " is not a number from 0 to 65535")
			}
		}
		if err != nil {
			if reason == "" {
				reason = "has the entry " + strconv.Quote(a) + ", which is not host:port (" + addrReason(err) + ")"
			}
			continue
		}
		out = append(out, a)
	}
	return out, reason
}

// addrReason is the part of a SplitHostPort error that says what is wrong,
// without the address it repeats.
func addrReason(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		if ae.Err == "too many colons in address" {
			return "put an IPv6 host in brackets, as [::1]:10100"
		}
		return ae.Err
	}
	return err.Error()
}

// Problems returns the bad values the getters of this section's keys have
// met, in the order they were met. The caller owns the slice.
func (c *Section) Problems() []error {
	if c.prefix == "" {
		return c.store.problemsWith("")
	}
	return c.store.problemsWith(c.prefix + ".")
}
