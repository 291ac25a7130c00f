package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP connections from a loopback port to one address (a lab host's sshd)
// and cuts them on demand: once an armed byte budget is spent (both directions counted), every
// connection it carries is closed mid-stream, the last write possibly partial, and new
// connections are refused until Heal, as if the link had gone.
type cutProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	budget int64 // < 0: no cut armed
	used   int64
	down   bool
	cuts   int
	cutAt  time.Time
	conns  map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, budget: -1, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.closeAll()
		p.mu.Unlock()
	})
	go p.serve()
	return p
}

// Port is the loopback port to connect to.
func (p *cutProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// CutAfter arms a cut after n more bytes and resets the byte count.
func (p *cutProxy) CutAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget, p.used = n, 0
}

// Count resets the byte count without arming a cut.
func (p *cutProxy) Count() { p.CutAfter(-1) }

// Heal disarms the cut and accepts connections again.
func (p *cutProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget, p.down = -1, false
}

// Bytes is the number of bytes carried since the last CutAfter or Count.
func (p *cutProxy) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Cuts is the number of cuts made so far.
func (p *cutProxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// CutTime is when the last cut happened.
func (p *cutProxy) CutTime() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cutAt
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.carry(c)
	}
}

func (p *cutProxy) carry(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(server, client) }()
	go func() { defer wg.Done(); p.pipe(client, server) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
	client.Close()
	server.Close()
}

// pipe copies src to dst, spending the budget; the write that exhausts it is cut short.
func (p *cutProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			send, cut := n, false
			if p.budget >= 0 && p.used+int64(n) >= p.budget {
				send, cut = int(max(p.budget-p.used, 0)), true
			}
			p.used += int64(send)
			if cut {
				// Deliver the partial chunk, then drop every connection.
				dst.Write(buf[:send])
				p.cuts++
				p.cutAt = time.Now()
				p.down = true
				p.budget = -1
				p.closeAll()
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

// closeAll closes every carried connection; the caller holds mu.
func (p *cutProxy) closeAll() {
	for c := range p.conns {
		c.Close()
	}
}
