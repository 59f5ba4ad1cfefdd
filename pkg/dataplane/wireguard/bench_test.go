//go:build linux

package wireguard

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// BenchmarkPodToPod measures TCP between the "pods" of two node
// namespaces over the VXLAN overlay (pkg/dataplane) and over WireGuard
// (userspace wireguard-go where the kernel has none): bulk throughput
// (64 KiB writes; MB/s) and latency (1-byte request/response round trips;
// ns/op). Run as root, e.g.
//
//	go test -run '^$' -bench PodToPod -benchtime 5s ./pkg/dataplane/wireguard/
func BenchmarkPodToPod(b *testing.B) {
	for _, overlay := range []string{"VXLAN", "WireGuard"} {
		b.Run(overlay+"/throughput", func(b *testing.B) {
			client, server := overlayPair(b, overlay)
			done := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, server)
				done <- err
			}()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			client.(*net.TCPConn).CloseWrite()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
		})
		b.Run(overlay+"/latency", func(b *testing.B) {
			client, server := overlayPair(b, overlay)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // echo until the client closes
				defer wg.Done()
				buf := make([]byte, 1)
				for {
					if _, err := io.ReadFull(server, buf); err != nil {
						return
					}
					if _, err := server.Write(buf); err != nil {
						return
					}
				}
			}()
			buf := make([]byte, 1)
			b.ResetTimer()
			for range b.N {
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(client, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			client.Close()
			wg.Wait()
		})
	}
}

// overlayPair builds two nodes joined by the overlay and returns a TCP
// connection from node 1's pod address to node 2's, both ends.
func overlayPair(b *testing.B, overlay string) (client, server net.Conn) {
	b.Helper()
	nodes := buildNodes(b, 2)
	n1, n2 := nodes[0], nodes[1]
	switch overlay {
	case "VXLAN":
		setupVXLAN(b, n1, n2)
	case "WireGuard":
		for _, p := range [][2]*node{{n1, n2}, {n2, n1}} {
			w, err := New(p[0].ns, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = w.Close() })
			if _, err := w.Apply(context.Background(), p[0].desired(p[1])); err != nil {
				b.Fatal(err)
			}
		}
	}
	n1.pingEventually(b, n2.pod, 10)

	var ln net.Listener
	if err := inNamespace(n2.ns, func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(n2.pod, 5201).String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			b.Error(err)
		}
		accepted <- c
	}()
	if err := inNamespace(n1.ns, func() error {
		var err error
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(n1.pod, 0))}
		client, err = d.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		b.FailNow()
	}
	b.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
