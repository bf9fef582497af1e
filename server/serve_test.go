package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/server"
)

func TestServeShutsDownGracefully(t *testing.T) {
	srv, err := server.Open(t.Context(), tilltest.Config(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// An open WebSocket must not hold shutdown up.
	dialCtx, cancelDial := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancelDial()
	conn, _, err := websocket.Dial(dialCtx, "ws://"+ln.Addr().String()+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, conn.Write(dialCtx, websocket.MessageText, []byte(`{"type":"connection_init"}`)))
	_, ack, err := conn.Read(dialCtx)
	require.NoError(t, err)
	require.Contains(t, string(ack), "connection_ack")

	stop()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	_, err = http.Get(base + "/healthz")
	require.Error(t, err, "the listener is closed")
	readCtx, cancelRead := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancelRead()
	_, _, err = conn.Read(readCtx)
	require.Error(t, err, "the server closed the WebSocket")
	require.NoError(t, readCtx.Err(), "closed by the server, not by our timeout")
}
