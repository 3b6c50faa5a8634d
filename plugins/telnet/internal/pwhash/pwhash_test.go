package pwhash

import (
	"errors"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	stored, err := HashIter("s3cret", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !IsHash(stored) || !strings.HasPrefix(stored, "pbkdf2-sha256$1000$") {
		t.Fatalf("stored = %q, want pbkdf2-sha256$1000$...", stored)
	}
	other, _ := HashIter("s3cret", 1000)
	if other == stored {
		t.Errorf("two hashes of one password are equal: salt is not random")
	}
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"right", "s3cret", true},
		{"wrong", "s3cret!", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(stored, tt.pw)
			if err != nil || got != tt.want {
				t.Errorf("Verify(%q) = %v, %v; want %v, nil", tt.pw, got, err, tt.want)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, s := range []string{
		"", "plain", "pbkdf2-sha256$", "pbkdf2-sha256$x$AAAA$AAAA", "pbkdf2-sha256$0$AAAA$AAAA",
		"pbkdf2-sha256$99999999999$AAAA$AAAA", "pbkdf2-sha256$10$!!$AAAA", "pbkdf2-sha256$10$AAAA$",
		"pbkdf2-sha256$10$AAAA$AAAA$AAAA",
	} {
		t.Run(s, func(t *testing.T) {
			if _, err := Verify(s, "x"); !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify(%q) error = %v, want ErrMalformed", s, err)
			}
		})
	}
	if _, err := HashIter("x", 0); err == nil {
		t.Errorf("HashIter with 0 iterations: got nil error")
	}
}
