package lambdaemu

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("lambdaemu: pool closed")

// ErrPayloadTooLarge matches (errors.Is) the *PayloadTooLargeError Invoke
// returns for a request payload above MaxPayloadBytes.
var ErrPayloadTooLarge = errors.New("lambdaemu: request payload exceeds 6 MB")

// PayloadTooLargeError is Lambda's RequestEntityTooLargeException: the
// invocation payload (the event JSON, e.g. API Gateway's event with the body
// inside, base64-encoded if binary) is over MaxPayloadBytes. Nothing ran.
type PayloadTooLargeError struct {
	RequestID string
	Size      int // bytes of the refused payload
}

func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("RequestEntityTooLargeException: %d byte payload is too large for the RequestResponse invocation type (limit %d bytes)",
		e.Size, MaxPayloadBytes)
}

// Is matches ErrPayloadTooLarge.
func (e *PayloadTooLargeError) Is(target error) bool { return target == ErrPayloadTooLarge }

// RequestEntityTooLarge reports true: an API Gateway answers 413.
func (e *PayloadTooLargeError) RequestEntityTooLarge() bool { return true }

// FunctionError is an error the function reported itself: the handler
// returned an error or panicked (Runtime API .../error), or the response
// could not be delivered (e.g. Function.ResponseSizeTooLarge). The instance
// is kept unless its process exited.
type FunctionError struct {
	RequestID string
	Type      string // errorType, e.g. "errorString" or "*main.myErr"
	Message   string // errorMessage
	// Payload is the error document as Lambda's Invoke API would return it:
	// {"errorMessage":...,"errorType":...[,"stackTrace":...]}.
	Payload []byte
}

func (e *FunctionError) Error() string {
	return e.Type + ": " + e.Message
}

// Handled reports true: the function itself produced this error. An API
// Gateway maps it to 500, unhandled errors to 502.
func (e *FunctionError) Handled() bool { return true }

// Kind classifies a RuntimeError.
type Kind int

const (
	// KindCrash means the process exited during an invocation.
	KindCrash Kind = iota + 1
	// KindTimeout means the invocation exceeded the function timeout; the
	// process was killed.
	KindTimeout
	// KindInit means the instance failed to initialise: the process exited
	// before asking for its first invocation, reported
	// /runtime/init/error, or exceeded the init timeout.
	KindInit
)

func (k Kind) String() string {
	switch k {
	case KindCrash:
		return "crash"
	case KindTimeout:
		return "timeout"
	case KindInit:
		return "init"
	}
	return "unknown"
}

// Sentinels matched by errors.Is against a *RuntimeError of that Kind.
var (
	ErrCrashed    = errors.New("lambdaemu: runtime exited")
	ErrTimedOut   = errors.New("lambdaemu: task timed out")
	ErrInitFailed = errors.New("lambdaemu: init failed")
)

// RuntimeError is an invocation failure outside the handler's control:
// a crash ("Runtime.ExitError"), a timeout ("Sandbox.Timedout", message
// "... Task timed out after N.NN seconds"), or an init failure. The
// instance involved has been discarded.
type RuntimeError struct {
	RequestID string
	Kind      Kind
	Type      string // errorType as Lambda reports it
	Message   string // errorMessage as Lambda reports it
}

func (e *RuntimeError) Error() string { return e.Type + ": " + e.Message }

// Handled reports false: the platform, not the handler, failed the
// invocation.
func (e *RuntimeError) Handled() bool { return false }

// Is matches ErrCrashed, ErrTimedOut and ErrInitFailed by Kind.
func (e *RuntimeError) Is(target error) bool {
	switch target {
	case ErrCrashed:
		return e.Kind == KindCrash
	case ErrTimedOut:
		return e.Kind == KindTimeout
	case ErrInitFailed:
		return e.Kind == KindInit
	}
	return false
}

// Payload returns the error document Lambda's Invoke API would return.
func (e *RuntimeError) Payload() []byte {
	b, _ := json.Marshal(errorDoc{Message: e.Message, Type: e.Type})
	return b
}

// errorDoc is the Runtime API / Invoke API error body.
type errorDoc struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}
