// fedgate between the two oidc-provider peers (ADFS-like and Entra-like),
// started per test on free loopback ports, plus a small HTTP client with a
// cookie jar that follows redirects the way a browser does.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { freePort, runFedgate } from '../e2e/helpers.mjs';
import { CLIENT_ID, CLIENT_SECRET, OTHER_TENANT, TENANT, startOP } from './op.mjs';

function config(port, adfs, entra) {
  const common = `client_id: ${CLIENT_ID}, client_secret: ${CLIENT_SECRET}`;
  return `server: { public_url: "http://127.0.0.1:${port}", listen: "127.0.0.1:${port}", insecure_http: true }
data_dir: ./data
store: { memory: true }
upstreams:
  - { id: corp-adfs, type: oidc, preset: adfs, name: Corp ADFS, domains: [corp.example], issuer: "${adfs}",
      ${common}, scopes: [profile, email, allatclaims], group_dn: cn }
  - { id: corp-adfs-2, type: oidc, preset: adfs, name: Second ADFS, domains: [other.example], issuer: "${adfs}", ${common} }
  - { id: entra, type: oidc, preset: entra, name: Entra ID, domains: [example.co.jp], issuer: "${entra}/${TENANT}/v2.0",
      tenant: ${TENANT}, ${common}, step_up: { auth_context: c1 } }
  - { id: entra-partners, type: oidc, preset: entra, name: Partner tenants, domains: [partner.example],
      issuer: "${entra}/organizations/v2.0", tenant: organizations, allowed_tenants: [${OTHER_TENANT}], ${common} }
apps:
  - { id: wiki, type: whoami, name: Wiki, policy: staff }
  - { id: admin, type: whoami, name: Admin console, policy: fresh-mfa }
  - { id: adfs-wiki, type: whoami, name: ADFS wiki, policy: staff, upstreams: [corp-adfs] }
  - { id: vault, type: whoami, name: Vault, policy: always-mfa, upstreams: [corp-adfs, entra] }
policies: [policies/*.yaml]
`;
}

const policies = {
  'staff.yaml': `policy: staff
message: { en: "The wiki is for staff." }
rules:
  - { name: staff, when: { groups: [Staff, g-staff] }, allow: {} }
`,
  'fresh-mfa.yaml': `policy: fresh-mfa
rules:
  - { name: staff with fresh mfa, when: { groups: [Staff, g-staff] }, allow: { mfa: { max_age: 1h } } }
`,
  'always-mfa.yaml': `policy: always-mfa
rules:
  - { name: staff with mfa, when: { groups: [Staff, g-staff] }, allow: { mfa: {} } }
`,
};

// startAll starts both peers and a fedgate that uses them.
export async function startAll(t) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cb = (id) => `${base}/callback/${id}`;
  const adfs = await startOP('adfs', { redirectUris: [cb('corp-adfs'), cb('corp-adfs-2')] });
  const entra = await startOP('entra', { redirectUris: [cb('entra'), cb('entra-partners')] });
  t.after(() => adfs.stop());
  t.after(() => entra.stop());

  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-oidc-'));
  await mkdir(path.join(dir, 'policies'));
  for (const [name, body] of Object.entries(policies)) await writeFile(path.join(dir, 'policies', name), body);
  const file = path.join(dir, 'fedgate.yaml');
  await writeFile(file, config(port, adfs.issuer, entra.base));

  const fg = await runFedgate(t, dir, file, base);
  return { ...fg, adfs, entra };
}

// Client is fetch with a per-origin cookie jar, following redirects by hand
// so a test can stop at any hop.
export class Client {
  jar = new Map();

  cookies(origin) {
    if (!this.jar.has(origin)) this.jar.set(origin, new Map());
    return this.jar.get(origin);
  }

  async request(url, { method = 'GET', form } = {}) {
    const u = new URL(url);
    const jar = this.cookies(u.origin);
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
      const gone = attrs.some((a) => /^\s*max-age=(0|-)/i.test(a)) ||
        attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
      if (gone || value === '') jar.delete(name); else jar.set(name, value);
    }
    const location = res.headers.get('location');
    return { status: res.status, url: u, location: location ? new URL(location, u) : null, text: await res.text() };
  }

  // follow requests url and its redirects; stop(urlObj) ends early before
  // requesting that URL (it is returned as { stopped }).
  async follow(url, { stop, ...opts } = {}) {
    let r = await this.request(url, opts);
    for (let hops = 0; r.location && r.status >= 300 && r.status < 400; hops++) {
      assert.ok(hops < 20, 'redirect loop');
      if (stop?.(r.location)) return { ...r, stopped: r.location };
      r = await this.request(r.location);
    }
    return r;
  }

  // signIn opens the app, types email on the chooser, and follows the
  // redirects through the IdP and back. Returns the last response.
  async signIn(base, app, email, opts) {
    const chooser = await this.follow(`${base}/apps/${app}/`);
    if (!chooser.text.includes('name="email"')) return chooser; // already signed in
    return this.submitEmail(chooser, email, opts);
  }

  async submitEmail(page, email, opts) {
    const action = page.text.match(/<form method="post" action="([^"]+)"/)?.[1]?.replaceAll('&amp;', '&');
    const csrf = page.text.match(/name="csrf" value="([^"]+)"/)?.[1];
    assert.ok(action && csrf, `no sign-in form in:\n${page.text}`);
    return this.follow(new URL(action, page.url).href, { method: 'POST', form: { csrf, email }, ...opts });
  }
}

// text is the visible text of an HTML page, roughly.
export const text = (html) => html.replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/\s+/g, ' ');
