package protocols

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FEDGATE_TEST_SECRET", "from-env")
	tests := []struct {
		raw, want, wantErr string
	}{
		{raw: "literal", want: "literal"},
		{raw: "${FEDGATE_TEST_SECRET}", want: "from-env"},
		{raw: "pre-${FEDGATE_TEST_SECRET}-post", want: "pre-from-env-post"},
		{raw: "file:" + file, want: "from-file"},
		{raw: "${FEDGATE_TEST_UNSET}", wantErr: "FEDGATE_TEST_UNSET is not set"},
		{raw: "file:" + filepath.Join(dir, "missing"), wantErr: "secret file"},
		{raw: "$NOT_A_REF", want: "$NOT_A_REF"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			var s Secret
			err := s.UnmarshalText([]byte(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || s.Value() != tt.want {
				t.Fatalf("= %q, %v; want %q", s.Value(), err, tt.want)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	j, _ := json.Marshal(struct{ S Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(j)} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
}
