package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Transports and broadcast methods.
const (
	TransportHTTP = "http"
	TransportWS   = "ws"

	BroadcastSync  = "sync"
	BroadcastAsync = "async"
)

// response is a node's answer to one broadcast: a CheckTx code (always 0
// for async), or an RPC error such as a full mempool.
type response struct {
	code     uint32
	log      string
	rpcError string // empty when the node answered with a result
}

// sender submits transactions over one connection. send returns once the
// request is written (websocket) or answered (HTTP); done is called with the
// node's answer, from whichever goroutine reads it.
type sender interface {
	send(ctx context.Context, tx []byte, done func(response)) error
	close()
}

type rpcRequest struct {
	JSONRPC string         `json:"jsonrpc"`
	ID      int64          `json:"id"`
	Method  string         `json:"method"`
	Params  map[string]any `json:"params"`
}

type rpcResponse struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

type broadcastResult struct {
	Code uint32 `json:"code"`
	Log  string `json:"log"`
}

func (r *rpcResponse) toResponse() response {
	if r.Error != nil {
		return response{rpcError: strings.TrimSpace(r.Error.Message + ": " + r.Error.Data)}
	}
	var res broadcastResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		return response{rpcError: "bad broadcast result: " + err.Error()}
	}
	return response{code: res.Code, log: res.Log}
}

func broadcastMethod(mode string) string { return "broadcast_tx_" + mode }

// httpSender posts one JSON-RPC request at a time over a kept-alive
// connection.
type httpSender struct {
	url    string
	method string
	client *http.Client
	nextID atomic.Int64
}

func newHTTPSender(node, mode string) *httpSender {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, IdleConnTimeout: time.Minute}
	return &httpSender{url: node, method: broadcastMethod(mode), client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (s *httpSender) send(ctx context.Context, tx []byte, done func(response)) error {
	body, err := json.Marshal(rpcRequest{JSONRPC: "2.0", ID: s.nextID.Add(1), Method: s.method, Params: map[string]any{"tx": base64.StdEncoding.EncodeToString(tx)}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var r rpcResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s: %s: %w", s.url, res.Status, err)
	}
	done(r.toResponse())
	return nil
}

func (s *httpSender) close() { s.client.CloseIdleConnections() }

// wsSender pipelines requests over one websocket: up to window requests
// are unanswered at a time, and a reader goroutine matches answers to them
// by request id.
type wsSender struct {
	conn   *websocket.Conn
	method string
	window chan struct{}

	wmu    sync.Mutex // one writer at a time
	nextID int64

	mu      sync.Mutex
	waiting map[int64]func(response)
	err     error // set when the reader stops
	stopped chan struct{}
}

// wsWindow bounds the unanswered requests of one websocket connection.
const wsWindow = 256

func newWSSender(ctx context.Context, node, mode string) (*wsSender, error) {
	u, err := url.Parse(node)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", node, err)
	}
	switch u.Scheme {
	case "http", "tcp", "":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/websocket"
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("websocket %s: %w", u, err)
	}
	s := &wsSender{conn: conn, method: broadcastMethod(mode), window: make(chan struct{}, wsWindow),
		waiting: map[int64]func(response){}, stopped: make(chan struct{})}
	go s.read()
	return s, nil
}

func (s *wsSender) read() {
	defer close(s.stopped)
	for {
		_, msg, err := s.conn.ReadMessage()
		if err != nil {
			s.fail(err)
			return
		}
		var r rpcResponse
		if err := json.Unmarshal(msg, &r); err != nil {
			continue // not an answer of ours
		}
		s.mu.Lock()
		done, ok := s.waiting[r.ID]
		delete(s.waiting, r.ID)
		s.mu.Unlock()
		if ok {
			<-s.window
			done(r.toResponse())
		}
	}
}

// fail answers every unanswered request with the connection's error.
func (s *wsSender) fail(err error) {
	s.mu.Lock()
	s.err = err
	waiting := s.waiting
	s.waiting = map[int64]func(response){}
	s.mu.Unlock()
	for _, done := range waiting {
		done(response{rpcError: "connection lost: " + err.Error()})
	}
}

func (s *wsSender) send(ctx context.Context, tx []byte, done func(response)) error {
	select {
	case s.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return fmt.Errorf("websocket closed: %w", s.err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.nextID++
	id := s.nextID
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return fmt.Errorf("websocket closed: %w", s.err)
	}
	s.waiting[id] = done
	s.mu.Unlock()
	req := rpcRequest{JSONRPC: "2.0", ID: id, Method: s.method, Params: map[string]any{"tx": base64.StdEncoding.EncodeToString(tx)}}
	if err := s.conn.WriteJSON(req); err != nil {
		s.mu.Lock()
		delete(s.waiting, id)
		s.mu.Unlock()
		<-s.window
		return err
	}
	return nil
}

func (s *wsSender) close() {
	s.wmu.Lock()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	s.wmu.Unlock()
	s.conn.Close()
	<-s.stopped
}

// rpcGet calls a JSON-RPC method over HTTP GET (URI form) and decodes its
// result into out.
func rpcGet(ctx context.Context, hc *http.Client, node, method string, args url.Values, out any) error {
	u := strings.TrimSuffix(node, "/") + "/" + method
	if len(args) > 0 {
		u += "?" + args.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var r rpcResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %s: %w", u, res.Status, err)
	}
	if r.Error != nil {
		return errors.New(strings.TrimSpace(r.Error.Message + " " + r.Error.Data))
	}
	return json.Unmarshal(r.Result, out)
}
