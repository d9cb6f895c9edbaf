// Command lasterror is a replica of containerd's runc shim reading runc's log.json after a
// failed runc call, for `ctrlog bench --reference`: it prints the last error message.
//
// It follows, as behaviour (written for this repository, not copied): containerd
// cmd/containerd-shim-runc-v2/process/utils.go (1.6: pkg/process/utils.go),
// getLastRuntimeError: the file opened read-only, one encoding/json Decoder over it, every
// value decoded into the same struct {Level, Msg string; Time time.Time} (so fields absent
// from an entry keep the previous entry's values), the message of the last entry whose
// level is "error", space-trimmed; any decode error other than io.EOF fails the call.
//
// Usage: lasterror LOG.JSON (prints the message and a newline; exit 1 on an error)
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func lastRuntimeError(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0400)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var entry struct {
		Level string
		Msg   string
		Time  time.Time
	}
	found := ""
	dec := json.NewDecoder(f)
	for {
		err := dec.Decode(&entry)
		if err != nil && err != io.EOF {
			return "", err
		}
		// Checked after EOF too, as containerd's loop does (the struct is unchanged then).
		if entry.Level == "error" {
			found = strings.TrimSpace(entry.Msg)
		}
		if err == io.EOF {
			return found, nil
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lasterror LOG.JSON")
		os.Exit(2)
	}
	msg, err := lastRuntimeError(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "lasterror: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Println(msg)
}
