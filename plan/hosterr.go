package plan

import "fmt"

// namedHost is implemented by errors that already name the host they are about (every error
// remote/ returns about a host does, as "<host>: ..."). Labelling one with the host again
// would print the name twice.
type namedHost interface {
	error
	ErrorHost() string
}

// OnHost returns err labelled "<host>: ...", once: an error that already names host is
// returned as it is.
func OnHost(host string, err error) error {
	if err == nil {
		return nil
	}
	if nh, ok := err.(namedHost); ok && nh.ErrorHost() == host {
		return err
	}
	return fmt.Errorf("%s: %w", host, err)
}

// WithoutHost returns err without its own "<host>: " label when it names host, for callers
// that name the host their own way (a unit ID, a host column). Errors whose text cannot drop
// the name (no Unwrap) are returned as they are.
func WithoutHost(host string, err error) error {
	if nh, ok := err.(namedHost); ok && nh.ErrorHost() == host {
		if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
			return u.Unwrap()
		}
	}
	return err
}
