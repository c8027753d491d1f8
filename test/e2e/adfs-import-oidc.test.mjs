// An ADFS application group imported by `fedgate import adfs` (server
// application + Web API, native client) signs in openid-client, unmodified:
// the client ids, redirect URIs and Web API claim rules come from the
// export; the confidential client uses the new secret the import wrote.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Client, authorize, browse, discover, oidc } from '../peers/op-fedgate.mjs';
import { ensureBinary, freePort, outDir, repoRoot, runFedgate } from './helpers.mjs';

const farm = path.join(repoRoot, 'config', 'adfs', 'testdata', 'farm');
const SERVER_APP = '5c1d6f3e-7c2a-4a5e-9a55-0f9a3c1b2d4e';
const NATIVE_APP = '9a8b7c6d-1111-4222-8333-444455556666';
const SERVER_CB = 'https://expenses.corp.example/signin-oidc';
const NATIVE_CB = 'http://localhost:8400/';

// importAndServe imports the corpus farm and serves it on loopback with the
// quickstart's users; only the server block is changed.
async function importAndServe(t) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-adfs-oidc-'));
  const out = path.join(dir, 'out');
  ensureBinary();
  const r = spawnSync(path.join(outDir, 'fedgate'), ['import', 'adfs', '--from', farm, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, `import failed:\n${r.stdout}${r.stderr}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = path.join(out, 'fedgate.yaml');
  const yaml = (await readFile(config, 'utf8'))
    .replace(/public_url: "[^"]+"/, `public_url: "${base}"`)
    .replace(/listen: "[^"]+"/, `listen: "127.0.0.1:${port}"`)
    .replace(/tls: \{[^}]+\}/, 'insecure_http: true')
    .replace('data_dir: ./data', 'data_dir: ./data\nstore: { memory: true }');
  await writeFile(config, yaml);
  await copyFile(path.join(repoRoot, 'examples', 'quickstart', 'users.yaml'), path.join(out, 'users.yaml'));
  const secret = (await readFile(path.join(out, 'secrets', 'expenses-server-application.txt'), 'utf8')).trim();
  const fg = await runFedgate(t, out, config, base);
  t.after(() => import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true })));
  return { fg, secret };
}

const at = (cb) => (u) => u.href.startsWith(cb);

describe('imported ADFS application group with openid-client', () => {
  it('the server application signs in with the new secret and gets the Web API claims', async (t) => {
    const { fg, secret } = await importAndServe(t);
    const config = await discover(fg, SERVER_APP, secret, 'basic');
    const c = new Client();
    const { url, checks } = await authorize(config, { redirect_uri: SERVER_CB });
    const { callback } = await browse(c, url, 'alice', 'alice-demo-pw', at(SERVER_CB));
    assert.ok(callback, 'no answer for the app');
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks, { redirect_uri: SERVER_CB });
    const claims = tokens.claims();
    assert.equal(claims.aud, SERVER_APP);
    assert.equal(claims.upn, 'alice');
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(claims.group, ['staff', 'admins'], 'Token-Groups from the Web API rule');
    await fg.audit({ event: 'oidc-token', outcome: 'success', user: 'alice' });

    // The old ADFS secret is unknown; a wrong one is refused.
    const wrong = await discover(fg, SERVER_APP, 'not-the-secret-0123456789', 'basic');
    const again = await authorize(wrong, { redirect_uri: SERVER_CB });
    const second = await browse(c, again.url, 'alice', 'alice-demo-pw', at(SERVER_CB));
    await assert.rejects(oidc.authorizationCodeGrant(wrong, second.callback, again.checks, { redirect_uri: SERVER_CB }),
      (e) => e.status === 401);
  });

  it('the native client signs in with PKCE; a redirect URI ADFS had but fedgate refuses is not registered', async (t) => {
    const { fg } = await importAndServe(t);
    const config = await discover(fg, NATIVE_APP, undefined, 'none');
    const c = new Client();
    const { url, checks } = await authorize(config, { redirect_uri: NATIVE_CB });
    const { callback } = await browse(c, url, 'bob', 'bob-demo-pw', at(NATIVE_CB));
    assert.ok(callback, 'no answer for the native app');
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks, { redirect_uri: NATIVE_CB });
    assert.equal(tokens.claims().upn, 'bob');

    const bad = await authorize(config, { redirect_uri: 'ms-app://expenses' });
    const page = await c.follow(bad.url.href);
    assert.equal(page.status, 400, 'ms-app:// was not imported');
  });
});
