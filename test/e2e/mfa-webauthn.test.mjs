// FIDO2 security keys as fedgate's own second factor, in headless Chromium
// with its virtual authenticator (DevTools WebAuthn domain): bob registers
// a named key, a policy that wants hwk steps up with it; an assertion made
// for another RP ID and one whose sign counter went backwards are refused
// on the page and in the audit log.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { freePort, launchBrowser, repoRoot, runFedgate } from './helpers.mjs';

// WebAuthn needs a secure context and an RP ID that is a host name:
// http://localhost is both (127.0.0.1 is not a valid RP ID).
async function startKeysFedgate(t) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-webauthn-'));
  await cp(path.join(repoRoot, 'examples', 'quickstart', 'users.yaml'), path.join(dir, 'users.yaml'));
  await writeFile(path.join(dir, 'keys.yaml'), `policy: keys
rules:
  - name: staff with a security key
    when: { groups: [staff] }
    allow: { mfa: { methods: [hwk, swk] } }
`);
  const port = await freePort();
  await writeFile(path.join(dir, 'fedgate.yaml'), `server: { public_url: "http://localhost:${port}", listen: "127.0.0.1:${port}", insecure_http: true }
data_dir: data
store: { memory: true }
upstreams: [{ id: local, type: local, users_file: users.yaml }]
apps: [{ id: payroll, type: whoami, policy: keys }]
policies: [keys.yaml]
`);
  const fg = await runFedgate(t, dir, path.join(dir, 'fedgate.yaml'), `http://127.0.0.1:${port}`);
  return { ...fg, site: `http://localhost:${port}` };
}

async function signIn(page, user, pw) {
  await page.waitForURL((u) => u.pathname === '/login');
  await page.fill('#username', user);
  await page.fill('#password', pw);
  await page.click('button[type=submit]');
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

it('registers a FIDO2 key and steps up with it; refuses another RP ID and a lower sign counter', async (t) => {
  const fg = await startKeysFedgate(t);
  const browser = await launchBrowser(t, ['--host-resolver-rules=MAP localhost 127.0.0.1']);
  const context = await browser.newContext({ baseURL: fg.site, locale: 'en-US' });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: true, isUserVerified: true },
  });

  // Register: sign in, name the key, touch it.
  await page.goto('/mfa/keys');
  await signIn(page, 'bob', 'bob-demo-pw');
  await page.waitForURL((u) => u.pathname === '/mfa/keys');
  await page.fill('#key-name', 'YubiKey blue');
  await page.click('#webauthn button');
  await page.waitForSelector('#keys li');
  assert.deepEqual(await page.locator('#keys li').allTextContents(), ['YubiKey blue']);
  await fg.audit({ event: 'mfa', outcome: 'success', reason: 'webauthn-registered', user: 'bob', upstream: 'local' });
  const [cred] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  assert.equal(cred.rpId, 'localhost');

  // Step up: the policy wants hwk; bob has a key, so fedgate asks for it.
  await page.goto('/apps/payroll/');
  await page.waitForURL((u) => u.pathname === '/mfa/webauthn');
  await page.click('#webauthn button');
  await page.waitForURL((u) => u.pathname === '/apps/payroll/');
  assert.match(await page.textContent('#who-method'), /security key/);
  assert.match(await page.textContent('#who-method'), /multi-factor/);
  await fg.audit({ event: 'mfa', outcome: 'success', reason: 'webauthn-hwk', user: 'bob' });
  await fg.audit({ event: 'access', outcome: 'allow', app: 'payroll', user: 'bob' });

  // A fresh browser session for the refusals.
  const stepUpAgain = async () => {
    await context.clearCookies();
    await page.goto('/apps/payroll/');
    await signIn(page, 'bob', 'bob-demo-pw');
    await page.waitForURL((u) => u.pathname === '/mfa/webauthn');
  };

  // Another RP ID: the answer is re-made, properly signed with the key's
  // own private key, for evil.example. Refused before anything else.
  await stepUpAgain();
  const key = createPrivateKey({ key: Buffer.from(cred.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
  await page.route('**/mfa/webauthn/finish', async (route) => {
    const body = JSON.parse(route.request().postData());
    const authData = Buffer.concat([createHash('sha256').update('evil.example').digest(), Buffer.from([0x05, 0, 0, 0, 100])]);
    const clientHash = createHash('sha256').update(Buffer.from(body.response.clientDataJSON, 'base64url')).digest();
    body.response.authenticatorData = b64url(authData);
    body.response.signature = b64url(sign('sha256', Buffer.concat([authData, clientHash]), key));
    await route.continue({ postData: JSON.stringify(body) });
  });
  await page.click('#webauthn button');
  await page.waitForSelector('#webauthn-error:not([hidden])');
  assert.match(await page.textContent('#webauthn-error'), /answered for another site/);
  assert.equal(new URL(page.url()).pathname, '/mfa/webauthn');
  await fg.audit({ event: 'mfa', outcome: 'failure', reason: 'webauthn-rp-id', user: 'bob' });
  await page.unroute('**/mfa/webauthn/finish');

  // A lower sign counter: the same key, put back with its counter at 0
  // (what a copy of it would say).
  await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: cred.credentialId });
  await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...cred, signCount: 0 } });
  await stepUpAgain();
  await page.click('#webauthn button');
  await page.waitForSelector('#webauthn-error:not([hidden])');
  assert.match(await page.textContent('#webauthn-error'), /counter went backwards/);
  await fg.audit({ event: 'mfa', outcome: 'failure', reason: 'webauthn-counter', user: 'bob' });
  // Still no way in without the step-up.
  await page.goto('/apps/payroll/');
  await page.waitForURL((u) => u.pathname === '/mfa/webauthn');
});
