// fedgate as an OpenID Provider, for the npm openid-client relying party:
// started per test on a free loopback port, with the quickstart's local
// users (alice, bob: staff; carol: not) or, with { upstream: 'adfs' }, the
// ADFS-shaped oidc-provider peer as its only upstream (a full chain); with
// { mfa: true } every app needs MFA (an allow rule with mfa: methods otp),
// users may enrol fedgate's own TOTP, and the whoami app "secure" is added.
// The apps' redirect URIs are on a loopback port nobody listens on: the
// tests stop at the redirect and hand its URL to openid-client.
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { freePort, repoRoot, runFedgate } from '../e2e/helpers.mjs';
import { Client } from './fedgate.mjs';
import { CLIENT_ID, CLIENT_SECRET, startOP } from './op.mjs';

export const RP = 'http://127.0.0.1:9'; // discard port: never requested
export const CB = `${RP}/cb`;
export const BYE = `${RP}/bye`;
export const SECRET = 'portal-secret-0123456789abcdef';
export const POST_SECRET = 'forms-secret-0123456789abcdef';

// adfsUpstream is the upstream list item for the ADFS-shaped peer at issuer.
export const adfsUpstream = (issuer) => `  - { id: corp-adfs, type: oidc, preset: adfs, name: Corp ADFS, domains: [corp.example], issuer: "${issuer}",
      client_id: ${CLIENT_ID}, client_secret: ${CLIENT_SECRET}, scopes: [profile, email, allatclaims], group_dn: cn }
`;

// startADFS starts the ADFS-shaped oidc-provider peer for a fedgate at
// base (until the test ends) and returns its issuer. Its alice signs in
// without MFA unless asked for it.
export async function startADFS(t, base) {
  const adfs = await startOP('adfs', { redirectUris: [`${base}/callback/corp-adfs`] });
  t.after(() => adfs.stop());
  return adfs.issuer;
}

function config(port, upstream, mfa) {
  const up = upstream
    ? adfsUpstream(upstream).trimEnd()
    : '  - { id: local, type: local, name: Demo users, users_file: users.yaml }';
  return `server: { public_url: "http://127.0.0.1:${port}", listen: "127.0.0.1:${port}", insecure_http: true }
data_dir: ./data
store: { memory: true }
upstreams:
${up}
apps:
  - id: portal
    type: oidc
    name: Portal
    policy: staff
    oidc:
      client_id: portal
      client_secret: file:portal.secret
      redirect_uris: ["${CB}"]
      post_logout_redirect_uris: ["${BYE}"]
      refresh_tokens: true
      claims: { upn: upn }
  - id: forms
    type: oidc
    name: Forms
    policy: staff
    oidc:
      client_id: forms
      client_secret: file:forms.secret
      token_endpoint_auth_method: client_secret_post
      redirect_uris: ["${CB}"]
      subject_type: pairwise
      pairwise_salt: file:pairwise.salt
  - id: spa
    type: oidc
    name: SPA
    policy: staff
    oidc: { client_id: spa, public: true, redirect_uris: ["${CB}"] }
${mfa ? '  - { id: secure, type: whoami, name: Secure, policy: staff }\nmfa: { enrol: { allow: true, within: 5m }, contact: { en: "Call the IT desk on 1234." } }\n' : ''}policies: [policies/*.yaml]
`;
}

const staff = (mfa) => `policy: staff
message: { en: "Staff only." }
rules:
  - { name: staff, when: { groups: [staff, Staff] }, allow: { ${mfa ? 'mfa: { methods: [otp], max_age: 1h }' : ''} } }
`;

// startOPFedgate serves fedgate as an OP; upstream 'adfs' starts the
// oidc-provider peer in front of it.
export async function startOPFedgate(t, { upstream, mfa } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const issuer = upstream === 'adfs' ? await startADFS(t, base) : undefined;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-op-'));
  await mkdir(path.join(dir, 'policies'));
  await writeFile(path.join(dir, 'policies', 'staff.yaml'), staff(mfa));
  await copyFile(path.join(repoRoot, 'examples', 'quickstart', 'users.yaml'), path.join(dir, 'users.yaml'));
  await writeFile(path.join(dir, 'portal.secret'), SECRET + '\n', { mode: 0o600 });
  await writeFile(path.join(dir, 'forms.secret'), POST_SECRET + '\n', { mode: 0o600 });
  await writeFile(path.join(dir, 'pairwise.salt'), 'pairwise-salt-0123456789\n', { mode: 0o600 });
  const file = path.join(dir, 'fedgate.yaml');
  await writeFile(file, config(port, issuer, mfa));
  return runFedgate(t, dir, file, base);
}

// discover is openid-client's discovery against fedgate, unmodified
// (plain http is allowed because the test issuer is on loopback).
export async function discover(fg, clientId, secret, auth) {
  let clientAuth;
  if (auth === 'basic') clientAuth = oidc.ClientSecretBasic(secret);
  if (auth === 'post') clientAuth = oidc.ClientSecretPost(secret);
  if (auth === 'none') clientAuth = oidc.None();
  return oidc.discovery(new URL(fg.base), clientId, secret, clientAuth, { execute: [oidc.allowInsecureRequests] });
}

// authorize builds an authorization URL with PKCE, state and nonce.
export async function authorize(config, params = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CB, scope: 'openid profile email groups', state: checks.expectedState, nonce: checks.expectedNonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...params,
  });
  return { url, checks };
}

// browse follows url like a browser until the answer for the RP: a
// redirect to it (returns { callback: URL }), or a form_post page (returns
// { callback: Request }), signing in on fedgate's form on the way. atRP
// says which URLs are the RP's (default: the test RP's origin).
export async function browse(c, url, user = 'alice', password = `${user}-demo-pw`, atRP = (u) => u.origin === RP) {
  let r = await c.follow(url.href, { stop: atRP });
  if (!r.stopped && r.text.includes('name="password"')) {
    const csrf = r.text.match(/name="csrf" value="([^"]+)"/)?.[1];
    const up = r.text.match(/name="upstream" value="([^"]*)"/)?.[1];
    const action = r.text.match(/<form method="post" action="([^"]+)"/)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(csrf && action, `no sign-in form:\n${r.text}`);
    r = await c.follow(new URL(action, r.url).href,
      { method: 'POST', form: { csrf, upstream: up, username: user, password }, stop: atRP });
  } else if (!r.stopped && r.text.includes('name="email"')) {
    const csrf = r.text.match(/name="csrf" value="([^"]+)"/)?.[1];
    const action = r.text.match(/<form method="post" action="([^"]+)"/)?.[1]?.replaceAll('&amp;', '&');
    r = await c.follow(new URL(action, r.url).href, { method: 'POST', form: { csrf, email: user }, stop: atRP });
  }
  if (r.stopped) return { callback: r.stopped, response: r };
  const action = r.text.match(/<form method="post" action="([^"]+)"/)?.[1];
  if (r.status === 200 && action?.startsWith(RP)) {
    const body = new URLSearchParams();
    for (const [, name, value] of r.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      body.set(name, value.replaceAll('&#34;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&#39;', "'"));
    }
    return { callback: new Request(action, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }), response: r };
  }
  return { response: r };
}

export { Client, oidc };
