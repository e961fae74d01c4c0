// Command relay is a TCP relay that adds latency without limiting
// throughput, for benchmarks where tc netem is not available
// (bench/hosts.py runs ssh through it).
//
//	go run ./bench/relay -listen 127.0.0.4:2222 -to 127.0.0.2:2222 -delay 1ms
//
// Every connection accepted on -listen is forwarded to -to, both ways. Each
// chunk read from one side is written to the other -delay after it arrived
// (so a round trip takes 2 x -delay longer), in order. Per direction one
// goroutine reads chunks and queues them with their arrival time, another
// sleeps until each one is due and writes it: chunks in flight overlap, so
// the delay costs latency, not bandwidth. An end of input is passed on as a
// half close once the data before it is written.
//
// The delay is a floor: Go's timers wake a little late (on Linux about
// 0.1 ms, and a wait shorter than 1 ms lasts about 1 ms), so with -delay 1ms
// a TCP ping-pong takes about 2.4 ms more, not 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"
)

// chunk is what one read returned, and when.
type chunk struct {
	at   time.Time
	data []byte
}

// queued is how many chunks one direction holds in flight before its reader
// waits: far more than a -delay's worth at loopback speeds.
const queued = 1 << 14

func main() {
	listen := flag.String("listen", "", "address to accept connections on (host:port)")
	to := flag.String("to", "", "address to forward each connection to (host:port)")
	delay := flag.Duration("delay", time.Millisecond, "delay of every chunk, in each direction")
	flag.Parse()
	if *listen == "" || *to == "" || flag.NArg() > 0 || *delay < 0 {
		fmt.Fprintln(os.Stderr, "usage: relay -listen HOST:PORT -to HOST:PORT [-delay 1ms]")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("relay: %v", err)
	}
	log.Printf("relay: %s -> %s, %v each way", l.Addr(), *to, *delay)
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			log.Fatalf("relay: %v", err)
		}
		go serve(c, *to, *delay)
	}
}

// serve forwards c to a new connection to addr, both ways, until both
// directions ended.
func serve(c net.Conn, addr string, delay time.Duration) {
	defer c.Close()
	d, err := net.Dial("tcp", addr)
	if err != nil {
		log.Printf("relay: %v", err)
		return
	}
	defer d.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pipe(d, c, delay) }()
	go func() { defer wg.Done(); pipe(c, d, delay) }()
	wg.Wait()
}

// pipe copies src to dst, every chunk delay after it was read.
func pipe(dst, src net.Conn, delay time.Duration) {
	ch := make(chan chunk, queued)
	go func() {
		defer close(ch)
		buf := make([]byte, 256<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				data := make([]byte, n)
				copy(data, buf[:n])
				ch <- chunk{at: time.Now(), data: data}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					// A reset, say: the connection is gone both ways.
					log.Printf("relay: read: %v", err)
					src.Close()
					dst.Close()
				}
				return
			}
		}
	}()
	for c := range ch {
		if wait := time.Until(c.at.Add(delay)); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.data); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				log.Printf("relay: write: %v", err)
			}
			// Nothing more can go this way: stop the other direction too,
			// and drain the queue so that the reader is not stuck sending.
			dst.Close()
			src.Close()
			for range ch {
			}
			return
		}
	}
	// The input ended and all of it is written: pass the end on.
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}
