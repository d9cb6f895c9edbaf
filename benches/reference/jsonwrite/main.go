// Command jsonwrite is a replica of dockerd's json-file logging path, for
// `ctrlog bench --reference`: the container's output on stdin, json-file records on stdout.
//
// It follows, as behaviour (written for this repository, not copied):
//
//   - moby daemon/logger/copier.go, Copier.copySrc: a 16 KiB buffer filled by reads of at
//     most 2 KiB; each '\n'-terminated line becomes a message stamped time.Now().UTC(); a
//     buffer that fills without a newline (and the tail at EOF) becomes a partial message
//     (one random partial ID, from stringid.GenerateRandomID, and the first partial's
//     timestamp for the whole line), the line's last piece marked Last; messages come from
//     a sync.Pool (logger.NewMessage / PutMessage).
//   - moby daemon/logger/jsonfilelog/jsonfilelog.go, JSONFileLogger.Log and marshalMessage:
//     under the logger's mutex, '\n' appended unless the message is a non-last partial,
//     then jsonlog.JSONLogs.MarshalJSONBuf into a reused bytes.Buffer, a '\n' after it.
//   - moby daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go, MarshalJSONBuf and
//     ffjsonWriteJSONBytesAsString (the escaping), and time_marshalling.go,
//     fastTimeMarshalJSON (t.Format of "\"" + RFC3339Nano + "\"").
//   - moby daemon/logger/loggerutils/logfile.go, LogFile.WriteLogEntry: one Write per
//     record to the log file, under its own lock (no max-size here: no rotation).
//
// The daemon reads the container's fifo into an in-memory pipe that the copier reads; a
// 32 KiB bufio.Reader over stdin stands in for it.
//
// Usage: jsonwrite [-stream stdout|stderr] < INPUT > LOG
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	copierBufSize  = 16 * 1024 // the copier's defaultBufSize
	copierReadSize = 2 * 1024  // the copier's readSize
)

type partialMeta struct {
	id      string
	ordinal int
	last    bool
}

type message struct {
	line      []byte
	source    string
	timestamp time.Time
	partial   *partialMeta
}

var messagePool = sync.Pool{New: func() interface{} { return &message{line: make([]byte, 0, 256)} }}

func newMessage() *message { return messagePool.Get().(*message) }

func putMessage(m *message) {
	m.line = m.line[:0]
	m.source = ""
	m.timestamp = time.Time{}
	m.partial = nil
	messagePool.Put(m)
}

// randomID is a 64-hex-digit ID from 32 random bytes, as stringid.GenerateRandomID.
func randomID() string {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// jsonFileLogger writes records to one file; each record is one Write.
type jsonFileLogger struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	fileMu sync.Mutex
	file   io.Writer
	size   int64
}

func (l *jsonFileLogger) log(m *message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := m.line
	if m.partial == nil || m.partial.last {
		line = append(m.line, '\n')
	}
	marshal(&l.buf, line, m.source, m.timestamp)
	l.buf.WriteByte('\n')
	rec := l.buf.Bytes()
	l.buf.Reset()
	l.fileMu.Lock()
	n, _ := l.file.Write(rec)
	l.size += int64(n)
	l.fileMu.Unlock()
	putMessage(m)
}

// marshal writes {"log":...,"stream":...,"time":...} without reflection, omitting an
// empty log or stream.
func marshal(buf *bytes.Buffer, log []byte, stream string, created time.Time) {
	buf.WriteByte('{')
	sep := false
	if len(log) > 0 {
		buf.WriteString(`"log":`)
		writeString(buf, log)
		sep = true
	}
	if stream != "" {
		if sep {
			buf.WriteByte(',')
		}
		buf.WriteString(`"stream":`)
		writeString(buf, []byte(stream))
		sep = true
	}
	if sep {
		buf.WriteByte(',')
	}
	buf.WriteString(`"time":`)
	buf.WriteString(created.Format(`"` + time.RFC3339Nano + `"`))
	buf.WriteByte('}')
}

// writeString writes s as a JSON string the way dockerd does: '"' and '\\' backslashed,
// \n and \r as such, other controls and < > & as \u00XX, invalid UTF-8 bytes as \ufffd,
// U+2028 and U+2029 escaped; everything else as is.
func writeString(buf *bytes.Buffer, s []byte) {
	const digits = "0123456789abcdef"
	buf.WriteByte('"')
	from := 0
	flush := func(to int) {
		if from < to {
			buf.Write(s[from:to])
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			flush(i)
			switch c {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(digits[c>>4])
				buf.WriteByte(digits[c&0xf])
			}
			i++
			from = i
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			flush(i)
			buf.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			flush(i)
			buf.WriteString(`\u202`)
			buf.WriteByte(digits[r&0xf])
		default:
			i += n
			continue
		}
		i += n
		from = i
	}
	flush(len(s))
	buf.WriteByte('"')
}

// copySource splits src into messages as dockerd's copier does.
func copySource(name string, src io.Reader, dst *jsonFileLogger) {
	buf := make([]byte, copierBufSize)
	n := 0
	eof := false
	var (
		partialID  string
		partialTS  time.Time
		ordinal    int
		inPartial  bool // a partial piece of the current line was logged
		firstPiece = true
	)
	for {
		upto := n + copierReadSize
		if upto > len(buf) {
			upto = len(buf)
		}
		if upto > n {
			got, err := src.Read(buf[n:upto])
			if err != nil {
				if err != io.EOF {
					os.Stderr.WriteString("jsonwrite: " + err.Error() + "\n")
					os.Exit(1)
				}
				eof = true
			}
			n += got
		}
		if n == 0 && eof {
			return
		}
		p := 0
		for {
			q := bytes.IndexByte(buf[p:n], '\n')
			if q < 0 {
				break
			}
			m := newMessage()
			m.source = name
			m.line = append(m.line, buf[p:p+q]...)
			if inPartial {
				m.partial = &partialMeta{id: partialID, ordinal: ordinal, last: true}
				partialID, ordinal, firstPiece, inPartial = "", 0, true, false
				m.timestamp = partialTS
			} else {
				m.timestamp = time.Now().UTC()
			}
			dst.log(m)
			p += q + 1
		}
		if eof || (p == 0 && n == len(buf)) {
			if p < n {
				m := newMessage()
				m.source = name
				m.line = append(m.line, buf[p:n]...)
				if firstPiece {
					m.timestamp = time.Now().UTC()
					partialTS = m.timestamp
					partialID = randomID()
					ordinal = 1
					firstPiece = false
				} else {
					m.timestamp = partialTS
				}
				m.partial = &partialMeta{id: partialID, ordinal: ordinal}
				ordinal++
				inPartial = true
				dst.log(m)
				p, n = 0, 0
			}
			if eof {
				return
			}
		}
		if p > 0 {
			copy(buf, buf[p:n])
			n -= p
		}
	}
}

func main() {
	stream := flag.String("stream", "stdout", "stream name in the records")
	flag.Parse()
	copySource(*stream, bufio.NewReaderSize(os.Stdin, 32*1024), &jsonFileLogger{file: os.Stdout})
}
