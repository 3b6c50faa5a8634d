package pwhash

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Prefix starts every hash this package writes.
const Prefix = "pbkdf2-sha256$"

// DefaultIterations is the PBKDF2 work factor of [Hash] (the OWASP 2023
// figure for PBKDF2-HMAC-SHA256).
const DefaultIterations = 600_000

// Bounds on the work factor accepted from a stored hash, so that a
// hand-edited config cannot make each login take minutes.
const (
	minIterations = 1
	maxIterations = 10_000_000
)

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMalformed is returned by [Verify] and [Parse] for a stored string that
// is not a hash this package understands.
var ErrMalformed = errors.New("pwhash: malformed hash, want pbkdf2-sha256$<iterations>$<salt>$<key>")

// IsHash reports whether s looks like a stored hash rather than a plain
// password.
func IsHash(s string) bool { return strings.HasPrefix(s, Prefix) }

// Hash returns the stored form of password with a fresh random salt and
// [DefaultIterations].
func Hash(password string) (string, error) {
	return HashIter(password, DefaultIterations)
}

// HashIter is [Hash] with a chosen work factor (tests use a small one).
func HashIter(password string, iter int) (string, error) {
	if iter < minIterations || iter > maxIterations {
		return "", fmt.Errorf("pwhash: %d iterations out of range [%d, %d]", iter, minIterations, maxIterations)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("pwhash: reading salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, keyLen)
	if err != nil {
		return "", fmt.Errorf("pwhash: deriving key: %w", err)
	}
	return Prefix + strconv.Itoa(iter) + "$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key), nil
}

// Parse checks the syntax of a stored hash.
func Parse(stored string) (iter int, salt, key []byte, err error) {
	parts := strings.Split(strings.TrimPrefix(stored, Prefix), "$")
	if !IsHash(stored) || len(parts) != 3 {
		return 0, nil, nil, ErrMalformed
	}
	iter, err = strconv.Atoi(parts[0])
	if err != nil || iter < minIterations || iter > maxIterations {
		return 0, nil, nil, ErrMalformed
	}
	salt, err = base64.RawStdEncoding.DecodeString(parts[1])
	if err != nil || len(salt) == 0 {
		return 0, nil, nil, ErrMalformed
	}
	key, err = base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(key) == 0 {
		return 0, nil, nil, ErrMalformed
	}
	return iter, salt, key, nil
}

// Verify reports whether password matches the stored hash. It returns
// [ErrMalformed] when stored cannot be parsed.
func Verify(stored, password string) (bool, error) {
	iter, salt, key, err := Parse(stored)
	if err != nil {
		return false, err
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(key))
	if err != nil {
		return false, fmt.Errorf("pwhash: deriving key: %w", err)
	}
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}
