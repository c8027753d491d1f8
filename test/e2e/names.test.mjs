// Name ownership with the real oidc-provider peers: corp-adfs lists
// corp.example, corp-adfs-2 lists other.example, and both point at the same
// ADFS-shaped IdP. A user the second upstream signs in as alice@corp.example
// would look exactly like corp-adfs's alice to every app: refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, startAll, text } from '../peers/fedgate.mjs';

describe('user names belong to the upstream that lists their domain', () => {
  it("an upstream cannot sign in a name in another upstream's domain", async (t) => {
    const fg = await startAll(t);
    // Discovery sends other.example to corp-adfs-2; its IdP answers with
    // its first account, upn alice@corp.example.
    const r = await new Client().signIn(fg.base, 'wiki', 'someone@other.example');
    assert.equal(r.status, 403, text(r.text));
    assert.match(text(r.text), /another sign-in method is responsible for/);
    await fg.audit({ event: 'signin', outcome: 'failure', upstream: 'corp-adfs-2', reason: 'foreign-domain' });
    assert.match(fg.stderr(), /username \\"alice@corp\.example\\" is in a domain of upstream \\"corp-adfs\\"/);
  });

  it('the owner signs the same user in', async (t) => {
    const fg = await startAll(t);
    const r = await new Client().signIn(fg.base, 'wiki', 'alice@corp.example');
    assert.equal(r.status, 200, text(r.text));
    assert.match(text(r.text), /alice@corp\.example/);
  });
});
