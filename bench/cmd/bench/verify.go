package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

// verify checks that every mounted reader of s returns the same bytes as
// the native loop mount, so that no row times a wrong answer.
func verify(s *setup) error {
	var want []byte
	for _, r := range s.readers {
		if r.file == "" {
			continue
		}
		got, err := fileSHA256(r.file)
		if err != nil {
			return fmt.Errorf("verify %s: %w", r.name, err)
		}
		if want == nil {
			want = got
		} else if string(got) != string(want) {
			return fmt.Errorf("verify %s: content differs from the native loop mount", r.name)
		}
	}
	return nil
}

func fileSHA256(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
