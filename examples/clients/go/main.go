// Command ledgerclient is a client of `ledger serve` in Go with only the
// standard library (docs/PROTOCOL.md).
//
//	go run . SOCKET [N]
//
// It sends N (default 3) x.example.go events with ids, pipelined, reads
// their answers in order and prints one line per event: "ID seq N" once it
// is durably committed, or "ID error: ..." (exit 65). Run it twice: with
// the same ids the server answers with the first seqs and records nothing
// new.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
)

// Client is the part to copy: Append sends a request and returns at once,
// Wait returns the next answer. One goroutine may Append while another
// Waits.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
}

// Request is one event; ID and Time are the protocol's optional fields.
type Request struct {
	Type    string         `json:"type"`
	Body    map[string]any `json:"body"`
	Subject string         `json:"subject,omitempty"`
	Run     string         `json:"run,omitempty"`
	Actor   string         `json:"actor,omitempty"`
	ID      string         `json:"id,omitempty"`
	Time    string         `json:"time,omitempty"`
}

// Answer is one response line.
type Answer struct {
	ID    string `json:"id,omitempty"`
	Seq   string `json:"seq,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

func Dial(path string) (*Client, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	return &Client{conn: c, r: bufio.NewReaderSize(c, 65536)}, nil
}

func (c *Client) Append(req Request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = c.conn.Write(append(b, '\n'))
	return err
}

func (c *Client) Wait() (Answer, error) {
	var a Answer
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return a, errors.New("the server closed the connection")
	}
	err = json.Unmarshal(line, &a)
	return a, err
}

func (c *Client) Close() error { return c.conn.Close() }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ledgerclient SOCKET [N]")
		os.Exit(64)
	}
	n := 3
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	tag := os.Getenv("CLIENT_TAG")
	if tag == "" {
		tag = "go"
	}
	c, err := Dial(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ledgerclient:", err)
		os.Exit(69)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		err := c.Append(Request{Type: "x.example.go",
			Body: map[string]any{"i": i, "lang": "go"},
			ID:   fmt.Sprintf("%s-%d", tag, i),
			Time: strconv.FormatInt(1795380901000000000+int64(i), 10)})
		if err != nil {
			fmt.Fprintln(os.Stderr, "ledgerclient:", err)
			os.Exit(74)
		}
	}
	status := 0
	for i := 0; i < n; i++ {
		a, err := c.Wait()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ledgerclient:", err)
			os.Exit(74)
		}
		if a.Seq != "" {
			fmt.Printf("%s seq %s\n", a.ID, a.Seq)
		} else {
			fmt.Printf("%s error: %s\n", a.ID, a.Error)
			status = 65
		}
	}
	os.Exit(status)
}
