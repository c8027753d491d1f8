package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/broker/device"
	"github.com/fedgate/fedgate/config"
)

// Device certificates. A policy that names `device:` needs to know which
// device kinds the browser's certificate satisfies. Browsers are asked for a
// certificate only on the certificate host (server.cert_host, like ADFS's
// and Entra's certauth.… names): only that host's TLS handshake requests
// one, so nobody else ever sees a certificate picker. The check runs once
// per session, when a decision other than allow depends on it: the browser
// goes to the certificate host with a sealed ask, comes back to fedgate's
// host with a sealed result bound to its session and to an in-flight login
// cookie of this browser, and the session records the kinds that held.

const (
	devicePath     = "/device"
	deviceDonePath = "/device/done"
	deviceAskName  = "fedgate_device_ask"
	deviceDoneName = "fedgate_device_done"
	// deviceTTL bounds each leg of the trip to the certificate host.
	deviceTTL = 2 * time.Minute
)

// deviceTrip is what travels sealed to the certificate host (Devices
// empty) and back (Devices filled in).
type deviceTrip struct {
	Pending string    `json:"p"`
	Session string    `json:"s"`
	User    string    `json:"u"`
	Created time.Time `json:"c"`
	Devices []string  `json:"d,omitempty"`
	// ClientIP is the address of the browser that asked: the certificate
	// host and the way back answer only it, so a trip cannot be handed to
	// another machine (the one with the certificate) and its result
	// carried back.
	ClientIP string `json:"ip"`
}

