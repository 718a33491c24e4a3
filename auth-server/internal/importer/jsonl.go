package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
)

// MaxLine is the longest line ReadJSONL reads; a longer one stops it with an error.
const MaxLine = 1 << 20

// jsonRecord is one line of a JSON-lines import file.
type jsonRecord struct {
	Username      *string  `json:"username"`
	Email         *string  `json:"email"`
	PasswordHash  *string  `json:"password_hash"`
	EmailVerified bool     `json:"email_verified"`
	Roles         []string `json:"roles"`
}

// ReadJSONL yields the records of r, one JSON object a line: {username, email,
// password_hash, email_verified?, roles?}, Line counting from 1. Blank lines are passed over;
// a line that is not such an object is a Record with Err set (skipped, with the reason). A
// read error, or a line over MaxLine, ends it with that error.
func ReadJSONL(r io.Reader) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), MaxLine)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			if !yield(parseLine(line, b), nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line %d is longer than %d bytes", line+1, MaxLine)
			}
			yield(Record{}, fmt.Errorf("read: %w", err))
		}
	}
}

// parseLine decodes one line.
func parseLine(line int, b []byte) Record {
	var j jsonRecord
	if err := json.Unmarshal(b, &j); err != nil {
		return Record{Line: line, Err: errors.New("not a JSON object of a user")}
	}
	rec := Record{Line: line, EmailVerified: j.EmailVerified, Roles: j.Roles}
	switch {
	case j.Username == nil:
		rec.Err = errors.New("no username")
	case j.Email == nil:
		rec.Err = errors.New("no email")
	case j.PasswordHash == nil:
		rec.Err = errors.New("no password_hash")
	default:
		rec.Username, rec.Email, rec.PasswordHash = *j.Username, *j.Email, *j.PasswordHash
	}
	if j.Username != nil {
		rec.Username = *j.Username
	}
	if j.Email != nil {
		rec.Email = *j.Email
	}
	return rec
}
