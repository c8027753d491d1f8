// fedgate's WebAuthn ceremonies: ask the server for options, let the
// browser talk to the authenticator, send the answer back. No framework:
// base64url <-> ArrayBuffer is all the glue there is.
(function () {
  'use strict';
  var form = document.getElementById('webauthn');
  var statusEl = document.getElementById('webauthn-status');
  var errorEl = document.getElementById('webauthn-error');
  if (!form) { return; }

  function toBuf(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) { s += '='; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  function toB64(buf) {
    var bytes = new Uint8Array(buf), bin = '';
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function post(path, body) {
    return fetch(path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': form.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error((j.message || j.error) + (j.correlation_id ? ' (' + j.correlation_id + ')' : '')); }
        return j;
      });
    });
  }
  function fail(e) {
    statusEl.textContent = '';
    errorEl.hidden = false;
    errorEl.textContent = e && e.message ? e.message : String(e);
    form.querySelector('button').disabled = false;
  }

  function register(name) {
    return post('/mfa/keys/begin', { name: name }).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = toBuf(pk.challenge);
      pk.user.id = toBuf(pk.user.id);
      (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (c) {
      return post('/mfa/keys/finish', {
        id: c.id, rawId: toB64(c.rawId), type: c.type,
        authenticatorAttachment: c.authenticatorAttachment || undefined,
        response: {
          clientDataJSON: toB64(c.response.clientDataJSON),
          attestationObject: toB64(c.response.attestationObject),
          transports: c.response.getTransports ? c.response.getTransports() : []
        },
        clientExtensionResults: c.getClientExtensionResults()
      });
    });
  }

  function verify() {
    return post('/mfa/webauthn/begin', { l: form.dataset.pending }).then(function (o) {
      var pk = o.publicKey;
      pk.challenge = toBuf(pk.challenge);
      (pk.allowCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (c) {
      return post('/mfa/webauthn/finish', {
        id: c.id, rawId: toB64(c.rawId), type: c.type,
        authenticatorAttachment: c.authenticatorAttachment || undefined,
        response: {
          clientDataJSON: toB64(c.response.clientDataJSON),
          authenticatorData: toB64(c.response.authenticatorData),
          signature: toB64(c.response.signature),
          userHandle: c.response.userHandle ? toB64(c.response.userHandle) : undefined
        },
        clientExtensionResults: c.getClientExtensionResults()
      });
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    errorEl.hidden = true;
    form.querySelector('button').disabled = true;
    statusEl.textContent = form.dataset.wait || '…';
    var run = form.dataset.mode === 'register' ? register(form.elements.name.value) : verify();
    run.then(function (j) { window.location.assign(j.next); }, fail);
  });
}());
