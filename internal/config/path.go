package config

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// Path returns the config file of the executable exe: confFlag if it is
// not empty (the --conf flag), else <prefix>/conf/<name>.conf, where prefix
// is [Prefix](exe) and name is the base name of exe without a trailing
// ".exe".
//
// Symbolic links are not resolved, on purpose: a link bin/mtnode-web to the
// mtnode binary reads conf/mtnode-web.conf, so one binary serves several
// configurations. Pass the name the program was started as, made usable by
// [Executable], not os.Executable (which resolves links).
func Path(exe, confFlag string) string {
	if confFlag != "" {
		return confFlag
	}
	name := filepath.Base(exe)
	if ext := filepath.Ext(name); strings.EqualFold(ext, ".exe") {
		name = strings.TrimSuffix(name, ext)
	}
	return filepath.Join(Prefix(exe), "conf", name+".conf")
}

// Prefix returns the install prefix of the executable exe: the folder above
// bin/ when exe is in a folder named bin (~/bin-10100/bin/mtnode gives
// ~/bin-10100), else "." (the current directory).
func Prefix(exe string) string {
	dir := filepath.Dir(exe)
	if filepath.Base(dir) == "bin" {
		return filepath.Dir(dir)
	}
	return "."
}

// Executable returns the path of the program started as arg0 (os.Args[0]),
// without resolving symbolic links: arg0 when it has a directory part, else
// where the PATH search finds it, made absolute in both cases (so that
// ./mtnode-web started inside ~/bin-10100/bin has the prefix ~/bin-10100,
// as it has when started any other way); else arg0 unchanged.
func Executable(arg0 string) string {
	p := arg0
	if !strings.ContainsRune(arg0, filepath.Separator) && !strings.ContainsRune(arg0, '/') {
		found, err := exec.LookPath(arg0)
		if err != nil {
			return arg0
		}
		p = found
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
