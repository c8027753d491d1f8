// fedgate as an OpenID Provider refusing what it must, as seen by the
// openid-client RP and by a browser: no redirect to unregistered places,
// single-use codes whose replay revokes the tokens they gave, PKCE, client
// authentication, prompt=none and policy denials sent to the RP.
// (An expired code needs the 60 s to pass: that one is a Go test with a
// fake clock, TestCodeExpires in protocols/oidc.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CB, Client, SECRET, authorize, browse, discover, oidc, startOPFedgate } from '../peers/op-fedgate.mjs';

const rejects = (p, error) => assert.rejects(p, (e) => {
  assert.equal(e.error, error, `${e.error}: ${e.error_description}`);
  return true;
});

describe('fedgate as OpenID Provider: refusals', () => {
  it('redirect_uri mismatch and unknown client: an error page, no redirect', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'portal', SECRET);
    const c = new Client();
    for (const mut of [
      (u) => u.searchParams.set('redirect_uri', `${CB}/other`),
      (u) => u.searchParams.set('redirect_uri', 'https://evil.example/cb'),
      (u) => u.searchParams.set('client_id', 'nobody'),
    ]) {
      const { url } = await authorize(config);
      mut(url);
      const r = await c.request(url.href);
      assert.equal(r.status, 400);
      assert.equal(r.location, null);
      assert.match(r.text, /sign-in request that fedgate cannot accept \(redirect_uri is not registered for this client|sign-in request that fedgate cannot accept \(unknown client_id/);
    }
    await fg.audit({ event: 'oidc-authorize', outcome: 'failure', reason: 'redirect_uri is not registered for this client' });
  });

  it('code reuse: the second use fails and the first refresh token is revoked', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'portal', SECRET);
    const { url, checks } = await authorize(config);
    const { callback } = await browse(new Client(), url, 'alice');
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    await rejects(oidc.authorizationCodeGrant(config, callback, checks), 'invalid_grant');
    await rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant');
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, tokens.claims().sub));
    await fg.audit({ event: 'oidc-code-reuse', outcome: 'failure', app: 'portal', user: 'alice' });
  });

  it('wrong PKCE verifier, plain PKCE, wrong client secret', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'portal', SECRET);
    const c = new Client();
    let { url, checks } = await authorize(config);
    let { callback } = await browse(c, url, 'alice');
    await rejects(oidc.authorizationCodeGrant(config, callback, { ...checks, pkceCodeVerifier: oidc.randomPKCECodeVerifier() }), 'invalid_grant');

    ({ url, checks } = await authorize(config, { code_challenge_method: 'plain', code_challenge: checks.pkceCodeVerifier }));
    ({ callback } = await browse(c, url));
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.equal(callback.searchParams.get('iss'), fg.base);
    assert.equal(callback.searchParams.get('state'), checks.expectedState);

    const wrong = await discover(fg, 'portal', 'not-the-secret-0123456789', 'basic');
    ({ url, checks } = await authorize(wrong));
    ({ callback } = await browse(c, url));
    // A 401 with a Basic challenge: openid-client reports the challenge.
    await assert.rejects(oidc.authorizationCodeGrant(wrong, callback, checks), (e) => {
      assert.equal(e.status, 401, String(e));
      assert.equal(e.cause?.[0]?.scheme, 'basic', String(e));
      return true;
    });
    await fg.audit({ event: 'oidc-client-auth', outcome: 'failure', app: 'portal', reason: 'wrong client secret' });
  });

  it('prompt=none without a session → login_required; policy deny → access_denied, both to the RP', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'portal', SECRET);
    let { url, checks } = await authorize(config, { prompt: 'none' });
    let { callback } = await browse(new Client(), url);
    assert.equal(callback.searchParams.get('error'), 'login_required');
    await rejects(oidc.authorizationCodeGrant(config, callback, checks), 'login_required');

    ({ url, checks } = await authorize(config));
    ({ callback } = await browse(new Client(), url, 'carol'));
    assert.ok(callback, 'carol was not sent back to the RP');
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('iss'), fg.base);
    await rejects(oidc.authorizationCodeGrant(config, callback, checks), 'access_denied');
    await fg.audit({ event: 'access', outcome: 'deny', app: 'portal', user: 'carol' });
  });
});
