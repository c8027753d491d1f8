// FIDO2 security keys as fedgate's own second factor, in headless Chromium
// with its virtual authenticator (DevTools WebAuthn domain): bob enrols a
// named key at his first step-up, adds a second one at /mfa/keys, and steps
// up with a key; an assertion made for another RP ID and one whose sign
// counter went backwards are refused on the page and in the audit log.
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
    allow: { mfa: { methods: [hwk] } }
`);
  const port = await freePort();
  await writeFile(path.join(dir, 'fedgate.yaml'), `server: { public_url: "http://localhost:${port}", listen: "127.0.0.1:${port}", insecure_http: true }
data_dir: data
store: { memory: true }
upstreams: [{ id: local, type: local, users_file: users.yaml }]
apps: [{ id: payroll, type: whoami, policy: keys }]
policies: [keys.yaml]
mfa: { enrol: { allow: true } }
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
const usbKey = { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: true, isUserVerified: true };

it('enrols FIDO2 keys and steps up with one; refuses another RP ID and a lower sign counter', async (t) => {
  const fg = await startKeysFedgate(t);
  const browser = await launchBrowser(t, ['--host-resolver-rules=MAP localhost 127.0.0.1']);
  const context = await browser.newContext({ baseURL: fg.site, locale: 'en-US' });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const first = (await cdp.send('WebAuthn.addVirtualAuthenticator', { options: usbKey })).authenticatorId;

  // First step-up: bob has no factor, so he enrols a key (the policy
  // wants hwk: no chooser), keeps his recovery codes, and is in.
  await page.goto('/apps/payroll/');
  await signIn(page, 'bob', 'bob-demo-pw');
  await page.waitForURL((u) => u.pathname === '/mfa/enrol/webauthn');
  await page.fill('#key-name', 'YubiKey blue');
  await page.click('#webauthn button');
  await page.waitForSelector('#recovery-codes li');
  await page.click('a.button');
  await page.waitForURL((u) => u.pathname === '/apps/payroll/');
  assert.match(await page.textContent('#who-method'), /security key/);
  assert.match(await page.textContent('#who-method'), /multi-factor/);
  await fg.audit({ event: 'mfa', outcome: 'success', rule: 'webauthn', user: 'bob', upstream: 'local' });
  await fg.audit({ event: 'access', outcome: 'allow', app: 'payroll', user: 'bob' });
  const [cred] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: first })).credentials;
  assert.equal(cred.rpId, 'localhost');

  // A second key, named, on another authenticator.
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first });
  const second = (await cdp.send('WebAuthn.addVirtualAuthenticator', { options: usbKey })).authenticatorId;
  await page.goto('/mfa/keys');
  assert.deepEqual(await page.locator('#keys li').allTextContents(), ['YubiKey blue']);
  await page.fill('#key-name', 'Spare key');
  await page.click('#webauthn button');
  await page.waitForURL((u) => u.pathname === '/mfa/keys');
  await page.waitForSelector('#keys li:nth-child(2)');
  assert.deepEqual(await page.locator('#keys li').allTextContents(), ['YubiKey blue', 'Spare key']);
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: second });
  const key = (await cdp.send('WebAuthn.addVirtualAuthenticator', { options: usbKey })).authenticatorId;
  await cdp.send('WebAuthn.addCredential', { authenticatorId: key, credential: cred });

  // A new browser session steps up with the first key.
  const stepUp = async () => {
    await context.clearCookies();
    await page.goto('/apps/payroll/');
    await signIn(page, 'bob', 'bob-demo-pw');
    await page.waitForURL((u) => u.pathname === '/mfa/webauthn');
  };
  await stepUp();
  await page.click('#webauthn button');
  await page.waitForURL((u) => u.pathname === '/apps/payroll/');
  assert.match(await page.textContent('#who-method'), /security key/);
  const used = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: key })).credentials[0];

  // Another RP ID: the answer is re-made, properly signed with the key's
  // own private key, for evil.example. Refused before anything else.
  await stepUp();
  const priv = createPrivateKey({ key: Buffer.from(cred.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
  await page.route('**/mfa/webauthn?l=*', async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    const form = new URLSearchParams(route.request().postData());
    const answer = JSON.parse(form.get('credential'));
    const authData = Buffer.concat([createHash('sha256').update('evil.example').digest(), Buffer.from([0x05, 0, 0, 0, 100])]);
    const clientHash = createHash('sha256').update(Buffer.from(answer.response.clientDataJSON, 'base64url')).digest();
    answer.response.authenticatorData = b64url(authData);
    answer.response.signature = b64url(sign('sha256', Buffer.concat([authData, clientHash]), priv));
    form.set('credential', JSON.stringify(answer));
    await route.continue({ postData: form.toString() });
  });
  await page.click('#webauthn button');
  await page.waitForSelector('#form-error:not([hidden])');
  assert.match(await page.textContent('#form-error'), /answered for another site/);
  assert.equal(new URL(page.url()).pathname, '/mfa/webauthn');
  await fg.audit({ event: 'mfa', outcome: 'failure', rule: 'webauthn', reason: 'webauthn-rp-id', user: 'bob' });
  await page.unroute('**/mfa/webauthn?l=*');

  // A lower sign counter: the same key put back with an older counter
  // (what a copy of it would say).
  await cdp.send('WebAuthn.removeCredential', { authenticatorId: key, credentialId: cred.credentialId });
  await cdp.send('WebAuthn.addCredential', { authenticatorId: key, credential: { ...used, rpId: 'localhost', signCount: 0 } });
  await page.reload();
  await page.click('#webauthn button');
  await page.waitForSelector('#form-error:not([hidden])');
  assert.match(await page.textContent('#form-error'), /counter went backwards/);
  await fg.audit({ event: 'mfa', outcome: 'failure', rule: 'webauthn', reason: 'webauthn-counter', user: 'bob' });
  // Still no way in without the step-up.
  await page.goto('/apps/payroll/');
  await page.waitForURL((u) => u.pathname === '/mfa/webauthn');
});
