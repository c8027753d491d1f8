// fedgate as a SAML service provider of an IdP written by others: samlify
// in its IdP role verifies our signed AuthnRequest (HTTP-Redirect) and
// answers with a signed Response (HTTP-POST) that fedgate must accept —
// into a proxied app, with step-up by RequestedAuthnContext verified from
// the answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import samlify from 'samlify'; // CommonJS: its getters are on the default export
// test/package.json's peer (node finds it in test/node_modules).
import * as oidc from 'openid-client';
import { startFedgate, freePort, Client } from './helpers.mjs';

// samlify insists on a schema validator; the document it would validate is
// ours (the AuthnRequest), checked by fedgate's own tests with xmllint.
samlify.setSchemaValidator({ validate: async () => 'not validated here' });

const { binding } = samlify.Constants.namespace;
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const REFEDS_MFA = 'https://refeds.org/profile/mfa';

async function tempDir(t) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-key-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// keyPair: an RSA key and self-signed certificate, PEM (PKCS#8 + cert).
async function keyPair(t, name) {
  const dir = await tempDir(t);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${name}`,
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
  assert.equal(r.status, 0, String(r.stderr));
  return { key: await readFile(path.join(dir, 'key.pem'), 'utf8'), cert: await readFile(path.join(dir, 'cert.pem'), 'utf8') };
}

// startIdP runs samlify as an IdP on loopback. GET /sso takes the
// Redirect-binding AuthnRequest and answers with what the browser would
// POST back (as JSON: this client runs no scripts). honourMFA: answer a
// RequestedAuthnContext with REFEDS MFA (else: password only); encrypt: the
// XML Encryption algorithm to encrypt the assertion with (RSA-OAEP key
// transport, to the key in our SP metadata), the Response signed around it.
async function startIdP(t, { honourMFA = true, encrypt = '' } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { key, cert } = await keyPair(t, 'samlify-idp');
  const idp = samlify.IdentityProvider({
    entityID: `${base}/idp`, privateKey: key, signingCert: cert, wantAuthnRequestsSigned: true, nameIDFormat: [PERSISTENT],
    singleSignOnService: [{ Binding: binding.redirect, Location: `${base}/sso` }],
    ...(encrypt && { isAssertionEncrypted: true, dataEncryptionAlgorithm: encrypt,
      keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p' }),
  });
  const state = { sp: null, requests: [] };
  const server = http.createServer(async (req, res) => {
    try {
      const u = new URL(req.url, base);
      // The signed octets: the query as sent, less the Signature.
      const octetString = u.search.slice(1).replace(/&Signature=[^&]*$/, '');
      const parsed = await idp.parseLoginRequest(state.sp, 'redirect', { query: Object.fromEntries(u.searchParams), octetString });
      const xml = parsed.samlContent;
      state.requests.push(xml);
      const mfa = honourMFA && xml.includes('RequestedAuthnContext') && xml.includes(REFEDS_MFA);
      const acs = parsed.extract.request.assertionConsumerServiceUrl;
      const { context, entityEndpoint } = await idp.createLoginResponse(state.sp, parsed, 'post', {}, (template) => {
        const now = new Date();
        const later = new Date(now.getTime() + 5 * 60_000).toISOString();
        const id = `_${randomUUID()}`;
        const filled = template
          .replace('{AuthnStatement}', `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${id}"><saml:AuthnContext><saml:AuthnContextClassRef>${mfa ? REFEDS_MFA : PASSWORD}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`)
          .replace('{AttributeStatement}', '<saml:AttributeStatement>' +
            '<saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3"><saml:AttributeValue>alice@partner.example</saml:AttributeValue></saml:Attribute>' +
            '<saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.6"><saml:AttributeValue>alice@partner.example</saml:AttributeValue></saml:Attribute>' +
            '<saml:Attribute Name="groups"><saml:AttributeValue>staff</saml:AttributeValue><saml:AttributeValue>partners</saml:AttributeValue></saml:Attribute>' +
            '</saml:AttributeStatement>');
        return {
          id,
          context: samlify.SamlLib.replaceTagsByValue(filled, {
            ID: id, AssertionID: `_${randomUUID()}`, Destination: acs, Audience: state.sp.entityMeta.getEntityID(), SubjectRecipient: acs,
            Issuer: `${base}/idp`, IssueInstant: now.toISOString(), StatusCode: samlify.Constants.StatusCode.Success,
            ConditionsNotBefore: now.toISOString(), ConditionsNotOnOrAfter: later, SubjectConfirmationDataNotOnOrAfter: later,
            NameIDFormat: PERSISTENT, NameID: 'partner-4711', InResponseTo: parsed.extract.request.id,
          }),
        };
      }, Boolean(encrypt));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ action: entityEndpoint, form: { SAMLResponse: context, RelayState: u.searchParams.get('RelayState') } }));
    } catch (e) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`samlify refused: ${e?.stack ?? e}`);
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { base, metadata: idp.getMetadata(), state };
}

