package auditlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Filter selects events; a zero field matches everything. Since is
// inclusive, Until exclusive.
type Filter struct {
	User, App, Upstream, Event, Outcome, Reason string
	Since, Until                                time.Time
}

// Match reports whether e passes every field of f.
func (f *Filter) Match(e *Event) bool {
	return eq(f.User, e.User) && eq(f.App, e.App) && eq(f.Upstream, e.Upstream) &&
		eq(f.Event, e.Event) && eq(f.Outcome, e.Outcome) && eq(f.Reason, e.Reason) &&
		f.inRange(e.Time)
}

func eq(want, got string) bool { return want == "" || want == got }

func (f *Filter) inRange(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
}

// needles are byte strings a line must contain to possibly match: the
// JSON-encoded field as the writer encodes it. Checking them is far cheaper
// than decoding the line, and most lines of a query fail them.
func (f *Filter) needles() [][]byte {
	var out [][]byte
	for _, kv := range [][2]string{{"user", f.User}, {"app", f.App}, {"upstream", f.Upstream},
		{"event", f.Event}, {"outcome", f.Outcome}, {"reason", f.Reason}} {
		if kv[1] == "" {
			continue
		}
		v, _ := json.Marshal(kv[1])
		out = append(out, append([]byte(`"`+kv[0]+`":`), v...))
	}
	return out
}

// Files is the audit log at path and its rotated copies beside it
// (path.1, path.2.gz, path-20261201.gz: logrotate's names), oldest first, so
// that events come out in time order.
func Files(path string) ([]string, error) {
	matches, err := filepath.Glob(globEscape(path) + "*")
	if err != nil {
		return nil, err
	}
	type file struct {
		name string
		mod  time.Time
	}
	var fs []file
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil || st.IsDir() {
			continue
		}
		fs = append(fs, file{m, st.ModTime()})
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("audit log %s: no such file", path)
	}
	// Oldest last write first; the live file is written to last.
	slices.SortStableFunc(fs, func(a, b file) int { return a.mod.Compare(b.mod) })
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out, nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// Line is one matching event with the line it was read from.
type Line struct {
	Event
	Raw  []byte // valid only during the callback
	File string
	No   int // line number in File, from 1; 0 when the read began mid-file
}

// Scan reads the files in order (gzip by content, so a rotated file keeps
// working whatever its name) and calls fn for each event that f matches. A
// line that is not an event is skipped and counted in the returned number;
// fn's error stops the scan and is returned.
func Scan(paths []string, f Filter, fn func(*Line) error) (bad int, err error) {
	needles := f.needles()
	for _, p := range paths {
		if !f.Since.IsZero() {
			// A file last written before Since holds nothing newer.
			if st, err := os.Stat(p); err == nil && st.ModTime().Before(f.Since) {
				continue
			}
		}
		n, err := scanFile(p, &f, needles, fn)
		bad += n
		if err != nil {
			return bad, err
		}
	}
	return bad, nil
}

func scanFile(path string, f *Filter, needles [][]byte, fn func(*Line) error) (bad int, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 256<<10)
	var r io.Reader = br
	l := Line{File: path}
	seeked := false
	skipped := 0 // lines passed over before Since, in a gzipped file
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
		if !f.Since.IsZero() {
			// No seeking in gzip: what comes before Since is still
			// inflated, but passed over in blocks, not line by line.
			if r, skipped, err = skipBefore(zr, f.Since.Add(-disorder)); err != nil {
				return 0, fmt.Errorf("%s: %w", path, err)
			}
		}
	} else if !f.Since.IsZero() {
		// The log is in time order: start near Since, not at the top.
		at, err := seekTime(fh, f.Since.Add(-disorder))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		br.Reset(fh) // drop what Peek read from the top
		seeked = at > 0
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if !seeked {
			l.No = skipped + n
		}
		raw := sc.Bytes()
		// The first line too: a rotated file that begins after Until is
		// left after one line.
		if n%256 == 1 && f.pastUntil(raw) {
			break
		}
		if !hasAll(raw, needles) || !f.timeMayMatch(raw) {
			continue
		}
		l.Event = Event{}
		if json.Unmarshal(raw, &l.Event) != nil || l.Event.Time.IsZero() {
			bad++
			continue
		}
		if !f.Match(&l.Event) {
			continue
		}
		l.Raw = raw
		if err := fn(&l); err != nil {
			return bad, err
		}
	}
	if err := sc.Err(); err != nil {
		return bad, fmt.Errorf("%s: line %d: %w", path, l.No+1, err)
	}
	return bad, nil
}