// loadDevices compiles the config's device kinds.
func loadDevices(cfg *config.Config) ([]*device.Profile, error) {
	var out []*device.Profile
	for _, d := range cfg.Devices {
		p, err := device.Load(d)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// needsDeviceCheck: the app's policy names device kinds and this session
// has not been to the certificate host yet. Whatever the policy decided
// without the device: a rule that denies a device kind, or asks more of
// it, can come before a broader allow, so an allow proves nothing.
func needsDeviceCheck(snap *Snapshot, app *config.App, s *Session) bool {
	if !s.DeviceAt.IsZero() || len(snap.devices) == 0 {
		return false
	}
	p, ok := snap.Config.PolicySet.Policy(app.Policy)
	return ok && len(p.Devices()) > 0
}

// toCertHost sends the browser to the certificate host for session s;
// p (saved here as this browser's in-flight login) says where to go after.
func (b *Server) toCertHost(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, s *Session) {
	ask, err := snap.sealer.sealValue(deviceAskName, deviceTrip{Pending: p.ID, Session: s.ID, User: s.Identity.Username, Created: b.now(),
		ClientIP: clientIP(r, snap)})
	if err == nil {
		err = b.savePending(w, snap, p)
	}
	if err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	http.Redirect(w, r, certHostURL(snap)+devicePath+"?a="+url.QueryEscape(ask), http.StatusSeeOther)
}

// certHostURL is the certificate host's origin: fedgate's scheme and port.
func certHostURL(snap *Snapshot) string {
	pub, _ := url.Parse(snap.Config.Server.PublicURL)
	host := snap.Config.Server.CertHost
	if port := pub.Port(); port != "" {
		host = net.JoinHostPort(host, port)
	}
	return pub.Scheme + "://" + host
}

// isCertHost: r is addressed to the certificate host.
func isCertHost(snap *Snapshot, r *http.Request) bool {
	h := snap.Config.Server.CertHost
	if h == "" {
		return false
	}
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	return strings.EqualFold(host, h)
}

// certHost answers on the certificate host: it checks the certificate the
// browser presented against every device kind and goes back to fedgate's
// host with the kinds that held. Nothing else is served there.
func (b *Server) certHost(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	var t deviceTrip
	if r.TLS != nil && !strings.EqualFold(r.TLS.ServerName, snap.Config.Server.CertHost) {
		// An HTTP/2 connection opened for fedgate's own name, reused for
		// this one (the certificate covers both): its handshake asked for
		// no certificate. 421 makes the browser open one for this name.
		w.WriteHeader(http.StatusMisdirectedRequest)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != devicePath {
		b.fail(w, r, snap, http.StatusNotFound, "err.notfound", nil)
		return
	}
	if err := snap.sealer.openValue(deviceAskName, r.URL.Query().Get("a"), &t); err != nil || b.now().Sub(t.Created) > deviceTTL {
		b.auditDevice(r, snap, t.User, "failure", "bad-request")
		b.fail(w, r, snap, http.StatusBadRequest, "err.expired", err)
		return
	}
	if t.ClientIP != clientIP(r, snap) {
		b.auditDevice(r, snap, t.User, "failure", "other-client")
		b.fail(w, r, snap, http.StatusBadRequest, "err.expired", nil)
		return
	}
	chain, why := presentedChain(r, snap)
	now := b.now()
	var refused []string
	for _, p := range snap.devices {
		err := p.Check(chain, t.User, now)
		if err == nil {
			t.Devices = append(t.Devices, p.Name)
			continue
		}
		if why == "" {
			refused = append(refused, p.Name+":"+deviceReason(err))
		}
	}
	switch {
	case len(t.Devices) > 0:
		b.auditDevice(r, snap, t.User, "success", strings.Join(t.Devices, ","))
	case why != "":
		b.auditDevice(r, snap, t.User, "failure", why)
	default:
		b.auditDevice(r, snap, t.User, "failure", strings.Join(refused, ","))
	}
	t.Created = now
	done, err := snap.sealer.sealValue(deviceDoneName, t)
	if err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	http.Redirect(w, r, publicBase(snap)+deviceDonePath+"?d="+url.QueryEscape(done), http.StatusSeeOther)
}

// presentedChain is the certificate the browser presented: from this TLS
// connection, or forwarded by a trusted TLS terminator in
// server.client_cert_header. why names what was wrong ("" when fine or
// when there was simply none).
func presentedChain(r *http.Request, snap *Snapshot) (chain []*x509.Certificate, why string) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates, ""
	}
	h := snap.Config.Server.ClientCertHeader
	if h == "" || r.Header.Get(h) == "" {
		return nil, ""
	}
	if !snap.trust.FromProxy(r) {
		return nil, "untrusted-header" // anyone can write a header
	}
	chain, err := device.FromHeader(r.Header.Get(h))
	if err != nil {
		return nil, "bad-header"
	}
	return chain, ""
}

// deviceReason is the audit reason for a refused certificate.
func deviceReason(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{{device.ErrNoCertificate, "no-certificate"}, {device.ErrExpired, "expired"}, {device.ErrRevoked, "revoked"},
		{device.ErrNotUser, "not-user"}} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "untrusted"
}

// deviceDone takes the result home: the session that asked, in the browser
// that asked (its in-flight login cookie), records the device kinds.
func (b *Server) deviceDone(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	var t deviceTrip
	err := snap.sealer.openValue(deviceDoneName, r.URL.Query().Get("d"), &t)
	p, ok := b.loadPendingID(r, snap, t.Pending)
	s := b.loadSession(r, snap)
	if err != nil || !ok || s == nil || s.ID != t.Session || b.now().Sub(t.Created) > deviceTTL || t.ClientIP != clientIP(r, snap) {
		b.auditDevice(r, snap, t.User, "failure", "result-not-for-this-session")
		b.fail(w, r, snap, http.StatusBadRequest, "err.expired", err)
		return
	}
	s.changed()
	s.Devices, s.DeviceAt = slices.Clip(t.Devices), b.now()
	b.writeCookieSession(w, snap, s, sessionCookie) // kept even if what follows refuses
	if p.MFA != nil && p.Session == s.ID {
		b.certFactorDone(w, r, snap, s, p) // a step-up by certificate
		return
	}
	snap.sealer.clear(w, pendingPrefix+p.ID)
	if _, ok := validReturn(snap, p.Return); !ok {
		p.Return = "/"
	}
	b.redirectAfterLogin(w, r, snap, s, p)
}

func (b *Server) auditDevice(r *http.Request, snap *Snapshot, user, outcome, reason string) {
	b.Audit.Record(AuditEvent{Time: b.now(), Event: "device", Outcome: outcome, User: user, Reason: reason,
		ClientIP: clientIP(r, snap), UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())})
}

// TLSConfig makes base ask for a client certificate on the certificate
// host only. The certificate is checked by certHost against the device
// kinds, not by the TLS stack: a browser without one still reaches the page.
func (b *Server) TLSConfig(base *tls.Config) *tls.Config {
	c := base.Clone()
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		h := b.Current().Config.Server.CertHost
		if h == "" || !strings.EqualFold(hello.ServerName, h) {
			return nil, nil
		}
		cc := base.Clone()
		cc.ClientAuth = tls.RequestClientCert
		return cc, nil
	}
	return c
}
