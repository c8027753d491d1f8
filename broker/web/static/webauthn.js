// fedgate's WebAuthn page: the server put the ceremony's options in the
// form; the browser talks to the authenticator; its answer goes back in
// the form's "credential" field. base64url <-> ArrayBuffer is all the glue.
(function () {
  'use strict';
  var form = document.getElementById('webauthn');
  var errorEl = document.getElementById('form-error');
  if (!form || !window.PublicKeyCredential) { return; }

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
  function ids(list) { (list || []).forEach(function (c) { c.id = toBuf(c.id); }); }

  function ceremony() {
    var pk = JSON.parse(form.dataset.options).publicKey;
    pk.challenge = toBuf(pk.challenge);
    if (form.dataset.mode === 'register') {
      pk.user.id = toBuf(pk.user.id);
      ids(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk }).then(function (c) {
        return {
          id: c.id, rawId: toB64(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
          authenticatorAttachment: c.authenticatorAttachment || undefined,
          response: {
            clientDataJSON: toB64(c.response.clientDataJSON),
            attestationObject: toB64(c.response.attestationObject),
            transports: c.response.getTransports ? c.response.getTransports() : []
          }
        };
      });
    }
    ids(pk.allowCredentials);
    return navigator.credentials.get({ publicKey: pk }).then(function (c) {
      return {
        id: c.id, rawId: toB64(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
        authenticatorAttachment: c.authenticatorAttachment || undefined,
        response: {
          clientDataJSON: toB64(c.response.clientDataJSON),
          authenticatorData: toB64(c.response.authenticatorData),
          signature: toB64(c.response.signature),
          userHandle: c.response.userHandle ? toB64(c.response.userHandle) : undefined
        }
      };
    });
  }

  form.addEventListener('submit', function (ev) {
    if (form.elements.credential.value) { return; } // the answer, on its way
    ev.preventDefault();
    if (form.elements.name && !form.elements.name.value.trim()) { form.elements.name.focus(); return; }
    form.querySelector('button').disabled = true;
    ceremony().then(function (answer) {
      form.elements.credential.value = JSON.stringify(answer);
      form.submit();
    }, function (e) {
      // Cancelled, timed out, or no matching key: say so, let them retry.
      errorEl.hidden = false;
      errorEl.textContent = e && e.message ? e.message : String(e);
      form.querySelector('button').disabled = false;
    });
  });
}());