// The OIDC client's redirect URI: a port nobody listens on; the test stops
// at the redirect and hands it to openid-client.
const RP = 'http://127.0.0.1:9';
const PORTAL_SECRET = 'portal-secret-0123456789abcdef';

const mfaPolicy = `policy: mfa
rules:
  - { name: staff with MFA, when: { groups: [staff] }, allow: { mfa: {} } }
`;

// fedgateFor starts fedgate with the samlify IdP as upstream "partner" and
// a proxied app on localhost:<port> under policy.
async function fedgateFor(t, idp, policy) {
  const sp = await keyPair(t, 'fedgate-sp');
  const fg = await startFedgate(t, (port) => `  - { id: wiki, type: proxy, host: "localhost:${port}", to: ["builtin:echo"], policy: ${policy}, upstreams: [partner],
      headers: { X-Remote-User: username, X-Remote-Email: email, X-Remote-Groups: groups } }
  - { id: portal, type: oidc, policy: ${policy}, upstreams: [partner],
      oidc: { client_id: portal, client_secret: "${PORTAL_SECRET}", redirect_uris: ["${RP}/cb"] } }
`, {
    upstreams: `  - { id: partner, type: saml, name: Partner IdP, metadata_file: idp.xml, entity_id: "${idp.base}/idp", keys: [ { file: sp.pem } ] }\n`,
    files: { 'idp.xml': idp.metadata, 'sp.pem': sp.key + sp.cert, 'policies/mfa.yaml': mfaPolicy },
  });
  // The IdP imports our SP metadata from its stable URL.
  const res = await fetch(`${fg.base}/upstream/partner/metadata`);
  assert.equal(res.status, 200);
  idp.state.sp = samlify.ServiceProvider({ metadata: await res.text() });
  return fg;
}

// signIn opens the app, goes to the IdP, and posts its answer back.
async function signIn(fg, c) {
  const toIdP = await c.follow(`http://localhost:${fg.port}/`);
  assert.equal(toIdP.status, 200, `IdP: ${toIdP.text}`);
  const { action, form } = JSON.parse(toIdP.text);
  assert.equal(action, `${fg.base}/callback/partner`);
  return c.follow(action, { method: 'POST', form });
}

test('samlify IdP: signed AuthnRequest out, signed Response in, into a proxied app', async (t) => {
  const idp = await startIdP(t);
  const fg = await fedgateFor(t, idp, 'staff-only');
  const c = new Client();
  const app = await signIn(fg, c);
  assert.equal(app.status, 200, app.text.slice(0, 500));
  assert.match(app.text, /data-header="X-Remote-Email">alice@partner\.example</);
  assert.match(app.text, /data-header="X-Remote-Groups">staff,partners</);
  assert.match(app.text, /data-header="X-Remote-User">alice@partner\.example/);
  await fg.audit({ event: 'signin', outcome: 'success', upstream: 'partner' });
  assert.equal(idp.state.requests.length, 1);
  assert.doesNotMatch(idp.state.requests[0], /RequestedAuthnContext/);
});

