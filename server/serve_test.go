package server_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	init, err := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + signUpOver(t, base)}})
	require.NoError(t, err)
	require.NoError(t, conn.Write(dialCtx, websocket.MessageText, init))
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

// signUpOver signs a merchant up through the API at base and returns the
// owner's access token.
func signUpOver(t *testing.T, base string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"query": `mutation($i: SignUpMerchantInput!) { signUpMerchant(input: $i) { accessToken } }`,
		"variables": map[string]any{"i": map[string]any{
			"merchantName": "Shutdown Tea", "ownerName": "Owner", "email": tilltest.UniqueEmail("owner"),
			"password": tilltest.Password, "currency": "CNY", "timeZone": "Asia/Shanghai",
		}},
	})
	require.NoError(t, err)
	resp, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Data struct{ SignUpMerchant struct{ AccessToken string } }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.NotEmpty(t, out.Data.SignUpMerchant.AccessToken)
	return out.Data.SignUpMerchant.AccessToken
}
