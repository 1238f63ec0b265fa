package pipeline

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestLoopbackPrismRefusesOtherInterfaces starts the in-process job server
// and dials it over loopback (accepted) and over every other address of this
// machine (refused).
func TestLoopbackPrismRefusesOtherInterfaces(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the listener is narrowed to loopback on Linux only")
	}
	endpoint, err := startLoopbackPrism(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(endpoint)
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
	if err != nil {
		t.Fatalf("dialing the job server over loopback: %v", err)
	}
	c.Close()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, a := range addrs {
		ip, _, err := net.ParseCIDR(a.String())
		if err != nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		tried++
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), port), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the job server accepted a connection on %s, want it refused", ip)
		}
	}
	if tried == 0 {
		t.Skip("this machine has no non-loopback address to dial")
	}
}