func hasAll(line []byte, needles [][]byte) bool {
	for _, n := range needles {
		if !bytes.Contains(line, n) {
			return false
		}
	}
	return true
}

// disorder bounds how far out of time order two lines of one log can be:
// concurrent requests write their events a little out of order. Seeking
// and stopping early leave this much margin.
const disorder = time.Minute

// lineTime reads the time from the line's start, where the writer puts it,
// without decoding the rest; ok is false for a line of another shape.
func lineTime(line []byte) (t time.Time, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"time":"`))
	if !ok {
		return t, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return t, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	return t, err == nil
}

// timeMayMatch: the line's time is in range, or unknown until decoded.
func (f *Filter) timeMayMatch(line []byte) bool {
	if f.Since.IsZero() && f.Until.IsZero() {
		return true
	}
	t, ok := lineTime(line)
	return !ok || f.inRange(t)
}

// pastUntil: the line is so far past Until that no later line of the file
// can be before it.
func (f *Filter) pastUntil(line []byte) bool {
	if f.Until.IsZero() {
		return false
	}
	t, ok := lineTime(line)
	return ok && !t.Before(f.Until.Add(disorder))
}

// skipBlock is how much of a gzipped log skipBefore inflates at a time (a
// variable: a test makes it small to have many blocks).
var skipBlock = 256 << 10

// skipBefore passes over the lines of r that are before t, a block at a
// time: when a block's last whole line is before t, so is every line before
// it (give or take disorder, which the caller has taken off t). It returns
// r from the start of the first block that may hold a line at or after t,
// and how many lines it passed over. A line whose time cannot be read, or
// longer than a block, stops the skipping there.
func skipBefore(r io.Reader, t time.Time) (io.Reader, int, error) {
	buf := make([]byte, skipBlock)
	kept, lines := 0, 0 // kept: a partial line carried over from the last block
	for {
		n, err := io.ReadFull(r, buf[kept:])
		data := buf[:kept+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return bytes.NewReader(data), lines, nil
		}
		if err != nil {
			return nil, 0, err
		}
		end := bytes.LastIndexByte(data, '\n')
		if end < 0 {
			return io.MultiReader(bytes.NewReader(data), r), lines, nil
		}
		last, ok := lineTime(data[bytes.LastIndexByte(data[:end], '\n')+1 : end])
		if !ok || !last.Before(t) {
			return io.MultiReader(bytes.NewReader(data), r), lines, nil
		}
		lines += bytes.Count(data[:end+1], []byte{'\n'})
		kept = copy(buf, data[end+1:])
	}
}

// seekTime moves fh to the start of a line at or before the first line
// whose time is at or after t, by bisecting the file's bytes, and returns
// that offset. Lines whose time cannot be read keep the search where it is.
func seekTime(fh *os.File, t time.Time) (int64, error) {
	st, err := fh.Stat()
	if err != nil {
		return 0, err
	}
	lo, hi := int64(0), st.Size()
	buf := make([]byte, 64<<10)
	// lo is always a line's start: 0, or just after a newline.
	for hi-lo > int64(len(buf)) {
		mid := lo + (hi-lo)/2
		n, err := fh.ReadAt(buf, mid)
		if err != nil && err != io.EOF {
			return 0, err
		}
		chunk := buf[:n]
		nl := bytes.IndexByte(chunk, '\n')
		if nl < 0 {
			break
		}
		line := chunk[nl+1:]
		if end := bytes.IndexByte(line, '\n'); end >= 0 {
			line = line[:end]
		}
		lt, ok := lineTime(line)
		if !ok {
			break
		}
		if lt.Before(t) {
			lo = mid + int64(nl) + 1
		} else {
			hi = mid
		}
	}
	_, err = fh.Seek(lo, io.SeekStart)
	return lo, err
}
