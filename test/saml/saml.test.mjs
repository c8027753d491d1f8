// @node-saml/node-saml as a real SAML SP in front of fedgate's IdP: it
// sends an AuthnRequest by HTTP-Redirect and validates the POSTed Response
// (signature, audience, InResponseTo, time conditions, NameID, attributes).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SAML, generateServiceProviderMetadata } from '@node-saml/node-saml';
import { Client, autoPost, idpCert, repoRoot, startFedgate } from './helpers.mjs';

const ACS = 'https://crm.example.test/saml/acs';
const ENTITY = 'https://crm.example.test/saml/metadata';

const apps = `
  - id: crm
    type: saml
    name: CRM
    policy: staff-only
    saml:
      entity_id: "${ENTITY}"
      acs_urls: [{ url: "${ACS}" }]
      sign_response: true
      persistent_salt: "interop-test-salt-0123456789"
      idp_initiated: true
      idp_initiated_relay_states: [/reports]
      attributes:
        - { name: email, value: email }
        - { name: groups, value: groups }
        - { name: "urn:oid:2.16.840.1.113730.3.1.241", value: name, friendly_name: displayName }
`;

// newSP is node-saml as the SP ENTITY of fedgate fg, trusting fg's
// metadata certificate; options override the defaults.
async function newSP(fg, options = {}) {
  return new SAML({
    entryPoint: `${fg.base}/saml/sso`,
    issuer: ENTITY,
    callbackUrl: ACS,
    audience: ENTITY,
    idpCert: await idpCert(`${fg.base}/saml/metadata`),
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    validateInResponseTo: 'always',
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    ...options,
  });
}

async function setup(t, options = {}) {
  const fg = await startFedgate(t, apps);
  return { fg, sp: await newSP(fg, options) };
}

// decodeResponse is the Response XML, for what node-saml does not check.
const decodeResponse = (fields) => Buffer.from(fields.SAMLResponse, 'base64').toString('utf8');

describe('SAML IdP with node-saml as the SP', () => {
  it('Redirect AuthnRequest → sign-in → POSTed Response node-saml accepts', async (t) => {
    const { fg, sp } = await setup(t);
    const c = new Client();
    const url = await sp.getAuthorizeUrlAsync('relay-42', undefined, {});
    assert.match(url, /\/saml\/sso\?SAMLRequest=/);
    const login = await c.follow(url);
    const page = await c.signIn(login, 'alice', 'alice-demo-pw');
    const { action, fields, csp } = autoPost(page);
    assert.equal(action, ACS);
    assert.equal(fields.RelayState, 'relay-42');
    assert.match(csp, /form-action https:\/\/crm\.example\.test;/, 'CSP allows posting to the ACS only');

    const { profile, loggedOut } = await sp.validatePostResponseAsync(fields);
    assert.equal(loggedOut, false);
    assert.equal(profile.issuer, `${fg.base}/saml/metadata`);
    assert.equal(profile.nameIDFormat, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    assert.match(profile.nameID, /^[A-Za-z0-9_-]{43}$/, 'opaque persistent NameID');
    assert.ok(!profile.nameID.includes('alice'));
    assert.equal(profile.email, 'alice@example.com');
    assert.deepEqual(profile.groups, ['staff', 'admins']);
    assert.equal(profile['urn:oid:2.16.840.1.113730.3.1.241'], 'Alice Example');

    const xml = decodeResponse(fields);
    assert.match(xml, new RegExp(`Destination="${ACS}"`), 'Destination');
    assert.match(xml, new RegExp(`Recipient="${ACS}"`), 'Recipient');
    assert.match(xml, /AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</);
    const audit = await fg.audit({ event: 'saml.response', outcome: 'success' });
    assert.equal(audit.app, 'crm');

    // Same user, second request: single sign-on, and the same NameID.
    const again = autoPost(await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {})));
    const second = await sp.validatePostResponseAsync(again.fields);
    assert.equal(second.profile.nameID, profile.nameID, 'persistent NameID is stable');

    // node-saml refuses the same Response twice (InResponseTo consumed).
    await assert.rejects(sp.validatePostResponseAsync(fields), /InResponseTo/);
  });

  it('single logout: node-saml\'s unsigned LogoutRequest ends the session it names; a forged one only asks', async (t) => {
    const fg = await startFedgate(t, apps);
    const sp = await newSP(fg, { logoutUrl: `${fg.base}/saml/slo` });
    const c = new Client();
    const signIn = async () => autoPost(await c.signIn(await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {})), 'alice', 'alice-demo-pw'));
    const { profile } = await sp.validatePostResponseAsync((await signIn()).fields);
    assert.ok(profile.sessionIndex, 'no SessionIndex in the assertion');
    // Another session's index (any page can make the browser send this):
    // the confirmation page, and the session lives on.
    const forged = await c.request(await sp.getLogoutUrlAsync({ ...profile, sessionIndex: 'not-this-session' }, '', {}));
    assert.equal(forged.status, 303);
    assert.equal(forged.location.pathname, '/logout');
    await fg.audit({ event: 'saml.slo', outcome: 'failure', reason: 'not-this-session' });
    autoPost(await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {})));
    // What fedgate issued to this SP in this session: signed out.
    const out = await c.follow(await sp.getLogoutUrlAsync(profile, '', {}));
    assert.equal(out.status, 200);
    assert.match(out.text, /signed out/);
    await fg.audit({ event: 'saml.logout', outcome: 'success', app: 'crm' });
    assert.match((await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {}))).text, /name="password"/, 'signed out: sign in again');
  });

  it('a replayed AuthnRequest gets an error page, an audit event and no token', async (t) => {
    const { fg, sp } = await setup(t);
    const c = new Client();
    const url = await sp.getAuthorizeUrlAsync('', undefined, {});
    autoPost(await c.signIn(await c.follow(url), 'bob', 'bob-demo-pw'));
    const replay = await c.follow(url);
    assert.equal(replay.status, 400);
    assert.ok(!replay.text.includes('SAMLResponse'));
    assert.match(replay.text, /already used/);
    await fg.audit({ event: 'saml.sso', outcome: 'failure', reason: 'request-already-answered' });
  });

  it('policy deny → RequestDenied, which node-saml reports', async (t) => {
    const { fg, sp } = await setup(t);
    const c = new Client();
    const page = await c.signIn(await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {})), 'carol', 'carol-demo-pw');
    const { fields } = autoPost(page);
    await assert.rejects(sp.validatePostResponseAsync(fields), /RequestDenied/);
    await fg.audit({ event: 'saml.response', outcome: 'failure', reason: 'RequestDenied' });
  });

  it('the app named in the path: /saml/sso/<app> and IdP-initiated /saml/init/<app>', async (t) => {
    const { fg, sp } = await setup(t);
    const c = new Client();
    // SP-initiated at the app's own endpoint (what Entra's passive URL is).
    const perApp = new SAML({ ...sp.options, entryPoint: `${fg.base}/saml/sso/crm` });
    const first = autoPost(await c.signIn(await c.follow(await perApp.getAuthorizeUrlAsync('', undefined, {})), 'alice', 'alice-demo-pw'));
    assert.equal((await perApp.validatePostResponseAsync(first.fields)).profile.email, 'alice@example.com');
    // IdP-initiated: an unsolicited Response (no InResponseTo), RelayState kept.
    const unsolicited = new SAML({ ...sp.options, validateInResponseTo: 'never' });
    const { action, fields } = autoPost(await c.follow(`${fg.base}/saml/init/crm?RelayState=%2Freports`));
    assert.equal(action, ACS);
    assert.equal(fields.RelayState, '/reports');
    assert.doesNotMatch(decodeResponse(fields), /InResponseTo=/);
    assert.equal((await unsolicited.validatePostResponseAsync(fields)).profile.email, 'alice@example.com');
  });

  it('IsPassive without a session → NoPassive; ForceAuthn asks for credentials again', async (t) => {
    const { sp } = await setup(t, { passive: true });
    const c = new Client();
    const { fields } = autoPost(await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {})));
    assert.match(decodeResponse(fields), /status:NoPassive"/);
    // node-saml's documented answer to NoPassive: no profile, no error.
    assert.deepEqual(await sp.validatePostResponseAsync(fields), { profile: null, loggedOut: false });

    const forced = new SAML({ ...sp.options, passive: false, forceAuthn: true });
    autoPost(await c.signIn(await c.follow(await forced.getAuthorizeUrlAsync('', undefined, {})), 'alice', 'alice-demo-pw'));
    const page = await c.follow(await forced.getAuthorizeUrlAsync('', undefined, {}));
    assert.match(page.text, /name="password"/, 'ForceAuthn shows the sign-in form despite the session');
  });
});

