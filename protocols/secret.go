package protocols

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Secret is a config value that may come from the environment ("${NAME}") or
// a file ("file:/path", trailing newline trimmed) so it need not sit in the
// YAML. It never prints its value. It lives here so that protocol packages'
// configs can hold secrets without importing config.
type Secret struct {
	value string
}

// NewSecret wraps a literal value.
func NewSecret(v string) Secret { return Secret{value: v} }

// Value returns the secret itself; call it only where it is used.
func (s Secret) Value() string { return s.value }

// String redacts, so a Secret in a log line or %v never leaks.
func (s Secret) String() string { return "[redacted]" }

// GoString redacts for %#v too.
func (s Secret) GoString() string { return "protocols.Secret{[redacted]}" }

// MarshalJSON redacts in JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// maxSecretFile bounds a file: secret; secrets are small.
const maxSecretFile = 64 << 10

// UnmarshalText resolves "file:" and "${NAME}" references (YAML decoders use it).
func (s *Secret) UnmarshalText(b []byte) error {
	raw := string(b)
	if path, ok := strings.CutPrefix(raw, "file:"); ok {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("secret file: %w", err)
		}
		defer f.Close()
		data := make([]byte, maxSecretFile+1)
		n, _ := f.Read(data)
		if n > maxSecretFile {
			return fmt.Errorf("secret file %s: larger than %d bytes", path, maxSecretFile)
		}
		s.value = strings.TrimRight(string(data[:n]), "\r\n")
		return nil
	}
	var missing []string
	s.value = envRef.ReplaceAllStringFunc(raw, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return nil
}
