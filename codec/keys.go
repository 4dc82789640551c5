package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// The environment variables that hold the keyring. The config package reads
// them; ParseKeys names them in its errors so an operator knows what to fix.
const (
	// KeysVar lists every key that may decrypt: "id:base64key,id2:base64key".
	KeysVar = "ENCRYPTION_KEYS"
	// KeyIDVar names the key that encrypts new payloads.
	KeyIDVar = "ENCRYPTION_KEY_ID"
)

// KeySize is the length of every key in bytes: AES-256.
const KeySize = 32

// maxKeyIDLen bounds key ids because each one is stored in every payload's
// metadata.
const maxKeyIDLen = 64

// Keys is a keyring: every key can decrypt; Active encrypts. Rotation adds a
// new key, makes it active, and keeps the old ones listed for as long as
// histories written with them are still read (Temporal's retention period).
//
// A Keys is never changed after ParseKeys, so one value is safe to share
// between goroutines. The zero value holds no key: its codec decrypts
// nothing and refuses to encrypt.
type Keys struct {
	active string
	// aeads is keyed by key id. AES-GCM values hold no per-call state, so
	// they are built once here rather than on every payload.
	aeads map[string]cipher.AEAD
}

// ParseKeys reads the values of ENCRYPTION_KEYS and ENCRYPTION_KEY_ID.
// Keys are base64, standard or URL alphabet, padded or not, and must decode
// to 32 bytes. Errors name the variable and the key id (or the entry's
// position when there is no usable id) but never any key material, so they
// are safe to log.
func ParseKeys(keys, activeID string) (Keys, error) {
	keys = strings.TrimSpace(keys)
	if keys == "" {
		return Keys{}, fmt.Errorf("%s is empty: want id:base64key[,id:base64key...]", KeysVar)
	}
	k := Keys{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(keys, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return Keys{}, fmt.Errorf("%s entry %d is empty", KeysVar, n)
		}
		id, encoded, ok := strings.Cut(entry, ":")
		if !ok {
			return Keys{}, fmt.Errorf("%s entry %d has no colon: want id:base64key", KeysVar, n)
		}
		id, encoded = strings.TrimSpace(id), strings.TrimSpace(encoded)
		if err := checkKeyID(id); err != nil {
			return Keys{}, fmt.Errorf("%s entry %d: %w", KeysVar, n, err)
		}
		if _, dup := k.aeads[id]; dup {
			return Keys{}, fmt.Errorf("%s lists key %q twice", KeysVar, id)
		}
		raw, ok := decodeBase64(encoded)
		if !ok {
			// The decoder's own error is left out: it would point into the
			// key.
			return Keys{}, fmt.Errorf("%s key %q is not valid base64", KeysVar, id)
		}
		if len(raw) != KeySize {
			return Keys{}, fmt.Errorf("%s key %q is %d bytes, want %d (AES-256)", KeysVar, id, len(raw), KeySize)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return Keys{}, fmt.Errorf("%s key %q: %w", KeysVar, id, err)
		}
		k.aeads[id] = aead
	}

	activeID = strings.TrimSpace(activeID)
	if activeID == "" {
		return Keys{}, fmt.Errorf("%s is empty: name the key in %s that encrypts", KeyIDVar, KeysVar)
	}
	if checkKeyID(activeID) != nil {
		// Not echoed: a value that is no key id may be a key pasted into
		// the wrong variable.
		return Keys{}, fmt.Errorf("%s is not a key id: want one of %s from %s", KeyIDVar, strings.Join(k.ids(), ", "), KeysVar)
	}
	if _, ok := k.aeads[activeID]; !ok {
		return Keys{}, fmt.Errorf("%s %q is not in %s (which has %s)", KeyIDVar, activeID, KeysVar, strings.Join(k.ids(), ", "))
	}
	k.active = activeID
	return k, nil
}

// ActiveID returns the id of the key that encrypts new payloads.
func (k Keys) ActiveID() string { return k.active }

// ids lists the key ids in a stable order for messages.
func (k Keys) ids() []string {
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// NewKey returns a fresh random AES-256 key, for first-run key generation.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

// GenerateSpec returns "id:base64key" for a fresh key: one entry of
// ENCRYPTION_KEYS, ready to append to the list.
func GenerateSpec(id string) (string, error) {
	if err := checkKeyID(id); err != nil {
		return "", err
	}
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// checkKeyID keeps ids to characters that survive the comma- and
// colon-separated list, shells and payload metadata unquoted.
func checkKeyID(id string) error {
	if id == "" {
		return fmt.Errorf("key id is empty")
	}
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("key id is longer than %d characters", maxKeyIDLen)
	}
	for _, r := range id {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_', r == '.':
		default:
			return fmt.Errorf("key id may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// decodeBase64 accepts every common spelling, since keys come from
// different tools (openssl, `head -c32 /dev/urandom | base64`, URL-safe
// generators).
func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// newAEAD uses GCM with random nonces: the SDK gives no per-payload counter
// to derive a nonce from, and at 96 bits a random nonce is safe for far more
// payloads than one key will see before rotation.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}
