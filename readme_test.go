package mtnode_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goBlock is a ```go code block of a Markdown file.
type goBlock struct {
	line int // of the opening fence
	code string
}

// goBlocks returns the ```go code blocks of a Markdown text.
func goBlocks(md string) []goBlock {
	var out []goBlock
	var cur *goBlock
	var code strings.Builder
	for i, l := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(l) == "```go":
			cur = &goBlock{line: i + 1}
			code.Reset()
		case cur != nil && strings.TrimSpace(l) == "```":
			cur.code = code.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			code.WriteString(l + "\n")
		}
	}
	return out
}

// TestReadmeGoBlocksBuild: every Go code block of README.md is a complete
// file that compiles against this module and passes go vet, so the
// README's examples work as printed.
func TestReadmeGoBlocksBuild(t *testing.T) {
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(md))
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go code block")
	}
	for _, b := range blocks {
		if !strings.HasPrefix(b.code, "package ") {
			t.Errorf("README.md:%d: the Go block does not start with its package clause; show complete files, which this test compiles", b.line)
			continue
		}
		// Inside the module, so the block builds against its packages;
		// the leading "_" keeps the folder out of ./... patterns.
		dir, err := os.MkdirTemp(".", "_readme-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.code), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput()
		if err != nil {
			t.Errorf("README.md:%d: the Go block does not build or vet: %v\n%s", b.line, err, out)
		}
	}
}
