// fedgate's own second factor, TOTP: enrolled in headless Chromium from the
// QR page (the key read off the page, codes computed by otplib, an
// independent implementation), then used to sign in; the same code twice is
// refused. And the chain: the ADFS-shaped oidc-provider signs alice in
// without MFA, fedgate steps up with its own TOTP, and openid-client gets
// amr [.., otp, mfa] and the MFA acr.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authenticator } from 'otplib';
import { launchBrowser } from './helpers.mjs';
import { Client, RP, SECRET, authorize, browse, discover, oidc, startOPFedgate } from '../peers/op-fedgate.mjs';

// code is the authenticator app's code for secret, steps (of 30 s) from now.
const code = (secret, steps = 0) => authenticator.clone({ epoch: Date.now() + steps * 30_000 }).generate(secret);

// signIn opens the secure app in a fresh browser context and signs alice in.
async function signIn(browser, fg) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${fg.base}/apps/secure/`);
  await page.fill('#username', 'alice');
  await page.fill('#password', 'alice-demo-pw');
  await page.click('button[type=submit]');
  return page;
}

// chooseOTP picks the authenticator app on the factor chooser, by keyboard.
async function chooseOTP(page) {
  await page.waitForURL(/\/mfa\?l=|\/mfa\/otp\?l=/);
  if (!page.url().includes('/mfa/otp')) {
    const link = page.getByRole('link', { name: 'Authenticator app code' });
    await link.focus();
    await page.keyboard.press('Enter');
  }
  await page.waitForSelector('#code');
}

describe('fedgate TOTP', () => {
  it('Chromium: enrol from the QR page, sign in with a computed code, the same code twice is refused', async (t) => {
    const fg = await startOPFedgate(t, { mfa: true });
    const browser = await launchBrowser(t);
    const violations = [];

    // 1. Enrolment: the QR code is an inline PNG, the key is on the page.
    const page = await signIn(browser, fg);
    page.on('console', (m) => { if (/Content.Security.Policy|Refused/i.test(m.text())) violations.push(m.text()); });
    await page.waitForURL(/\/mfa\/enrol\/otp\?l=/);
    const qr = await page.getAttribute('#totp-qr', 'src');
    assert.match(qr, /^data:image\/png;base64,/);
    const loaded = await page.$eval('#totp-qr', (img) => img.complete && img.naturalWidth > 0);
    assert.ok(loaded, 'the QR image renders under the CSP');
    const secret = (await page.textContent('#totp-secret')).replaceAll(' ', '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await page.fill('#code', code(secret));
    await page.keyboard.press('Enter');
    await page.waitForSelector('#recovery-codes');
    assert.equal(await page.locator('#recovery-codes li').count(), 10);
    await page.click('text=I have saved them');
    await page.waitForURL(`${fg.base}/apps/secure/`);
    assert.match(await page.textContent('body'), /one-time code/);
    await fg.audit({ event: 'mfa', outcome: 'success', rule: 'otp', user: 'alice' });

    // 2. A new browser: sign in, then a code of the next step.
    const next = code(secret, 1);
    const second = await signIn(browser, fg);
    await chooseOTP(second);
    await second.fill('#code', next);
    await second.keyboard.press('Enter');
    await second.waitForURL(`${fg.base}/apps/secure/`);
    assert.match(await second.textContent('body'), /multi-factor/);

    // 3. The same code once more: refused, with a page that says why.
    const third = await signIn(browser, fg);
    await chooseOTP(third);
    await third.fill('#code', next);
    const [answer] = await Promise.all([third.waitForResponse((r) => r.request().method() === 'POST'), third.keyboard.press('Enter')]);
    assert.equal(answer.status(), 401);
    assert.match(await third.textContent('[role=alert]'), /already used/);
    assert.equal(await third.getAttribute('#code', 'aria-invalid'), 'true');
    await fg.audit({ event: 'mfa', outcome: 'failure', reason: 'mfa-replayed', user: 'alice' });
    assert.deepEqual(violations, []);
  });

  it('chain: ADFS-like sign-in without MFA, fedgate TOTP, openid-client gets amr otp + mfa', async (t) => {
    const fg = await startOPFedgate(t, { upstream: 'adfs', mfa: true });
    const config = await discover(fg, 'portal', SECRET);
    const { url, checks } = await authorize(config, { login_hint: 'alice@corp.example' });
    const c = new Client();
    const { callback: early, response: enrol } = await browse(c, url, 'alice@corp.example');
    assert.equal(early, undefined, 'no code before the second factor');
    assert.match(enrol.url.pathname, /^\/mfa\/enrol\/otp$/, `${enrol.status} ${enrol.url}`);
    const unescape = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replaceAll('&amp;', '&');
    const field = (name) => unescape(enrol.text.match(new RegExp(`name="${name}" value="([^"]+)"`))[1]);
    const secret = enrol.text.match(/id="totp-secret">([A-Z2-7 ]+)</)[1].replaceAll(' ', '');
    const action = unescape(enrol.text.match(/<form method="post" action="([^"]+)"/)[1]);
    const codes = await c.follow(new URL(action, enrol.url).href,
      { method: 'POST', form: { csrf: field('csrf'), secret: field('secret'), code: code(secret) } });
    assert.equal(codes.status, 200, codes.text.slice(0, 500));
    const cont = unescape(codes.text.match(/href="(\/mfa\/continue[^"]+)"/)[1]);
    const done = await c.follow(new URL(cont, codes.url).href, { stop: (u) => u.origin === RP });
    assert.ok(done.stopped, `no answer for the RP: ${done.status} ${done.text.slice(0, 300)}`);
    const tokens = await oidc.authorizationCodeGrant(config, done.stopped, checks);
    const claims = tokens.claims();
    assert.ok(claims.amr.includes('otp') && claims.amr.includes('mfa'), `amr ${claims.amr}`);
    assert.equal(claims.acr, 'http://schemas.openid.net/pape/policies/2007/06/multi-factor');
    // A refresh is decided again (docs/access.md) and keeps what the factor proved.
    const refreshed = (await oidc.refreshTokenGrant(config, tokens.refresh_token)).claims();
    assert.ok(refreshed.amr.includes('otp'), `amr after refresh ${refreshed.amr}`);
    await fg.audit({ event: 'signin', outcome: 'success', upstream: 'corp-adfs' });
    await fg.audit({ event: 'mfa', outcome: 'success', rule: 'otp', upstream: 'corp-adfs' });
  });
});
