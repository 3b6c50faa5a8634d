// Package pwhash stores console passwords as slow salted hashes.
//
// A stored hash reads pbkdf2-sha256$<iterations>$<salt>$<key>, salt and key
// in unpadded standard base64: PBKDF2 with HMAC-SHA-256 (crypto/pbkdf2), a
// 16-byte random salt and a 32-byte key. The config file keeps only that
// string, and [Verify] compares in constant time.
package pwhash
