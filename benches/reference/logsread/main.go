// Command logsread is a replica of kubelet reading a container log for `kubectl logs`, for
// `ctrlog bench --reference`: stdout records' content on stdout, stderr's on stderr.
//
// It follows, as behaviour (written for this repository, not copied):
//
//   - kubernetes pkg/kubelet/kuberuntime/logs/logs.go, ReadLogs without follow: the path's
//     symlinks resolved, the start found by tail.FindTailLineStartIndex, a default
//     bufio.Reader, ReadBytes('\n') per line (a new slice each), the format chosen from the
//     first line by getParseFunc (CRI first, then Docker JSON), a line that does not parse
//     skipped, and logWriter.write: each record's content written with one Write to its
//     stream; with a tail, N records are written (P records count one each).
//   - parseCRILog: time.Parse of the first field (RFC3339NanoLenient), the stream, the tag
//     ("P" drops the line's trailing '\n'); parseDockerJSONLog: json.Unmarshal into a new
//     struct {Log, Stream string; Created time.Time `json:"time"`}, then []byte(Log).
//   - pkg/util/tail/tail.go, FindTailLineStartIndex: 1024-byte blocks read backwards,
//     counting '\n' until more than N are seen.
//
// kubelet writes into the HTTP response through a flushwriter (a flush after each Write);
// the unbuffered os.Stdout and os.Stderr stand in for it.
//
// Usage: logsread [-tail N] LOG
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// kubelet's RFC3339NanoLenient.
const timeLayoutIn = "2006-01-02T15:04:05.999999999Z07:00"

type record struct {
	timestamp time.Time
	stream    string
	content   []byte
}

type parser func(line []byte, r *record) error

func field(line []byte, what string) ([]byte, []byte, error) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return nil, nil, fmt.Errorf("%s is not found", what)
	}
	return line[:i], line[i+1:], nil
}

func parseCRI(line []byte, r *record) error {
	ts, rest, err := field(line, "timestamp")
	if err != nil {
		return err
	}
	if r.timestamp, err = time.Parse(timeLayoutIn, string(ts)); err != nil {
		return err
	}
	stream, rest, err := field(rest, "stream type")
	if err != nil {
		return err
	}
	r.stream = string(stream)
	if r.stream != "stdout" && r.stream != "stderr" {
		return fmt.Errorf("unexpected stream type %q", r.stream)
	}
	tags, _, err := field(rest, "log tag")
	if err != nil {
		return err
	}
	// The first ':'-separated tag decides; a partial record's '\n' is not content.
	first := tags
	if i := bytes.IndexByte(tags, ':'); i >= 0 {
		first = tags[:i]
	}
	if string(first) == "P" && len(rest) > 0 && rest[len(rest)-1] == '\n' {
		rest = rest[:len(rest)-1]
	}
	r.content = rest[len(tags)+1:]
	return nil
}

func parseDockerJSON(line []byte, r *record) error {
	var l struct {
		Log     string    `json:"log,omitempty"`
		Stream  string    `json:"stream,omitempty"`
		Created time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	r.timestamp, r.stream, r.content = l.Created, l.Stream, []byte(l.Log)
	return nil
}

func pickParser(line []byte) (parser, error) {
	for _, p := range []parser{parseCRI, parseDockerJSON} {
		if p(line, &record{}) == nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("unsupported log format: %q", line)
}

// tailStart is the offset of the n-th last line (lines end in '\n'; 0 when n < 0).
func tailStart(f io.ReadSeeker, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	const block = 1024
	var left, seen int64
	buf := make([]byte, block)
	for right := size; right > 0 && seen <= n; right -= block {
		left = right - block
		if left < 0 {
			left, buf = 0, make([]byte, right)
		}
		if _, err := f.Seek(left, io.SeekStart); err != nil {
			return 0, err
		}
		if _, err := f.Read(buf); err != nil {
			return 0, err
		}
		seen += int64(bytes.Count(buf, []byte{'\n'}))
	}
	for ; seen > n; seen-- {
		i := bytes.IndexByte(buf, '\n') + 1
		buf = buf[i:]
		left += int64(i)
	}
	return left, nil
}

func readLogs(path string, tail int64, stdout, stderr io.Writer) error {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	f, err := os.Open(resolved)
	if err != nil {
		return err
	}
	defer f.Close()
	start, err := tailStart(f, tail)
	if err != nil {
		return err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	limited := tail >= 0
	left := tail
	r := bufio.NewReader(f)
	var parse parser
	var rec record
	for last := false; !last && !(limited && left == 0); {
		line, err := r.ReadBytes('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			last = true
			if len(line) == 0 {
				continue
			}
		}
		if parse == nil {
			if parse, err = pickParser(line); err != nil {
				return err
			}
		}
		rec = record{}
		if parse(line, &rec) != nil {
			continue // kubelet logs the bad line and goes on
		}
		out := stdout
		switch rec.stream {
		case "stdout":
		case "stderr":
			out = stderr
		default:
			return fmt.Errorf("unexpected stream type %q", rec.stream)
		}
		if _, err := out.Write(rec.content); err != nil {
			return err
		}
		if limited {
			left--
		}
	}
	return nil
}

func main() {
	tail := flag.Int64("tail", -1, "only the last N records (-1: all)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: logsread [-tail N] LOG")
		os.Exit(2)
	}
	if err := readLogs(flag.Arg(0), *tail, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "logsread: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
}
