package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func b64(n int, fill byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, n))
}

// validFile returns a well-formed key file as a generic JSON tree so that
// test cases can break exactly one part of it.
func validFile() map[string]any {
	return map[string]any{
		"jwt": map[string]any{
			"active": "k1",
			"keys":   map[string]any{"k1": b64(32, 1), "k0": b64(32, 2)},
		},
		"pii": map[string]any{
			"active": "p1",
			"keys":   map[string]any{"p1": b64(32, 3)},
		},
		"blindIndex": b64(32, 4),
	}
}

func section(f map[string]any, name string) map[string]any {
	return f[name].(map[string]any)
}

func keysOf(f map[string]any, name string) map[string]any {
	return section(f, name)["keys"].(map[string]any)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(f map[string]any)
		raw     string // used instead of the mutated file when set
		wantErr string
	}{
		{name: "valid", mutate: func(map[string]any) {}},
		{name: "long blind index", mutate: func(f map[string]any) { f["blindIndex"] = b64(64, 4) }},
		{name: "not json", raw: "{", wantErr: "decoding key file"},
		{name: "jwt missing", mutate: func(f map[string]any) { delete(f, "jwt") }, wantErr: "jwt: no keys"},
		{name: "jwt no keys", mutate: func(f map[string]any) { section(f, "jwt")["keys"] = map[string]any{} }, wantErr: "jwt: no keys"},
		{name: "jwt active missing", mutate: func(f map[string]any) { delete(section(f, "jwt"), "active") }, wantErr: "jwt: active key ID missing"},
		{name: "jwt active not in keys", mutate: func(f map[string]any) { section(f, "jwt")["active"] = "k9" }, wantErr: `jwt: active key "k9" not in keys`},
		{name: "jwt empty kid", mutate: func(f map[string]any) { keysOf(f, "jwt")[""] = b64(32, 5) }, wantErr: "jwt: empty key ID"},
		{name: "jwt bad base64", mutate: func(f map[string]any) { keysOf(f, "jwt")["k0"] = "not base64!" }, wantErr: `jwt key "k0": decoding base64`},
		{name: "jwt short seed", mutate: func(f map[string]any) { keysOf(f, "jwt")["k1"] = b64(16, 1) }, wantErr: `jwt key "k1": key is 16 bytes, want 32`},
		// A full 64-byte private key instead of its seed is a likely mistake.
		{name: "jwt private key instead of seed", mutate: func(f map[string]any) { keysOf(f, "jwt")["k0"] = b64(64, 1) }, wantErr: `jwt key "k0": key is 64 bytes, want 32`},
		{name: "pii missing", mutate: func(f map[string]any) { delete(f, "pii") }, wantErr: "pii: no keys"},
		{name: "pii active not in keys", mutate: func(f map[string]any) { section(f, "pii")["active"] = "k1" }, wantErr: `pii: active key "k1" not in keys`},
		{name: "pii aes-128 key", mutate: func(f map[string]any) { keysOf(f, "pii")["p1"] = b64(16, 3) }, wantErr: `pii key "p1": key is 16 bytes, want 32`},
		{name: "pii bad base64", mutate: func(f map[string]any) { keysOf(f, "pii")["p1"] = "%%%%" }, wantErr: `pii key "p1": decoding base64`},
		{name: "blind index missing", mutate: func(f map[string]any) { delete(f, "blindIndex") }, wantErr: "blindIndex: missing"},
		{name: "blind index bad base64", mutate: func(f map[string]any) { f["blindIndex"] = "%%%%" }, wantErr: "blindIndex: decoding base64"},
		{name: "blind index short", mutate: func(f map[string]any) { f["blindIndex"] = b64(31, 4) }, wantErr: "blindIndex: key is 31 bytes, want at least 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.raw == "" {
				f := validFile()
				tt.mutate(f)
				var err error
				data, err = json.Marshal(f)
				require.NoError(t, err)
			}

			k, err := Parse(data)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, k)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, k)
			for _, secret := range []string{b64(32, 1), b64(16, 1), b64(64, 1), b64(32, 3), b64(16, 3), b64(31, 4)} {
				require.NotContains(t, err.Error(), secret, "error leaks key bytes")
			}
		})
	}
}

