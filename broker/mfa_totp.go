package broker

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// totpMethod is an authenticator app: RFC 6238 codes of 6 digits every
// 30 seconds over HMAC-SHA1, which is what every app expects. A code is
// good one step either side of now (clock drift) and once only: the step
// it matched is claimed in the store, so no replica accepts it again.
type totpMethod struct{}

const (
	totpPeriod = 30 * time.Second
	totpSkew   = 1 // steps either side
	// totpLate: a code this many steps old is called expired, not wrong
	// (for the audit log and the user's message only).
	totpLate = 10
)

var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpRecord is what the vault keeps for a user.
type totpRecord struct {
	Secret  string    `json:"s"` // base32, as in the otpauth URL
	Created time.Time `json:"c"`
}

func (totpMethod) Name() string  { return "otp" }
func (totpMethod) AMR() []string { return []string{"otp"} }

func (m totpMethod) Enrolled(c *mfaCall) (bool, error) {
	return c.vault.has(c.r.Context(), m.Name(), c.user)
}

func (totpMethod) Challenge(c *mfaCall) {
	c.render(http.StatusOK, "mfacode", codePage(c, "totp.title", "totp.intro", "totp.code", "mfa.verify", true))
}

func (m totpMethod) Verify(c *mfaCall) error {
	var rec totpRecord
	if err := c.vault.get(c.r.Context(), m.Name(), c.user, &rec); err != nil {
		return err
	}
	return totpCheck(c, rec.Secret, c.r.PostForm.Get("code"))
}

// totpCheck proves code for secret now, and spends its time step.
func totpCheck(c *mfaCall, secret, code string) error {
	step, err := totpMatch(secret, strings.TrimSpace(code), c.now())
	if err != nil {
		return err
	}
	// Claimed until the step can no longer match.
	until := time.Unix((step+totpSkew+1)*int64(totpPeriod/time.Second), 0)
	first, err := c.vault.claim(c.r.Context(), fmt.Sprintf("otp:%d", step), c.user, until)
	if err != nil {
		return err
	}
	if !first {
		return errFactorReplayed
	}
	return nil
}

// totpMatch is the time step code matches within the skew, or why not.
func totpMatch(secret, code string, now time.Time) (int64, error) {
	if len(code) != totpOpts.Digits.Length() {
		return 0, errFactorWrong
	}
	cur := now.Unix() / int64(totpPeriod/time.Second)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		ok, err := hotp.ValidateCustom(code, uint64(cur+d), secret, totpOpts)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", errFactorWrong, err)
		}
		if ok {
			return cur + d, nil
		}
	}
	for d := int64(totpSkew + 1); d <= totpLate; d++ {
		if ok, _ := hotp.ValidateCustom(code, uint64(cur-d), secret, totpOpts); ok {
			return 0, errFactorExpired
		}
	}
	return 0, errFactorWrong
}

// Enrol shows a new secret as a QR code and as text. The secret travels in
// the form sealed to this session: nothing is stored until a first code
// confirms that the app has it.
func (m totpMethod) Enrol(c *mfaCall) {
	var raw []byte // nil: a new random secret
	if s, ok := c.openSecret(c.r.PostForm.Get("secret")); ok {
		raw, _ = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s) // shown before (a wrong first code)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: c.snap.Config.MFA.Issuer, AccountName: accountName(c),
		Period: uint(totpPeriod / time.Second), Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm,
		SecretSize: 20, Secret: raw})
	if err != nil {
		c.b.fail(c.w, c.r, c.snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	qr, err := qrDataURL(key)
	if err != nil {
		c.b.fail(c.w, c.r, c.snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	sealed, err := c.snap.sealer.sealValue(c.secretName(), key.Secret())
	if err != nil {
		c.b.fail(c.w, c.r, c.snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	d := codePage(c, "totp.enrol.title", "", "totp.code", "totp.enrol.submit", true)
	d.QR, d.Secret, d.Sealed, d.Username = qr, groups(key.Secret()), sealed, accountName(c)
	c.render(http.StatusOK, "totpenrol", d)
}

func (m totpMethod) Confirm(c *mfaCall) error {
	secret, ok := c.openSecret(c.r.PostForm.Get("secret"))
	if !ok {
		return errFactorWrong
	}
	if err := totpCheck(c, secret, c.r.PostForm.Get("code")); err != nil {
		return err
	}
	return c.vault.put(c.r.Context(), m.Name(), c.user, totpRecord{Secret: secret, Created: c.now()})
}

// secretName binds a sealed enrolment secret to this session.
func (c *mfaCall) secretName() string { return "totp-enrol:" + c.s.ID }

func (c *mfaCall) openSecret(sealed string) (string, bool) {
	var s string
	if sealed == "" || c.snap.sealer.openValue(c.secretName(), sealed, &s) != nil {
		return "", false
	}
	return s, s != ""
}

func accountName(c *mfaCall) string {
	if c.user.Username != "" {
		return c.user.Username
	}
	return c.user.Subject
}

// qrDataURL draws the otpauth URL as a PNG, here: the secret never leaves
// for a QR service.
func qrDataURL(key *otp.Key) (template.URL, error) {
	img, err := key.Image(240, 240)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// groups writes a key in groups of four for typing.
func groups(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (m totpMethod) Describe(ctx context.Context, v vault, u factorUser) ([]string, error) {
	var rec totpRecord
	if err := v.get(ctx, m.Name(), u, &rec); err != nil {
		return nil, err
	}
	return []string{"enrolled " + rec.Created.UTC().Format(time.RFC3339)}, nil
}
