package remote

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// sftpServerProbe finds the host's sftp-server binary, for running it under sudo.
const sftpServerProbe = `for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/sftp-server; do if [ -x "$p" ]; then echo "$p"; exit 0; fi; done; exit 1`

// withSFTP runs fn with the client's SFTP session, opening it on first use. With Become the
// SFTP server runs as root: the host's sftp-server is started under sudo on an exec channel
// and SFTP is spoken over its pipes. Cancelling ctx closes the SFTP session (pkg/sftp calls
// take no context); the next call opens a new one.
func (c *Client) withSFTP(ctx context.Context, fn func(*sftp.Client) error) error {
	sc, err := c.sftpClient(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, c.closeSFTP)
	defer stop()
	err = fn(sc)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.EOF) {
		c.closeSFTP() // the next call starts a new SFTP session
	}
	return err
}

func (c *Client) sftpClient(ctx context.Context) (*sftp.Client, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	var argv []string
	if c.target.Become {
		res, err := c.Run(ctx, Script(sftpServerProbe), RunOptions{Timeout: time.Minute})
		if err != nil {
			return nil, c.errorf("no sftp-server found for become (install openssh-sftp-server): %w", err)
		}
		argv = []string{strings.TrimSpace(string(res.Stdout))}
		var prefix []byte
		if argv, prefix, err = c.sudo(ctx, argv); err != nil {
			return nil, err
		}
		if prefix != nil {
			return nil, c.errorf("become for file transfer needs passwordless sudo for the sftp-server (sudo -n %s)", argv[len(argv)-1])
		}
	}
	s, release, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.StdinPipe()
	if err != nil {
		s.Close()
		release()
		return nil, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		release()
		return nil, err
	}
	if argv == nil {
		err = s.RequestSubsystem("sftp")
	} else {
		line, _ := Command(argv)
		err = s.Start(line)
	}
	if err != nil {
		s.Close()
		release()
		return nil, c.errorf("start sftp: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	sc, err := sftp.NewClientPipe(r, w, sftp.UseConcurrentWrites(true))
	stopped := stop()
	if err != nil || !stopped {
		s.Close()
		release()
		if err == nil {
			err = ctx.Err()
		}
		return nil, c.errorf("start sftp: %w", err)
	}
	c.sftp = sc
	c.sftpEnd = func() { sc.Close(); s.Close(); release() }
	return sc, nil
}

// closeSFTP ends the SFTP session, if one is open.
func (c *Client) closeSFTP() {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftpEnd != nil {
		c.sftpEnd()
	}
	c.sftp, c.sftpEnd = nil, nil
}
