// A SAML app whose policy needs MFA: fedgate steps up with its own TOTP
// (codes computed here with node:crypto, RFC 6238), and node-saml receives
// the MFA AuthnContextClassRef — REFEDS MFA by default, Microsoft's
// multipleauthn for an app that says so (what Entra honours).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { SAML } from '@node-saml/node-saml';
import { Client, autoPost, idpCert, startFedgate } from './helpers.mjs';
import { adfsUpstream, browse, startADFS } from '../peers/op-fedgate.mjs';

const app = (id, extra = '') => `
  - id: ${id}
    type: saml
    policy: mfa-staff
    saml:
      entity_id: "https://${id}.example.test/saml/metadata"
      acs_urls: [{ url: "https://${id}.example.test/saml/acs" }]
      persistent_salt: "interop-test-salt-0123456789"
      ${extra}
`;

const more = {
  config: 'mfa: { enrol: { allow: true } }\n',
  files: { 'policies/mfa-staff.yaml': 'policy: mfa-staff\nrules:\n  - { name: staff with otp, when: { groups: [staff] }, allow: { mfa: { methods: [otp] } } }\n' },
};

// totp is RFC 6238 with SHA-1, 6 digits, 30 s steps.
function totp(base32, at = Date.now()) {
  let bits = '';
  for (const ch of base32) bits += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const o = mac[19] & 0xf;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const unescape = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replaceAll('&amp;', '&');

async function sp(fg, id) {
  return new SAML({
    entryPoint: `${fg.base}/saml/sso`, issuer: `https://${id}.example.test/saml/metadata`,
    callbackUrl: `https://${id}.example.test/saml/acs`, audience: `https://${id}.example.test/saml/metadata`,
    idpCert: await idpCert(`${fg.base}/saml/metadata`), wantAssertionsSigned: true, wantAuthnResponseSigned: false,
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  });
}

// enrolForREFEDSMFA enrols the authenticator offered on the enrol page,
// confirms it with a computed code, continues to the SP and checks that
// node-saml validates a Response with the REFEDS MFA class.
async function enrolForREFEDSMFA(c, enrol, crm) {
  const field = (name) => unescape(enrol.text.match(new RegExp(`name="${name}" value="([^"]+)"`))[1]);
  const secret = enrol.text.match(/id="totp-secret">([A-Z2-7 ]+)</)[1].replaceAll(' ', '');
  const codes = await c.follow(enrol.url.href, { method: 'POST', form: { csrf: field('csrf'), secret: field('secret'), code: totp(secret) } });
  const cont = unescape(codes.text.match(/href="(\/mfa\/continue[^"]+)"/)[1]);
  const { fields } = autoPost(await c.follow(new URL(cont, codes.url).href));
  const { profile } = await crm.validatePostResponseAsync(fields);
  assert.ok(profile.nameID);
  const xml = Buffer.from(fields.SAMLResponse, 'base64').toString('utf8');
  assert.match(xml, /AuthnContextClassRef>https:\/\/refeds\.org\/profile\/mfa</);
}

describe('SAML IdP with fedgate TOTP step-up', () => {
  it('node-saml receives the MFA AuthnContextClassRef after enrolment, and Microsoft multipleauthn at an app that asks for it', async (t) => {
    const fg = await startFedgate(t, app('crm') + app('o365', 'mfa_class: "http://schemas.microsoft.com/claims/multipleauthn"'), more);
    const crm = await sp(fg, 'crm');
    const c = new Client();
    const enrol = await c.signIn(await c.follow(await crm.getAuthorizeUrlAsync('', undefined, {})), 'alice', 'alice-demo-pw');
    assert.equal(enrol.url.pathname, '/mfa/enrol/otp', `${enrol.status}\n${enrol.text.slice(0, 300)}`);
    await enrolForREFEDSMFA(c, enrol, crm);

    // The same session at an app that wants Microsoft's class.
    const o365 = await sp(fg, 'o365');
    const second = autoPost(await c.follow(await o365.getAuthorizeUrlAsync('', undefined, {})));
    await o365.validatePostResponseAsync(second.fields);
    const xml2 = Buffer.from(second.fields.SAMLResponse, 'base64').toString('utf8');
    assert.match(xml2, /AuthnContextClassRef>http:\/\/schemas\.microsoft\.com\/claims\/multipleauthn</);
    await fg.audit({ event: 'mfa', outcome: 'success', rule: 'otp', user: 'alice' });
  });

  it('chain: ADFS-like sign-in without MFA, fedgate TOTP, node-saml receives the MFA AuthnContextClassRef', async (t) => {
    const fg = await startFedgate(t, app('crm').replace('    policy: mfa-staff\n', '    policy: mfa-staff\n    upstreams: [corp-adfs]\n'), {
      ...more,
      upstreams: async (port) => adfsUpstream(await startADFS(t, `http://127.0.0.1:${port}`)),
      // The ADFS peer names the group Staff.
      files: { 'policies/mfa-staff.yaml': more.files['policies/mfa-staff.yaml'].replace('groups: [staff]', 'groups: [staff, Staff]') },
    });
    const crm = await sp(fg, 'crm');
    const c = new Client();
    const { callback, response: enrol } = await browse(c, new URL(await crm.getAuthorizeUrlAsync('', undefined, {})), 'alice@corp.example');
    assert.equal(callback, undefined, 'no Response before the second factor');
    assert.equal(enrol.url.pathname, '/mfa/enrol/otp', `${enrol.status} ${enrol.url}\n${enrol.text.slice(0, 300)}`);
    await fg.audit({ event: 'signin', outcome: 'success', upstream: 'corp-adfs' });
    await enrolForREFEDSMFA(c, enrol, crm);
    await fg.audit({ event: 'mfa', outcome: 'success', rule: 'otp', upstream: 'corp-adfs' });
  });

  it('without the second factor there is no Response: a wrong code gets a page and an audit event', async (t) => {
    const fg = await startFedgate(t, app('crm'), more);
    const crm = await sp(fg, 'crm');
    const c = new Client();
    const enrol = await c.signIn(await c.follow(await crm.getAuthorizeUrlAsync('', undefined, {})), 'alice', 'alice-demo-pw');
    const field = (name) => unescape(enrol.text.match(new RegExp(`name="${name}" value="([^"]+)"`))[1]);
    const wrong = await c.follow(enrol.url.href, { method: 'POST', form: { csrf: field('csrf'), secret: field('secret'), code: '000000' } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /That code is not valid/);
    assert.doesNotMatch(wrong.text, /SAMLResponse/);
    await fg.audit({ event: 'mfa', outcome: 'failure', reason: 'mfa-wrong', user: 'alice' });
  });
});
