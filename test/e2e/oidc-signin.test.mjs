// Sign-in through real OpenID Providers (npm oidc-provider shaped like ADFS
// and like Entra ID): the full redirect round trip with a cookie jar, and
// step-up MFA asked of the upstream when the policy needs it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, startAll, text } from '../peers/fedgate.mjs';
import { TENANT } from '../peers/op.mjs';

describe('oidc upstream sign-in', () => {
  it('ADFS: upn, groups (CN of DNs), ISO auth_time, password only', async (t) => {
    const fg = await startAll(t);
    const c = new Client();
    const r = await c.signIn(fg.base, 'wiki', 'alice@corp.example');
    assert.equal(r.status, 200, text(r.text));
    assert.equal(r.url.pathname, '/apps/wiki/');
    const page = text(r.text);
    assert.match(page, /alice@corp\.example/);
    assert.match(page, /Alice Adfs/);
    assert.match(r.text, /<li>Staff<\/li><li>Domain Admins<\/li>/);
    assert.match(r.text, /id="who-method">[^<]*password/i, 'password method from ADFS amr');
    assert.doesNotMatch(r.text, /id="who-method">[^<]*(mfa|multi)/i);
    // auth_time came as an ISO string and became the sign-in time.
    const at = Date.parse(r.text.match(/<time datetime="([^"]+)"/)[1]);
    assert.ok(Math.abs(Date.now() - at) < 60_000, `auth time ${at}`);
    const ev = await fg.audit({ event: 'signin', outcome: 'success', upstream: 'corp-adfs' });
    assert.equal(ev.user, 'alice@corp.example');
    await fg.audit({ event: 'access', outcome: 'allow', app: 'wiki', rule: 'staff' });
    for (const l of fg.auditLines()) assert.ok(!l.includes('peer-client-secret'), `secret in audit: ${l}`);
  });

  it('Entra: tid:oid subject, preferred_username, groups', async (t) => {
    const fg = await startAll(t);
    const c = new Client();
    const r = await c.signIn(fg.base, 'wiki', 'alice@example.co.jp');
    assert.equal(r.status, 200, text(r.text));
    assert.match(text(r.text), /Alice Entra/);
    assert.match(r.text, /<li>g-staff<\/li><li>g-hr<\/li>/);
    const ev = await fg.audit({ event: 'signin', outcome: 'success', upstream: 'entra' });
    assert.equal(ev.user, 'alice@example.co.jp');
    // The identity is keyed on the tenant and object id.
    const who = await c.request(`${fg.base}/whoami`);
    if (who.status === 200 && who.text.includes(TENANT)) assert.match(who.text, new RegExp(`${TENANT}:a1a1a1a1`));
  });

  it('ADFS step-up: amr_values=ngcmfa, multipleauthn comes back, the console opens', async (t) => {
    const fg = await startAll(t);
    const c = new Client();
    await c.signIn(fg.base, 'wiki', 'alice@corp.example');
    let asked;
    const r = await c.follow(`${fg.base}/apps/admin/`, {
      stop: (u) => { if (u.pathname.endsWith('/auth')) asked = u.searchParams; return false; },
    });
    assert.equal(asked.get('amr_values'), 'ngcmfa');
    assert.equal(asked.get('prompt'), 'login');
    assert.equal(asked.get('login_hint'), 'alice@corp.example');
    assert.equal(r.status, 200, text(r.text));
    assert.equal(r.url.pathname, '/apps/admin/');
    assert.match(text(r.text), /mfa|multi-factor/i);
    await fg.audit({ event: 'access', outcome: 'step-up', app: 'admin' });
    await fg.audit({ event: 'access', outcome: 'allow', app: 'admin' });
  });

  it('Entra step-up: claims acrs c1 asked, acrs proves MFA, the console opens', async (t) => {
    const fg = await startAll(t);
    const c = new Client();
    await c.signIn(fg.base, 'wiki', 'alice@example.co.jp');
    let asked;
    const r = await c.follow(`${fg.base}/apps/admin/`, {
      stop: (u) => { if (u.pathname.endsWith('/auth')) asked = u.searchParams; return false; },
    });
    assert.deepEqual(JSON.parse(asked.get('claims')), { id_token: { acrs: { essential: true, value: 'c1' } } });
    assert.equal(asked.get('prompt'), 'login');
    assert.equal(r.status, 200, text(r.text));
    assert.equal(r.url.pathname, '/apps/admin/');
    await fg.audit({ event: 'access', outcome: 'allow', app: 'admin' });
  });
});
