package kmstest

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"slices"
)

// Ciphertext blob: "KTB1" | key-ID length (1 byte) | key ID | material
// version (uint32, big endian) | nonce (12) | AES-256-GCM ciphertext+tag.
// The associated data is the header (everything before the nonce) followed
// by the canonical encryption context: pairs sorted by key, each key and
// value prefixed by its length as a uvarint.
const blobMagic = "KTB1"

const blobNonceSize = 12

// seal encrypts plaintext under k's current material.
func (k *key) seal(plaintext []byte, ec map[string]string) ([]byte, error) {
	version := len(k.material) - 1
	aead, err := gcm(k.material[version])
	if err != nil {
		return nil, err
	}
	blob := []byte(blobMagic)
	blob = append(blob, byte(len(k.id)))
	blob = append(blob, k.id...)
	blob = binary.BigEndian.AppendUint32(blob, uint32(version))
	aad := canonicalContext(slices.Clone(blob), ec)
	nonce := randomBytes(blobNonceSize)
	blob = append(blob, nonce...)
	return aead.Seal(blob, nonce, plaintext, aad), nil
}

// parsedBlob is a blob's clear header.
type parsedBlob struct {
	keyID   string
	version uint32
	header  []byte
	nonce   []byte
	ct      []byte
}

// parseBlob splits a blob; ok is false when it is not one of ours.
func parseBlob(b []byte) (parsedBlob, bool) {
	if len(b) < len(blobMagic)+1 || string(b[:len(blobMagic)]) != blobMagic {
		return parsedBlob{}, false
	}
	n := int(b[len(blobMagic)])
	h := len(blobMagic) + 1 + n + 4
	if n == 0 || len(b) < h+blobNonceSize+16 {
		return parsedBlob{}, false
	}
	return parsedBlob{
		keyID:   string(b[len(blobMagic)+1 : len(blobMagic)+1+n]),
		version: binary.BigEndian.Uint32(b[h-4 : h]),
		header:  b[:h],
		nonce:   b[h : h+blobNonceSize],
		ct:      b[h+blobNonceSize:],
	}, true
}

// open decrypts a parsed blob under k; ok is false when it does not
// authenticate (wrong context, tampered, unknown material version).
func (k *key) open(p parsedBlob, ec map[string]string) ([]byte, bool) {
	if int64(p.version) >= int64(len(k.material)) {
		return nil, false
	}
	aead, err := gcm(k.material[p.version])
	if err != nil {
		return nil, false
	}
	pt, err := aead.Open(nil, p.nonce, p.ct, canonicalContext(slices.Clone(p.header), ec))
	return pt, err == nil
}

// canonicalContext appends the encryption context, sorted by key.
func canonicalContext(dst []byte, ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(ec[k])))
		dst = append(dst, ec[k]...)
	}
	return dst
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
