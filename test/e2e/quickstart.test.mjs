// The quickstart as a user sees it: sign-in, errors, languages, policy,
// sign-out and keyboard use, in headless Chromium against a real fedgate.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { launchBrowser, outDir, startFedgate } from './helpers.mjs';

// A fresh fedgate, browser and context per test: no cookies or audit lines
// carry over from one test to the next.
async function setup(t) {
  const fg = await startFedgate(t);
  const browser = await launchBrowser(t);
  const newPage = async (locale = 'en-US') => (await browser.newContext({ baseURL: fg.baseURL, locale })).newPage();
  return { fg, page: await newPage(), newPage };
}

const hostOf = (page) => new URL(page.url()).host;

// The headers the echo backend received, as it lists them.
const header = (page, name) => page.textContent(`[data-header="${name}"]`);

const pathOf = (page) => new URL(page.url()).pathname;

// Opens the demo app (proxied on localhost), which sends a signed-out
// browser to fedgate's sign-in page (on 127.0.0.1).
async function openSignIn(page, fg) {
  await page.goto(fg.appURL + '/');
  assert.match(hostOf(page), /^127\.0\.0\.1:/);
  assert.equal(pathOf(page), '/login');
  assert.ok(new URL(page.url()).searchParams.get('l'), 'sign-in page keeps its pending login id');
}

async function signIn(page, fg, username, password) {
  await openSignIn(page, fg);
  await page.fill('#username', username);
  await page.fill('#password', password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login'),
    page.click('button[type=submit]'),
  ]);
  await page.waitForLoadState();
  return response;
}

