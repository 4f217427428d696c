package lambdaemu

import (
	"bytes"
	"io"
	"sync"
)

// outputMu serialises line writes of all pools, which usually share one
// Output such as os.Stdout.
var outputMu sync.Mutex

// lineWriter prefixes every complete line written to it and forwards it to
// out in a single Write. A trailing partial line is kept until Flush.
type lineWriter struct {
	out    io.Writer
	prefix []byte

	mu  sync.Mutex
	buf []byte
}

func newLineWriter(out io.Writer, prefix string) *lineWriter {
	return &lineWriter{out: out, prefix: []byte(prefix)}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

// Flush writes a pending partial line, terminated by a newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
}

// Line writes one line (without its newline).
func (w *lineWriter) Line(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit([]byte(s + "\n"))
}

func (w *lineWriter) emit(line []byte) {
	msg := make([]byte, 0, len(w.prefix)+len(line))
	msg = append(append(msg, w.prefix...), line...)
	outputMu.Lock()
	defer outputMu.Unlock()
	_, _ = w.out.Write(msg) // function output is best effort, like CloudWatch
}