func TestParseDecodesKeys(t *testing.T) {
	f := validFile()
	data, err := json.Marshal(f)
	require.NoError(t, err)

	k, err := Parse(data)
	require.NoError(t, err)
	require.Equal(t, "k1", k.JWT.Active)
	require.Len(t, k.JWT.Keys, 2)
	// The file holds the seed; the parsed key is the full private key.
	require.Equal(t, bytes.Repeat([]byte{1}, 32), []byte(k.JWT.Keys["k1"].Seed()))
	require.Equal(t, "p1", k.PII.Active)
	require.Equal(t, bytes.Repeat([]byte{3}, 32), k.PII.Keys["p1"])
	require.Equal(t, bytes.Repeat([]byte{4}, 32), k.BlindIndex)
}

func TestGenerate(t *testing.T) {
	a, err := Generate()
	require.NoError(t, err)
	b, err := Generate()
	require.NoError(t, err)

	for _, k := range []*Keys{a, b} {
		require.Regexp(t, `^k[0-9a-f]{8}$`, k.JWT.Active)
		require.Regexp(t, `^k[0-9a-f]{8}$`, k.PII.Active)
		require.Len(t, k.JWT.Keys, 1)
		require.Contains(t, k.JWT.Keys, k.JWT.Active)
		require.Len(t, k.PII.Keys, 1)
		require.Len(t, k.PII.Keys[k.PII.Active], 32)
		require.Len(t, k.BlindIndex, 32)
	}
	require.NotEqual(t, a.JWT.Keys[a.JWT.Active], b.JWT.Keys[b.JWT.Active])
	require.NotEqual(t, a.PII.Keys[a.PII.Active], b.PII.Keys[b.PII.Active])
	require.NotEqual(t, a.BlindIndex, b.BlindIndex)
}

func TestMarshalRoundTrip(t *testing.T) {
	k, err := Generate()
	require.NoError(t, err)
	// A rotated-out key must survive the round trip too.
	old, err := Generate()
	require.NoError(t, err)
	k.JWT.Keys[old.JWT.Active] = old.JWT.Keys[old.JWT.Active]
	k.PII.Keys[old.PII.Active] = old.PII.Keys[old.PII.Active]

	for _, v := range []any{k, *k} {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := Parse(data)
		require.NoError(t, err)
		require.Equal(t, k, got)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()

	_, err := Load(filepath.Join(dir, "missing.json"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{}`), 0o600))
	_, err = Load(bad)
	require.ErrorContains(t, err, bad)
	require.ErrorContains(t, err, "jwt: no keys")

	k, err := Generate()
	require.NoError(t, err)
	data, err := json.Marshal(k)
	require.NoError(t, err)
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, data, 0o600))
	got, err := Load(good)
	require.NoError(t, err)
	require.Equal(t, k, got)
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")

	first, created, err := LoadOrCreate(path)
	require.NoError(t, err)
	require.True(t, created)

	if runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
	}

	second, created, err := LoadOrCreate(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first, second)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary file left behind")
}

func TestLoadOrCreateMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "keys.json")

	keys, created, err := LoadOrCreate(path)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "creating keys")
	require.False(t, created)
	require.Nil(t, keys)
}

func TestLoadOrCreateDoesNotOverwriteInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))

	_, created, err := LoadOrCreate(path)
	require.ErrorContains(t, err, "decoding key file")
	require.False(t, created)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "garbage", string(data))
}

// TestLoadOrCreateConcurrent checks that racing callers agree on one set of
// keys: exactly one creates the file and every other loads it.
func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")

	const n = 16
	var (
		wg      sync.WaitGroup
		results [n]*Keys
		creates [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			results[i], creates[i], errs[i] = LoadOrCreate(path)
		})
	}
	wg.Wait()

	created := 0
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, results[0], results[i])
		if creates[i] {
			created++
		}
	}
	require.Equal(t, 1, created)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, "keys.json", strings.Join(names, ","), "temporary files left behind")
}
