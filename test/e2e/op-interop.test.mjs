// fedgate as an OpenID Provider, with the npm openid-client library as the
// relying party, unmodified: discovery and JWKS, code + PKCE, form_post,
// refresh with rotation, UserInfo, RP-initiated logout — signed in with the
// quickstart's local users.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BYE, Client, POST_SECRET, SECRET, authorize, browse, discover, oidc, startOPFedgate } from '../peers/op-fedgate.mjs';

describe('fedgate as OpenID Provider, openid-client as RP (local users)', () => {
  it('code + PKCE, UserInfo, refresh with rotation, RP-initiated logout', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'portal', SECRET, 'basic');
    assert.equal(config.serverMetadata().issuer, fg.base);
    assert.equal(config.serverMetadata().jwks_uri, `${fg.base}/.well-known/jwks.json`);
    const c = new Client();
    const { url, checks } = await authorize(config);
    const { callback } = await browse(c, url, 'alice');
    assert.ok(callback, 'no answer for the RP');
    assert.equal(callback.searchParams.get('iss'), fg.base);
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    const claims = tokens.claims();
    assert.equal(claims.sub, 'local:alice');
    assert.ok(claims.sid, 'ID token without sid');
    assert.equal(claims.aud, 'portal');
    assert.equal(claims.preferred_username, 'alice');
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(claims.groups, ['staff', 'admins']);
    assert.equal(claims.upn, 'alice');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, '0');
    assert.ok(Math.abs(claims.auth_time - Date.now() / 1000) < 60, `auth_time ${claims.auth_time}`);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, 'alice@example.com');
    assert.equal(info.name, 'Alice Example');

    // Rotation: a new refresh token each time; the old one is refused and
    // its reuse revokes the new one too.
    const r1 = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.notEqual(r1.refresh_token, tokens.refresh_token);
    assert.equal(r1.claims().sub, 'local:alice');
    const r2 = await oidc.refreshTokenGrant(config, r1.refresh_token);
    await assert.rejects(oidc.refreshTokenGrant(config, r1.refresh_token), (e) => e.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(config, r2.refresh_token), (e) => e.error === 'invalid_grant');
    await fg.audit({ event: 'oidc-refresh-reuse', outcome: 'failure', app: 'portal' });
    await fg.audit({ event: 'oidc-token', outcome: 'success', app: 'portal', user: 'alice' });

    // The session serves a second authorization without a sign-in page.
    const again = await authorize(config, { prompt: 'none' });
    const silent = await browse(c, again.url);
    assert.ok(silent.callback?.searchParams.get('code'), 'prompt=none with a session');
    const second = await oidc.authorizationCodeGrant(config, silent.callback, again.checks);
    assert.equal(second.claims().sid, claims.sid, 'one session, one sid');

    // RP-initiated logout with id_token_hint: back to the RP with state;
    // the session is gone, so prompt=none now says login_required.
    const out = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE, state: 'bye-1' });
    const lo = await c.follow(out.href, { stop: (u) => u.origin === new URL(BYE).origin });
    assert.equal(lo.stopped?.href, `${BYE}?state=bye-1`);
    const after = await authorize(config, { prompt: 'none' });
    const refused = await browse(c, after.url);
    assert.equal(refused.callback.searchParams.get('error'), 'login_required');
    assert.equal(refused.callback.searchParams.get('iss'), fg.base);
    await assert.rejects(oidc.authorizationCodeGrant(config, refused.callback, after.checks), (e) => e.error === 'login_required');
    // What was issued in the session ends with it: its refresh token too.
    await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token), (e) => e.error === 'invalid_grant');
    for (const l of fg.auditLines()) assert.ok(!l.includes(SECRET) && !l.includes(tokens.access_token), `secret in audit: ${l}`);
  });

  it('form_post, client_secret_post and a pairwise subject', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'forms', POST_SECRET, 'post');
    const c = new Client();
    const { url, checks } = await authorize(config, { response_mode: 'form_post' });
    const { callback, response } = await browse(c, url, 'bob');
    assert.ok(callback instanceof Request, `no form_post page: ${response.status}`);
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    const sub = tokens.claims().sub;
    assert.match(sub, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(sub, 'local:bob');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, sub);
    assert.equal(info.sub, sub);
    assert.equal(tokens.refresh_token, undefined);
  });

  it('a public client with PKCE', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'spa', undefined, 'none');
    const { url, checks } = await authorize(config);
    const { callback } = await browse(new Client(), url, 'alice');
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    assert.equal(tokens.claims().aud, 'spa');
  });
});