describe('quickstart in the browser', () => {
  it('signs alice in and shows her identity', async (t) => {
    const { fg, page } = await setup(t);
    await signIn(page, fg, 'alice', 'alice-demo-pw');
    // Back on the app's own host, through the proxy: the backend got the
    // identity headers, and none of fedgate's cookies.
    assert.equal(page.url(), fg.appURL + '/');
    assert.equal(await header(page, 'X-Remote-Name'), 'Alice Example');
    assert.equal(await header(page, 'X-Remote-User'), 'alice');
    assert.equal(await header(page, 'X-Remote-Groups'), 'staff,admins');
    assert.equal(await page.locator('[data-header="Cookie"]').count(), 0);
    // fedgate's own page shows the session: name, groups and method.
    await page.goto(fg.baseURL + '/');
    assert.equal(await page.textContent('#who-name'), 'Alice Example');
    assert.deepEqual(await page.locator('#who-groups li').allTextContents(), ['staff', 'admins']);
    assert.match(await page.textContent('#who-method'), /password/);

    await fg.audit({ event: 'signin', outcome: 'success', user: 'alice' });
    await fg.audit({ event: 'access', outcome: 'allow', rule: 'staff' });
    for (const line of fg.auditLines()) assert.ok(!line.includes('alice-demo-pw'), `password in audit: ${line}`);
  });

  it('refuses a wrong password with a 401 and a visible message', async (t) => {
    const { fg, page } = await setup(t);
    const response = await signIn(page, fg, 'alice', 'wrong');
    assert.equal(response.status(), 401);
    assert.equal(pathOf(page), '/login');
    const alert = page.locator('[role=alert]');
    assert.ok(await alert.isVisible());
    assert.equal((await alert.textContent()).trim(), 'The user name or password is incorrect.');
    await fg.audit({ outcome: 'failure', reason: 'invalid-credentials' });
    // The form is shown again, but never with the password filled back in.
    const values = await page.$$eval('input', (els) => els.map((e) => e.value));
    assert.ok(!values.some((v) => v.includes('wrong')), `password echoed: ${values}`);
  });

  it('speaks Japanese and English, and remembers the switch', async (t) => {
    await mkdir(path.join(outDir, 'screenshots'), { recursive: true });
    const shot = async (page, name) => {
      const file = path.join(outDir, 'screenshots', name);
      await page.screenshot({ path: file, fullPage: true });
      const png = await readFile(file);
      assert.ok(png.length > 100, `${name} is empty`);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name} is not a PNG`);
    };
    const heading = (page) => page.textContent('h1');
    const submit = async (page) => (await page.textContent('button[type=submit]')).trim();

    const { fg, page: en, newPage } = await setup(t);
    await openSignIn(en, fg);
    assert.equal(await en.getAttribute('html', 'lang'), 'en');
    assert.equal(await heading(en), 'Sign in');
    assert.equal(await submit(en), 'Sign in');

    const ja = await newPage('ja-JP');
    await openSignIn(ja, fg);
    assert.equal(await ja.getAttribute('html', 'lang'), 'ja');
    assert.equal(await heading(ja), 'サインイン');
    assert.equal(await submit(ja), 'サインイン');
    await shot(ja, 'signin-ja.png');

    // The switch overrides Accept-Language, and keeps doing so.
    await Promise.all([ja.waitForURL(/lang=en/), ja.click('a[hreflang=en]')]);
    assert.equal(await ja.getAttribute('html', 'lang'), 'en');
    assert.equal(await heading(ja), 'Sign in');
    await shot(ja, 'signin-en.png');
    await openSignIn(ja, fg);
    assert.equal(await ja.getAttribute('html', 'lang'), 'en');
    assert.equal(await submit(ja), 'Sign in');
  });

  it('denies carol by policy with a 403 and a correlation id', async (t) => {
    const { fg, page } = await setup(t);
    // The policy is checked as part of sign-in, so the denial is the answer
    // to the form POST itself.
    const response = await signIn(page, fg, 'carol', 'carol-demo-pw');
    assert.equal(response.status(), 403);
    assert.equal((await page.textContent('[role=alert]')).trim(), 'The demo app is for staff only.');
    assert.notEqual((await page.textContent('#correlation-id')).trim(), '');
    await fg.audit({ event: 'access', outcome: 'deny', user: 'carol', policy: 'staff-only' });
  });

  it('signs bob out and asks for sign-in again', async (t) => {
    const { fg, page } = await setup(t);
    await signIn(page, fg, 'bob', 'bob-demo-pw');
    assert.equal(page.url(), fg.appURL + '/');
    // The app's sign-out link ends the app session, then fedgate asks to
    // confirm ending the single sign-on session.
    await Promise.all([page.waitForURL('**/logout'), page.click('#signout')]);
    await Promise.all([page.waitForURL('**/signed-out'), page.getByRole('button', { name: 'Sign out' }).click()]);
    assert.equal(await page.textContent('h1'), 'Signed out');
    await openSignIn(page, fg);
    assert.equal(await page.locator('[data-header]').count(), 0);
    await fg.audit({ event: 'signout', outcome: 'success', user: 'bob' });
  });

  it('works from the keyboard alone', async (t) => {
    const { fg, page } = await setup(t);
    await openSignIn(page, fg);
    // The username field has autofocus, which also sets where Tab starts.
    // Clicking the empty page background moves that point to the document
    // itself (blur() does not), so the next Tab starts from the top.
    await page.waitForFunction(() => document.activeElement?.id === 'username');
    const { height } = page.viewportSize();
    const [x, y] = [1, height - 1];
    assert.match(await page.evaluate(([x, y]) => document.elementFromPoint(x, y).tagName, [x, y]), /^(HTML|BODY)$/);
    await page.mouse.click(x, y);
    const focused = () => page.evaluate(() => {
      const e = document.activeElement;
      return e.id || (e.classList.contains('skip') ? 'skip' : e.getAttribute('hreflang') ? `lang:${e.getAttribute('hreflang')}` : e.tagName);
    });
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'skip');
    const passed = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      const now = await focused();
      if (now === 'username') break;
      passed.push(now);
    }
    assert.equal(await focused(), 'username', `Tab went through ${passed}`);
    assert.ok(passed.length > 0 && passed.every((p) => p.startsWith('lang:')), `between skip link and username: ${passed}`);

    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'password');
    await page.keyboard.type('alice-demo-pw');
    await Promise.all([page.waitForURL(fg.appURL + '/'), page.keyboard.press('Enter')]);
    assert.equal(await header(page, 'X-Remote-Name'), 'Alice Example');
  });
});
