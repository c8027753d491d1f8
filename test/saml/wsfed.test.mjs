// passport-wsfed-saml2 as a real WS-Federation relying party: it sends
// wsignin1.0 to fedgate's STS and validates the RSTR fedgate form-posts
// back, carrying a SAML 1.1 or a SAML 2.0 assertion (per relying party).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Client, autoPost, idpCert, startFedgate } from './helpers.mjs';
import { postBack, run } from './passport.mjs';

const require = createRequire(import.meta.url);
const { Strategy } = require('passport-wsfed-saml2');

const apps = `
  - id: intranet
    type: wsfed
    policy: staff-only
    wsfed:
      realm: "urn:intranet"
      reply_urls: ["https://intranet.example.test/signin-wsfed"]
      persistent_salt: "interop-test-salt-0123456789"
      claims:
        - { type: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", value: upn }
        - { type: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", value: email }
        - { type: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", value: groups }
  - id: portal
    type: wsfed
    policy: staff-only
    wsfed:
      realm: "https://portal.example.test/"
      reply_urls: ["https://portal.example.test/signin-wsfed"]
      token_type: saml2
      name_id_format: email
      claims:
        - { type: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", value: upn }
        - { type: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", value: name }
`;


function rp(fg, cert, realm) {
  return new Strategy({
    realm,
    identityProviderUrl: `${fg.base}/wsfed`,
    cert,
    checkExpiration: true,
    checkAudience: true,
  }, (profile, done) => done(null, profile));
}

async function signInThrough(fg, strategy, user) {
  const { redirect } = await run(strategy, { method: 'GET', query: {}, body: {} });
  assert.ok(redirect?.startsWith(`${fg.base}/wsfed?`), `redirect ${redirect}`);
  const c = new Client();
  const login = await c.follow(redirect);
  return autoPost(await c.signIn(login, user, `${user}-demo-pw`));
}

describe('WS-Fed STS with passport-wsfed-saml2 as the relying party', () => {
  it('SAML 1.1 token in the RSTR', async (t) => {
    const fg = await startFedgate(t, apps);
    const cert = await idpCert(`${fg.base}/FederationMetadata/2007-06/FederationMetadata.xml`);
    const strategy = rp(fg, cert, 'urn:intranet');
    const { action, fields, csp } = await signInThrough(fg, strategy, 'alice');
    assert.equal(action, 'https://intranet.example.test/signin-wsfed');
    assert.equal(fields.wa, 'wsignin1.0');
    assert.match(csp, /form-action https:\/\/intranet\.example\.test;/);
    assert.match(fields.wresult, /<t:TokenType>urn:oasis:names:tc:SAML:1.0:assertion<\/t:TokenType>/);

    const r = await run(strategy, postBack(action, fields));
    assert.ok(r.user, `rejected: ${r.error ?? JSON.stringify(r.fail)}`);
    const p = r.user;
    assert.equal(p.issuer, `${fg.base}/wsfed`);
    assert.match(p['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier'], /^[A-Za-z0-9_-]{43}$/);
    assert.equal(p['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'], 'alice');
    assert.equal(p['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'], 'alice@example.com');
    assert.deepEqual(p['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups'], ['staff', 'admins']);
    await fg.audit({ event: 'wsfed.signin', outcome: 'success', app: 'intranet' });

    // The token does not pass at another realm (audience check).
    const other = rp(fg, cert, 'urn:someone-else');
    const bad = await run(other, postBack(action, fields));
    assert.ok(!bad.user, 'token accepted for another audience');
  });

  it('SAML 2.0 token in the RSTR', async (t) => {
    const fg = await startFedgate(t, apps);
    const cert = await idpCert(`${fg.base}/FederationMetadata/2007-06/FederationMetadata.xml`);
    const strategy = rp(fg, cert, 'https://portal.example.test/');
    const { action, fields } = await signInThrough(fg, strategy, 'bob');
    assert.equal(action, 'https://portal.example.test/signin-wsfed');
    assert.match(fields.wresult, /SAMLV2\.0<\/t:TokenType>/);
    const r = await run(strategy, postBack(action, fields));
    assert.ok(r.user, `rejected: ${r.error ?? JSON.stringify(r.fail)}`);
    assert.equal(r.user['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier'], 'bob@example.com');
    assert.equal(r.user['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'], 'Bob Example');
  });

  it('an unregistered wreply gets an error page and no token', async (t) => {
    const fg = await startFedgate(t, apps);
    const c = new Client();
    const page = await c.follow(`${fg.base}/wsfed?wa=wsignin1.0&wtrealm=urn:intranet&wreply=${encodeURIComponent('https://evil.example/')}`);
    assert.equal(page.status, 400);
    assert.ok(!page.text.includes('wresult'));
    await fg.audit({ event: 'wsfed.signin', outcome: 'failure', reason: 'wreply-not-registered' });
  });
});
