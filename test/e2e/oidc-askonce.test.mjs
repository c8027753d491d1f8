// Ask once: an app whose every allow needs MFA gets it asked of the real
// OpenID Provider in the first redirect, and the user is in after a single
// round trip (no second trip to type the password again).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, startAll, text } from '../peers/fedgate.mjs';

describe('oidc upstream: MFA asked in the first redirect', () => {
  for (const [preset, email, check] of [
    ['ADFS', 'alice@corp.example', (q) => assert.equal(q.get('amr_values'), 'ngcmfa')],
    ['Entra', 'alice@example.co.jp',
      (q) => assert.deepEqual(JSON.parse(q.get('claims')), { id_token: { acrs: { essential: true, value: 'c1' } } })],
  ]) {
    it(`${preset}: one trip to the IdP, MFA asked and proven`, async (t) => {
      const fg = await startAll(t);
      const c = new Client();
      const asked = [];
      const r = await c.signIn(fg.base, 'vault', email, {
        stop: (u) => { if (u.pathname.endsWith('/auth')) asked.push(u.searchParams); return false; },
      });
      assert.equal(r.status, 200, text(r.text));
      assert.equal(r.url.pathname, '/apps/vault/');
      assert.equal(asked.length, 1, 'one authorization request');
      check(asked[0]);
      assert.equal(asked[0].get('prompt'), null, 'no max_age: no prompt=login');
      await fg.audit({ event: 'access', outcome: 'allow', app: 'vault' });
      assert.ok(!fg.auditLines().some((l) => l.includes('"step-up"')), 'no step-up');
    });
  }
});