for (const alg of ['http://www.w3.org/2009/xmlenc11#aes256-gcm', 'http://www.w3.org/2001/04/xmlenc#aes256-cbc']) {
  test(`samlify IdP: an assertion encrypted by xml-encryption (${alg.split('#')[1]}) to our published key`, async (t) => {
    const idp = await startIdP(t, { encrypt: alg });
    const fg = await fedgateFor(t, idp, 'staff-only');
    const c = new Client();
    const toIdP = await c.follow(`http://localhost:${fg.port}/`);
    const { action, form } = JSON.parse(toIdP.text);
    const xml = Buffer.from(form.SAMLResponse, 'base64').toString();
    assert.match(xml, /EncryptedAssertion/);
    assert.doesNotMatch(xml, /alice@partner\.example/, 'the attributes travel in the clear');
    const app = await c.follow(action, { method: 'POST', form });
    assert.equal(app.status, 200, app.text.slice(0, 500));
    assert.match(app.text, /data-header="X-Remote-Email">alice@partner\.example</);
  });
}

test('samlify IdP: a captured Response posted again is refused with an audit reason and no session', async (t) => {
  const idp = await startIdP(t);
  const fg = await fedgateFor(t, idp, 'staff-only');
  const c = new Client();
  const toIdP = await c.follow(`http://localhost:${fg.port}/`);
  const { action, form } = JSON.parse(toIdP.text);
  const first = await c.follow(action, { method: 'POST', form });
  assert.equal(first.status, 200);
  // Another browser with the same posted answer has no login state; the
  // first browser's login is finished. Either way: refused.
  const other = new Client();
  const again = await other.follow(action, { method: 'POST', form });
  assert.equal(again.status, 400);
  await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'partner', reason: 'no-login-state' });
});

test('samlify IdP: step-up asks RequestedAuthnContext + ForceAuthn, and MFA is read from the answer', async (t) => {
  const idp = await startIdP(t);
  const fg = await fedgateFor(t, idp, 'mfa');
  const app = await signIn(fg, new Client());
  assert.equal(app.status, 200, app.text.slice(0, 500));
  assert.match(app.text, /data-header="X-Remote-User">alice@partner\.example/);
  const asked = idp.state.requests.at(-1);
  assert.match(asked, /<samlp:RequestedAuthnContext Comparison="exact"><saml:AuthnContextClassRef>https:\/\/refeds\.org\/profile\/mfa</);
  assert.match(asked, /ForceAuthn="true"/);
});

test('samlify IdP: an IdP that ignores the MFA request does not get the user in', async (t) => {
  const idp = await startIdP(t, { honourMFA: false });
  const fg = await fedgateFor(t, idp, 'mfa');
  const c = new Client();
  // fedgate may ask once more (a step-up after the first answer); then it
  // must give up rather than loop or let the user in.
  let page = await c.follow(`http://localhost:${fg.port}/`);
  for (let round = 0; page.url.origin === idp.base; round++) {
    assert.ok(round < 3, 'fedgate keeps sending the user back to the IdP');
    const { action, form } = JSON.parse(page.text);
    page = await c.follow(action, { method: 'POST', form });
  }
  assert.equal(page.status, 403, page.text.slice(0, 300));
  assert.doesNotMatch(page.text, /data-header="X-Remote-User"/);
  assert.ok(idp.state.requests.every((x) => /RequestedAuthnContext/.test(x)), 'every request asked for MFA');
});

