// One sign-in through the ADFS-shaped oidc-provider in headless Chromium:
// an app with one upstream goes straight to the IdP and back.
// (The chooser's email form is not used here: its CSP form-action does not
// yet list the IdP's origin, which Chromium enforces on the redirect after
// the POST; see docs/upstream-oidc.md.)
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { launchBrowser } from './helpers.mjs';
import { startAll } from '../peers/fedgate.mjs';

it('signs in through the ADFS-like OP in Chromium', async (t) => {
  const fg = await startAll(t);
  const browser = await launchBrowser(t);
  const page = await (await browser.newContext({ baseURL: fg.base, locale: 'en-US' })).newPage();
  await page.goto('/apps/adfs-wiki/');
  await page.waitForURL((u) => u.pathname === '/apps/adfs-wiki/', { timeout: 15_000 });
  assert.equal(await page.textContent('#who-name'), 'Alice Adfs');
  assert.equal(await page.textContent('#who-username'), 'alice@corp.example');
  assert.deepEqual(await page.locator('#who-groups li').allTextContents(), ['Staff', 'Domain Admins']);
  await fg.audit({ event: 'signin', outcome: 'success', upstream: 'corp-adfs', user: 'alice@corp.example' });
});