// Assertion encryption: the SP publishes an encryption key (in the
// metadata node-saml generates, or as encryption_certificate_file) and
// node-saml, given decryptionPvk, decrypts (xml-encryption) and checks the
// signature of the assertion inside.
describe('SAML IdP encrypting assertions for node-saml', () => {
  const spKey = readFileSync(path.join(repoRoot, 'protocols/saml/testdata/sp-key.pem'), 'utf8');
  const spCertFile = path.join(repoRoot, 'protocols/saml/testdata/sp-cert.pem');
  const spCert = readFileSync(spCertFile, 'utf8');

  async function signInEncrypted(t, saml) {
    const fg = await startFedgate(t, `
  - id: vault
    type: saml
    name: Vault
    policy: staff-only
    saml:
${saml}
      persistent_salt: "interop-test-salt-0123456789"
      attributes:
        - { name: email, value: email }
`);
    const sp = await newSP(fg, { decryptionPvk: spKey, wantAuthnResponseSigned: false });
    const c = new Client();
    const { fields } = autoPost(await c.signIn(await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {})), 'alice', 'alice-demo-pw'));
    const xml = decodeResponse(fields);
    assert.match(xml, /<saml:EncryptedAssertion>/);
    assert.doesNotMatch(xml, /<saml:Assertion[ >]/, 'no assertion in clear');
    assert.doesNotMatch(xml, /alice/, 'nothing about the user in clear');
    const { profile } = await sp.validatePostResponseAsync(fields);
    assert.equal(profile.email, 'alice@example.com');
    assert.match(profile.nameID, /^[A-Za-z0-9_-]{43}$/);
    return xml;
  }

  it('metadata with a use="encryption" key (node-saml\'s own) → AES-256-GCM, RSA-OAEP', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-sp-md-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const md = path.join(dir, 'sp.xml');
    await writeFile(md, generateServiceProviderMetadata({
      issuer: ENTITY, callbackUrl: ACS, decryptionPvk: spKey, decryptionCert: spCert,
      identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    }));
    const xml = await signInEncrypted(t, `      metadata_file: "${md}"`);
    assert.match(xml, /Algorithm="http:\/\/www\.w3\.org\/2009\/xmlenc11#aes256-gcm"/);
    assert.match(xml, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#rsa-oaep-mgf1p"/);
  });

  it('encryption_certificate_file with encryption_method: aes256-cbc', async (t) => {
    const xml = await signInEncrypted(t, `      entity_id: "${ENTITY}"
      acs_urls: [{ url: "${ACS}" }]
      encryption_certificate_file: "${spCertFile}"
      encryption_method: aes256-cbc
      sign_response: true`);
    assert.match(xml, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#aes256-cbc"/);
  });
});