test('samlify IdP: into an OIDC client (openid-client): code + PKCE, the SAML identity in the ID token', async (t) => {
  const idp = await startIdP(t);
  const fg = await fedgateFor(t, idp, 'staff-only');
  const config = await oidc.discovery(new URL(fg.base), 'portal', PORTAL_SECRET, oidc.ClientSecretBasic(PORTAL_SECRET),
    { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: `${RP}/cb`, scope: 'openid profile email groups', state: checks.expectedState, nonce: checks.expectedNonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const c = new Client();
  const toIdP = await c.follow(url.href);
  assert.equal(toIdP.url.origin, idp.base, `not at the IdP: ${toIdP.status} ${toIdP.text.slice(0, 300)}`);
  const { action, form } = JSON.parse(toIdP.text);
  let r = await c.request(action, { method: 'POST', form });
  for (let hops = 0; r.location && r.location.origin !== RP; hops++) {
    assert.ok(hops < 10, 'redirect loop');
    r = await c.request(r.location.href);
  }
  assert.equal(r.location?.origin, RP, `no answer for the client: ${r.status} ${r.text.slice(0, 300)}`);
  const tokens = await oidc.authorizationCodeGrant(config, r.location, checks);
  const claims = tokens.claims();
  assert.equal(claims.email, 'alice@partner.example');
  assert.deepEqual(claims.groups, ['staff', 'partners']);
  assert.deepEqual(claims.amr, ['pwd']);
});

// --- WS-Federation: an ADFS-shaped STS whose SAML 1.1 tokens xmlsec1 signs.

const xsTime = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const STS_ENTITY = 'http://adfs.corp.example/adfs/services/trust';
const CLAIMS = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims';

// startSTS answers GET /adfs/ls/?wa=wsignin1.0 with what the browser would
// POST to wreply (as JSON), the token signed by xmlsec1.
async function startSTS(t) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { key, cert } = await keyPair(t, 'adfs-sts');
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'key.pem'), key + cert);
  const der = cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const metadata = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${STS_ENTITY}">` +
    '<RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706">' +
    `<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>${der}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
    `<fed:PassiveRequestorEndpoint><EndpointReference xmlns="http://www.w3.org/2005/08/addressing"><Address>${base}/adfs/ls/</Address></EndpointReference></fed:PassiveRequestorEndpoint>` +
    '</RoleDescriptor></EntityDescriptor>';
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const q = new URL(req.url, base).searchParams;
    requests.push(q);
    const now = new Date();
    const id = `_${randomUUID()}`;
    const method = q.get('wauth') === 'http://schemas.microsoft.com/claims/multipleauthn'
      ? 'http://schemas.microsoft.com/claims/multipleauthn' : 'urn:oasis:names:tc:SAML:1.0:am:password';
    const subject = '<saml:Subject><saml:NameIdentifier>alice@corp.example</saml:NameIdentifier><saml:SubjectConfirmation>' +
      '<saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject>';
    const tmpl = `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="${id}" Issuer="${STS_ENTITY}" IssueInstant="${xsTime(now)}">` +
      `<saml:Conditions NotBefore="${xsTime(now)}" NotOnOrAfter="${xsTime(new Date(now.getTime() + 3600_000))}"><saml:AudienceRestrictionCondition><saml:Audience>${q.get('wtrealm')}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>` +
      `<saml:AttributeStatement>${subject}` +
      `<saml:Attribute AttributeName="upn" AttributeNamespace="${CLAIMS}"><saml:AttributeValue>alice@corp.example</saml:AttributeValue></saml:Attribute>` +
      `<saml:Attribute AttributeName="emailaddress" AttributeNamespace="${CLAIMS}"><saml:AttributeValue>alice@corp.example</saml:AttributeValue></saml:Attribute>` +
      '<saml:Attribute AttributeName="groups" AttributeNamespace="http://schemas.microsoft.com/ws/2008/06/identity/claims"><saml:AttributeValue>staff</saml:AttributeValue></saml:Attribute>' +
      `</saml:AttributeStatement><saml:AuthenticationStatement AuthenticationMethod="${method}" AuthenticationInstant="${xsTime(now)}">${subject}</saml:AuthenticationStatement>` +
      '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>' +
      '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>' +
      `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
      '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>' +
      '<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature></saml:Assertion>';
    await writeFile(path.join(dir, 'tmpl.xml'), tmpl);
    const r = spawnSync('xmlsec1', ['--sign', '--privkey-pem', `${path.join(dir, 'key.pem')},${path.join(dir, 'key.pem')}`,
      '--id-attr:AssertionID', 'urn:oasis:names:tc:SAML:1.0:assertion:Assertion', '--output', path.join(dir, 'signed.xml'), path.join(dir, 'tmpl.xml')]);
    if (r.status !== 0) {
      res.writeHead(500);
      res.end(`xmlsec1: ${r.stderr}`);
      return;
    }
    const token = (await readFile(path.join(dir, 'signed.xml'), 'utf8')).replace(/^<\?xml[^>]*\?>\s*/, '');
    const wresult = '<t:RequestSecurityTokenResponse xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust">' +
      `<t:RequestedSecurityToken>${token}</t:RequestedSecurityToken></t:RequestSecurityTokenResponse>`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ action: q.get('wreply'), form: { wa: 'wsignin1.0', wresult, wctx: q.get('wctx') } }));
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { base, metadata, requests };
}

