// The full chain: openid-client → fedgate (OpenID Provider) → the ADFS-shaped
// oidc-provider peer (upstream) → fedgate → openid-client. And one flow in
// headless Chromium: the sign-in page, then form_post auto-submitted by the
// page's own script under fedgate's CSP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { launchBrowser } from './helpers.mjs';
import { CB, Client, RP, SECRET, authorize, browse, discover, oidc, startOPFedgate } from '../peers/op-fedgate.mjs';

describe('fedgate as OpenID Provider: full chain and browser', () => {
  it('openid-client → fedgate → oidc-provider (ADFS-like) → fedgate → openid-client', async (t) => {
    const fg = await startOPFedgate(t, { upstream: 'adfs' });
    const config = await discover(fg, 'portal', SECRET);
    const { url, checks } = await authorize(config, { login_hint: 'alice@corp.example' });
    const c = new Client();
    const { callback, response } = await browse(c, url, 'alice@corp.example');
    assert.ok(callback, `no answer for the RP: ${response.status} ${response.text.slice(0, 500)}`);
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    const claims = tokens.claims();
    assert.match(claims.sub, /^corp-adfs:/);
    assert.equal(claims.upn, 'alice@corp.example');
    assert.equal(claims.name, 'Alice Adfs');
    assert.ok(claims.groups.includes('Staff'), `groups ${claims.groups}`);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.sub, claims.sub);
    const r1 = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.equal(r1.claims().sub, claims.sub);
    await fg.audit({ event: 'signin', outcome: 'success', upstream: 'corp-adfs', app: 'portal' });
    await fg.audit({ event: 'oidc-token', outcome: 'success', app: 'portal', user: 'alice@corp.example' });
  });

  it('Chromium: sign in, then form_post under the CSP', async (t) => {
    const fg = await startOPFedgate(t);
    const config = await discover(fg, 'portal', SECRET);
    const { url, checks } = await authorize(config, { response_mode: 'form_post' });
    const browser = await launchBrowser(t);
    const page = await browser.newPage();
    const violations = [];
    page.on('console', (m) => { if (/Content.Security.Policy|Refused/i.test(m.text())) violations.push(m.text()); });
    let posted;
    await page.route(`${RP}/**`, async (route) => {
      const req = route.request();
      posted = { method: req.method(), url: req.url(), body: req.postData() };
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<p id="rp">RP got it</p>' });
    });
    await page.goto(url.href);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'alice-demo-pw');
    await Promise.all([page.waitForSelector('#rp'), page.click('button[type=submit]')]);
    assert.equal(posted?.method, 'POST');
    assert.equal(posted.url, CB);
    assert.deepEqual(violations, []);
    const callback = new Request(CB, { method: 'POST', body: posted.body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    assert.equal(tokens.claims().sub, 'local:alice');
  });
});
