// What a real OpenID Provider (or a browser in the middle) can make go wrong,
// and how fedgate answers: a clear page, the right status, an audit line.
// Crafted-token attacks (alg none, HS256 with the public key, wrong aud/iss,
// expired, replayed nonce) are in the Go tests of protocols/oidc.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, startAll, text } from '../peers/fedgate.mjs';

const atCallback = (u) => u.pathname.startsWith('/callback/');

describe('oidc upstream: refused sign-ins', () => {
  it('a state returned to another upstream (mix-up) is refused', async (t) => {
    const fg = await startAll(t);
    const c = new Client();
    const r = await c.signIn(fg.base, 'wiki', 'alice@corp.example', { stop: atCallback });
    const cb = new URL(r.stopped);
    cb.pathname = '/callback/corp-adfs-2';
    const res = await c.request(cb.href);
    assert.equal(res.status, 400);
    assert.match(text(res.text), /The request was not valid/);
    await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'corp-adfs-2', reason: 'state-upstream-mismatch' });
  });

  it('a callback without the login cookie is refused', async (t) => {
    const fg = await startAll(t);
    const r = await new Client().signIn(fg.base, 'wiki', 'alice@corp.example', { stop: atCallback });
    const res = await new Client().request(r.stopped.href);
    assert.equal(res.status, 400);
    assert.match(text(res.text), /started in another browser/);
    await fg.audit({ event: 'signin', outcome: 'failure', reason: 'no-login-state' });
  });

  it('Entra: a tenant outside allowed_tenants is refused', async (t) => {
    const fg = await startAll(t);
    const r = await new Client().signIn(fg.base, 'wiki', 'someone@partner.example');
    assert.equal(r.status, 400);
    assert.match(text(r.text), /could not be verified/);
    await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'entra-partners', reason: 'upstream-answer-rejected:tenant' });
    assert.match(fg.stderr(), /tenant 7c1a2b3d-[0-9a-f-]+ is not allowed/);
  });

  it('Entra: groups overage is refused by default, never "no groups"', async (t) => {
    const fg = await startAll(t);
    const r = await new Client().signIn(fg.base, 'wiki', 'olga@example.co.jp');
    assert.equal(r.status, 400);
    assert.match(text(r.text), /could not be verified/);
    await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'entra', reason: 'upstream-answer-rejected:groups' });
    assert.match(fg.stderr(), /groups overage/);
  });

  for (const [preset, email] of [['ADFS', 'bob@corp.example'], ['Entra', 'bob@example.co.jp']]) {
    it(`${preset}: step-up answered without MFA evidence is denied`, async (t) => {
      const fg = await startAll(t);
      const c = new Client();
      const first = await c.signIn(fg.base, 'wiki', email);
      assert.equal(first.status, 200, text(first.text));
      const r = await c.follow(`${fg.base}/apps/admin/`);
      assert.equal(r.status, 403);
      assert.match(text(r.text), /did not confirm it/);
      await fg.audit({ event: 'access', outcome: 'deny', app: 'admin', reason: 'mfa-not-proven' });
    });
  }

  it('the IdP unreachable at callback time gives 502 and an unavailable page', async (t) => {
    const fg = await startAll(t);
    const c = new Client();
    const r = await c.signIn(fg.base, 'wiki', 'alice@corp.example', { stop: atCallback });
    await fg.adfs.stop();
    const res = await c.request(r.stopped.href);
    assert.equal(res.status, 502);
    assert.match(text(res.text), /temporarily unavailable/);
    await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'corp-adfs', reason: 'upstream-unavailable' });
    // Nothing was half-written: the login is gone, a retry is refused cleanly.
    const again = await c.request(r.stopped.href);
    assert.equal(again.status, 400);
  });

  it('an IdP error answer (access_denied) is a 403 "refused" page', async (t) => {
    const fg = await startAll(t);
    const c = new Client();
    const r = await c.signIn(fg.base, 'wiki', 'alice@corp.example', { stop: atCallback });
    const cb = new URL(r.stopped);
    cb.searchParams.delete('code');
    cb.searchParams.set('error', 'access_denied');
    const res = await c.request(cb.href);
    assert.equal(res.status, 403);
    assert.match(text(res.text), /cancelled or refused/);
    await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'corp-adfs', reason: 'upstream-declined' });
  });
});
