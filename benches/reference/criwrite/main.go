// Command criwrite is a replica of containerd's CRI container logger, for
// `ctrlog bench --reference`: the container's output on stdin, CRI records on stdout.
//
// It follows, as behaviour (written for this repository, not copied):
//
//   - containerd internal/cri/io/logger.go (1.6: pkg/cri/io/logger.go), NewCRILogger and
//     redirectLogs: a bufio.Reader of 4096 bytes (less if the max line is smaller) over an
//     io.Pipe; lines read with readLine (ReadSlice('\n'), "\n" or "\r\n" dropped, a '\r' at
//     the end of a full buffer pushed back); every piece copied into a new slice; a line
//     longer than maxLen cut into P records of exactly maxLen bytes and an F record; an
//     unterminated tail at EOF written as P; each record built in a bytes.Buffer as
//     "<time.Now() RFC3339Nano> <stream> <tag> <content>\n" and written with one Write.
//   - internal/cri/io/container_io.go, ContainerIO.Pipe: io.Copy from the container's fifo
//     into the logger's io.PipeWriter.
//   - internal/cri/server/container_start.go, createContainerLoggers: the log file shared by
//     stdout and stderr through cioutil.NewSerialWriteCloser (a mutex around each Write).
//
// Usage: criwrite [-max-len N] [-stream stdout|stderr] < INPUT > LOG
// (-max-len 0 or less: no limit, as containerd's max_container_log_line_size = -1).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"os"
	"sync"
	"time"
)

// containerd's read buffer size (defaultBufSize).
const readBufSize = 4096

// lockedWriter serialises Writes, as cioutil.NewSerialWriteCloser does for the shared file.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// piece reads the next part of a line. cont reports that the reader's buffer filled before
// a newline (the line goes on); err is set only when the part ends without a newline.
func piece(r *bufio.Reader) (part []byte, cont bool, err error) {
	part, err = r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		if n := len(part); n > 0 && part[n-1] == '\r' {
			// Maybe the first half of "\r\n": keep it for the next read.
			_ = r.UnreadByte()
			part = part[:n-1]
		}
		return part, true, nil
	}
	if n := len(part); n > 0 && part[n-1] == '\n' {
		n--
		if n > 0 && part[n-1] == '\r' {
			n--
		}
		part = part[:n]
	} else if len(part) == 0 && err != nil {
		part = nil
	}
	return part, false, err
}

func redirect(in io.Reader, out io.Writer, stream string, maxLen int) {
	size := readBufSize
	if maxLen > 0 && maxLen < size {
		size = maxLen
	}
	r := bufio.NewReaderSize(in, size)
	var (
		name, partial, full = []byte(stream), []byte("P"), []byte("F")

		parts  [][]byte // the current line so far, each part a copy
		length int
		stamp  = make([]byte, 0, len(time.RFC3339Nano))
		record bytes.Buffer
	)
	emit := func(tag []byte) {
		stamp = time.Now().AppendFormat(stamp[:0], time.RFC3339Nano)
		record.Reset()
		for _, h := range [][]byte{stamp, name, tag} {
			record.Write(h)
			record.WriteByte(' ')
		}
		for _, p := range parts {
			record.Write(p)
		}
		record.WriteByte('\n')
		// A failed write is dropped and the input drained, as containerd does.
		_, _ = record.WriteTo(out)
	}
	for {
		part, cont, err := piece(r)
		if len(part) > 0 {
			// The reader reuses its buffer: keep a copy.
			parts = append(parts, append(make([]byte, 0, len(part)), part...))
			length += len(part)
		}
		atEnd := false
		if err != nil {
			if length == 0 {
				return
			}
			atEnd = true
		}
		if maxLen > 0 && length > maxLen {
			over := length - maxLen
			last := parts[len(parts)-1]
			parts[len(parts)-1] = last[:len(last)-over]
			emit(partial)
			parts = [][]byte{last[len(last)-over:]}
			length = over
		}
		if cont {
			continue
		}
		if atEnd {
			// No newline at the end: the rest is a partial line.
			emit(partial)
			return
		}
		emit(full)
		parts, length = nil, 0
	}
}

func main() {
	maxLen := flag.Int("max-len", 16*1024, "max line size (containerd's max_container_log_line_size)")
	stream := flag.String("stream", "stdout", "stream name in the records")
	flag.Parse()
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, os.Stdin)
		pw.CloseWithError(err)
	}()
	redirect(pr, &lockedWriter{w: os.Stdout}, *stream, *maxLen)
}
