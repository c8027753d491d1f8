// RP-initiated logout without an id_token_hint, in headless Chromium:
// fedgate asks the user to confirm, then sends them to the client's
// registered post_logout_redirect_uri (Chromium applies the page's CSP
// form-action to that redirect after the POST).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { launchBrowser } from './helpers.mjs';
import { BYE, RP, startOPFedgate } from '../peers/op-fedgate.mjs';

it('logout without a hint: confirmation page, then the registered post_logout_redirect_uri', async (t) => {
  const fg = await startOPFedgate(t);
  // The test RP's port (9) is one Chromium refuses to ask unless told.
  const browser = await launchBrowser(t, [`--explicitly-allowed-ports=${new URL(RP).port}`]);
  const context = await browser.newContext({ baseURL: fg.base, locale: 'en-US' });
  const page = await context.newPage();
  await page.goto('/login?app=portal');
  await page.fill('#username', 'alice');
  await page.fill('#password', 'alice-demo-pw');
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/apps/')), page.click('button[type=submit]')]);

  const out = new URL('/oauth2/logout', fg.base);
  out.search = new URLSearchParams({ client_id: 'portal', post_logout_redirect_uri: BYE, state: 'bye-2' }).toString();
  await page.goto(out.href);
  assert.equal(new URL(page.url()).pathname, '/logout', 'no confirmation page');
  // The RP is not running: that the browser asks for the page is enough
  // (a CSP block would stop it before any request).
  await Promise.all([page.waitForRequest(`${BYE}?state=bye-2`), page.getByRole('button', { name: 'Sign out' }).click()]);
  await fg.audit({ event: 'signout', outcome: 'success', user: 'alice' });
  // Signed out: fedgate's sign-out page no longer asks (a new tab: this
  // one is still failing to reach the RP).
  const check = await context.newPage();
  await check.goto('/logout');
  assert.equal(new URL(check.url()).pathname, '/signed-out');
});