async function fedgateForSTS(t, sts, policy) {
  return startFedgate(t, (port) => `  - { id: wiki, type: proxy, host: "localhost:${port}", to: ["builtin:echo"], policy: ${policy}, upstreams: [corp-adfs],
      headers: { X-Remote-User: username, X-Remote-Email: email, X-Remote-Groups: groups } }
  - { id: portal, type: oidc, policy: ${policy}, upstreams: [corp-adfs],
      oidc: { client_id: portal, client_secret: "${PORTAL_SECRET}", redirect_uris: ["${RP}/cb"] } }
`, {
    upstreams: `  - { id: corp-adfs, type: wsfed, name: Corp ADFS 2012 R2, metadata_file: sts.xml, entity_id: "${STS_ENTITY}", realm: "urn:fedgate:test" }\n`,
    files: { 'sts.xml': sts.metadata, 'policies/mfa.yaml': mfaPolicy },
  });
}

test('WS-Fed STS (xmlsec1-signed SAML 1.1): into a proxied app, and a captured wresult is refused', async (t) => {
  const sts = await startSTS(t);
  const fg = await fedgateForSTS(t, sts, 'staff-only');
  const c = new Client();
  const toSTS = await c.follow(`http://localhost:${fg.port}/`);
  assert.equal(toSTS.status, 200, toSTS.text.slice(0, 300));
  const { action, form } = JSON.parse(toSTS.text);
  assert.equal(action, `${fg.base}/callback/corp-adfs`);
  assert.equal(sts.requests[0].get('wtrealm'), 'urn:fedgate:test');
  const app = await c.follow(action, { method: 'POST', form });
  assert.equal(app.status, 200, app.text.slice(0, 500));
  assert.match(app.text, /data-header="X-Remote-Email">alice@corp\.example</);
  assert.match(app.text, /data-header="X-Remote-Groups">staff</);
  await fg.audit({ event: 'signin', outcome: 'success', upstream: 'corp-adfs' });
  const again = await new Client().follow(action, { method: 'POST', form });
  assert.equal(again.status, 400);
  await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'corp-adfs', reason: 'no-login-state' });
});

test('WS-Fed STS: into an OIDC client, and step-up with wauth=multipleauthn read from the token', async (t) => {
  const sts = await startSTS(t);
  const fg = await fedgateForSTS(t, sts, 'mfa');
  const config = await oidc.discovery(new URL(fg.base), 'portal', PORTAL_SECRET, oidc.ClientSecretBasic(PORTAL_SECRET),
    { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: `${RP}/cb`, scope: 'openid profile email groups', state: checks.expectedState, nonce: checks.expectedNonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const c = new Client();
  let r = await c.follow(url.href);
  for (let round = 0; r.url.origin === sts.base; round++) {
    assert.ok(round < 3, 'sent back to the STS again and again');
    const { action, form } = JSON.parse(r.text);
    r = await c.request(action, { method: 'POST', form });
    for (let hops = 0; r.location && r.location.origin !== RP && r.location.origin !== sts.base; hops++) {
      assert.ok(hops < 10, 'redirect loop');
      r = await c.request(r.location.href);
    }
    if (r.location?.origin === sts.base) r = await c.follow(r.location.href);
  }
  assert.equal(r.location?.origin, RP, `no answer for the client: ${r.status} ${r.text.slice(0, 300)}`);
  const asked = sts.requests.at(-1);
  assert.equal(asked.get('wauth'), 'http://schemas.microsoft.com/claims/multipleauthn');
  assert.equal(asked.get('wfresh'), '0');
  const claims = (await oidc.authorizationCodeGrant(config, r.location, checks)).claims();
  assert.equal(claims.email, 'alice@corp.example');
  assert.ok(claims.amr.includes('mfa'), `amr ${claims.amr}`);
});
