// A private fedgate per test (loopback, local demo users, the given apps),
// and a small HTTP client with a cookie jar that signs in the way a browser
// would. Only node built-ins here: this folder has its own package.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { freePort } from '../ports.mjs';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const binary = path.join(repoRoot, 'test', 'out', 'fedgate');

function ensureBinary() {
  if (existsSync(binary)) return;
  const r = spawnSync('go', ['build', '-o', binary, './cmd/fedgate'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`go build failed (status ${r.status})`);
}

export { freePort };

const staffPolicy = `policy: staff-only
rules:
  - { name: staff, when: { groups: [staff] }, allow: {} }
`;

// startFedgate serves `apps` (YAML list items, indented by 2) with the
// quickstart's demo users (alice, bob: staff; carol: contractors). apps
// and `upstreams` may be (async) functions of the port; `upstreams` adds upstream list items,
// `config` top-level config (YAML), and `files` writes files (name →
// content, e.g. policies/x.yaml) into the config folder first.
export async function startFedgate(t, apps, { upstreams = '', files = {}, config: more = '' } = {}) {
  ensureBinary();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-saml-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  if (typeof apps === 'function') apps = apps(port);
  if (typeof upstreams === 'function') upstreams = await upstreams(port);
  await copyFile(path.join(repoRoot, 'examples', 'quickstart', 'users.yaml'), path.join(dir, 'users.yaml'));
  await mkdir(path.join(dir, 'policies'));
  await writeFile(path.join(dir, 'policies', 'staff.yaml'), staffPolicy);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  const config = path.join(dir, 'fedgate.yaml');
  await writeFile(config, `server: { public_url: "${base}", listen: "127.0.0.1:${port}", insecure_http: true }
data_dir: ./data
store: { memory: true }
log: { level: warn }
upstreams:
  - { id: local, type: local, name: Demo users, users_file: users.yaml }
${upstreams}apps:
${apps.replace(/^\s*\n/, '')}
${more}policies: [policies/*.yaml]
`);
  return serveConfig(t, dir, config, base);
}

// runFedgate runs the fedgate binary once (a CLI command) and returns its
// exit status and output.
export function runFedgate(args, cwd = repoRoot) {
  ensureBinary();
  return spawnSync(binary, args, { cwd, encoding: 'utf8' });
}

// serveConfig serves config (listening at base) until the test ends, then
// stops it and removes dir.
export async function serveConfig(t, dir, config, base) {
  ensureBinary();
  const proc = spawn(binary, ['serve', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let partial = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    lines.push(...parts.filter((l) => l.trim() !== ''));
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (c) => { stderr += c; });
  let exited = null;
  const exit = new Promise((resolve) => proc.once('exit', (code, signal) => { exited = `exited with ${signal ?? code}`; resolve(); }));
  t.after(async () => {
    if (!exited) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`fedgate ${exited}:\n${stderr}`);
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`fedgate not healthy within 15 s:\n${stderr}`);
    await sleep(100);
  }
  const audit = async (fields) => {
    const matches = (e) => Object.entries(fields).every(([k, v]) => e[k] === v);
    for (let i = 0; i < 40; i++) {
      const hit = lines.map((l) => JSON.parse(l)).find(matches);
      if (hit) return hit;
      await sleep(50);
    }
    assert.fail(`no audit line with ${JSON.stringify(fields)} in:\n${lines.join('\n')}\n${stderr}`);
  };
  return { base, port: Number(new URL(base).port), dir, audit, auditLines: () => [...lines], stderr: () => stderr };
}

// The IdP signing certificate (base64 DER) from metadata.
export async function idpCert(url) {
  const xml = await (await fetch(url)).text();
  const m = xml.match(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/);
  assert.ok(m, `no certificate in ${xml}`);
  return m[1];
}

const decode = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
  .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCharCode(parseInt(n, 16)))
  .replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');

// Client is fetch with a per-origin cookie jar, following redirects by hand.
export class Client {
  jar = new Map();

  async request(url, { method = 'GET', form } = {}) {
    const u = new URL(url);
    if (!this.jar.has(u.origin)) this.jar.set(u.origin, new Map());
    const jar = this.jar.get(u.origin);
    const headers = { accept: 'text/html', 'accept-language': 'en' };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      body = new URLSearchParams(form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = u.origin;
    }
    const res = await fetch(u, { method, headers, body, redirect: 'manual' });
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (value === '' || attrs.some((a) => /^\s*max-age=(0|-)/i.test(a))) jar.delete(name); else jar.set(name, value);
    }
    const location = res.headers.get('location');
    return { status: res.status, url: u, headers: res.headers, location: location ? new URL(location, u) : null, text: await res.text() };
  }

  async follow(url, opts) {
    let r = await this.request(url, opts);
    for (let hops = 0; r.location && r.status >= 300 && r.status < 400; hops++) {
      assert.ok(hops < 20, 'redirect loop');
      r = await this.request(r.location);
    }
    return r;
  }

  // signIn submits the local sign-in form on page, and follows on.
  async signIn(page, username, password) {
    const csrf = page.text.match(/name="csrf" value="([^"]+)"/)?.[1];
    assert.ok(csrf, `no sign-in form at ${page.url} (${page.status}):\n${page.text.slice(0, 500)}`);
    return this.follow(page.url.href, { method: 'POST', form: { csrf: decode(csrf), upstream: 'local', username, password } });
  }
}

// autoPost reads fedgate's auto-submitting form: action and fields.
export function autoPost(page) {
  assert.equal(page.status, 200, `want the auto-POST page, got ${page.status}:\n${page.text.slice(0, 500)}`);
  const action = page.text.match(/<form method="post" action="([^"]+)"/)?.[1];
  assert.ok(action, `no form in:\n${page.text.slice(0, 500)}`);
  const fields = {};
  for (const m of page.text.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)) fields[m[1]] = decode(m[2]);
  return { action: decode(action), fields, csp: page.headers.get('content-security-policy') };
}
