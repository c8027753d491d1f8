// `fedgate import adfs` with the farm's token-signing key, then apps that
// still trust the *original ADFS farm* sign in through fedgate: node-saml
// configured with the certificate from the farm's FederationMetadata.xml and
// its issuer, passport-wsfed-saml2 with the farm's thumbprint, both sent to
// /adfs/ls/ as ADFS answered them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SAML } from '@node-saml/node-saml';
import { Client, autoPost, freePort, repoRoot, runFedgate, serveConfig } from './helpers.mjs';
import { postBack, run } from './passport.mjs';

const require = createRequire(import.meta.url);
const { Strategy } = require('passport-wsfed-saml2');

const farm = path.join(repoRoot, 'config', 'adfs', 'testdata', 'farm');
const FARM_ID = 'http://fs.corp.example/adfs/services/trust';
const metadata = readFileSync(path.join(farm, 'FederationMetadata.xml'), 'utf8');
// The token-signing certificate as the farm publishes it.
const adfsCert = metadata.match(/<X509Certificate>([^<]+)<\/X509Certificate>/)[1];
const adfsThumbprint = createHash('sha1').update(Buffer.from(adfsCert, 'base64')).digest('hex').toUpperCase();

// Demo users; alice is also in the HR Portal's group, carol is a contractor.
const users = (hashes) => `users:
  - { username: alice, display_name: Alice Example, email: alice@example.com, groups: [staff, HR Staff], password_hash: "${hashes.alice}" }
  - { username: carol, display_name: Carol Contractor, email: carol@partner.example, groups: [Staff, Contractors], password_hash: "${hashes.carol}" }
`;

// importAndServe imports the corpus farm and serves the result on loopback:
// only the server block is changed (address, plain HTTP, memory store).
async function importAndServe(t, { samlOnly = false } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-adfs-'));
  const out = path.join(dir, 'out');
  await writeFile(path.join(dir, 'pw'), 'test-only-password\n');
  const r = runFedgate(['import', 'adfs', '--from', farm, '--out', out,
    '--token-signing-pfx', path.join(farm, 'token-signing.pfx'), '--pfx-password-file', path.join(dir, 'pw')]);
  assert.equal(r.status, 0, `import failed:\n${r.stdout}${r.stderr}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = path.join(out, 'fedgate.yaml');
  let yaml = await readFile(config, 'utf8');
  assert.match(yaml, /^compat: adfs$/m);
  assert.match(yaml, new RegExp(`issuer: "${FARM_ID}"`));
  yaml = yaml.replace(/public_url: "[^"]+"/, `public_url: "${base}"`)
    .replace(/listen: "[^"]+"/, `listen: "127.0.0.1:${port}"`)
    .replace(/tls: \{[^}]+\}/, 'insecure_http: true')
    .replace('data_dir: ./data', 'data_dir: ./data\nstore: { memory: true }\nlog: { level: warn }')
    .replace('id: breakglass', 'id: local'); // the id the helpers' sign-in form names
  await writeFile(config, yaml);
  if (samlOnly) {
    for (const f of await readdir(path.join(out, 'apps'))) {
      if ((await readFile(path.join(out, 'apps', f), 'utf8')).includes('type: wsfed')) await rm(path.join(out, 'apps', f));
    }
  }
  const quick = await readFile(path.join(repoRoot, 'examples', 'quickstart', 'users.yaml'), 'utf8');
  const hash = (u) => quick.match(new RegExp(`username: ${u}[\\s\\S]*?password_hash: (\\S+)`))[1];
  await writeFile(path.join(out, 'users.yaml'), users({ alice: hash('alice'), carol: hash('carol') }));
  return serveConfig(t, out, config, base);
}

function hrPortal(fg, options = {}) {
  return new SAML({
    entryPoint: `${fg.base}/adfs/ls/`,
    issuer: 'https://hr.corp.example/saml',
    callbackUrl: 'https://hr.corp.example/saml/acs',
    audience: 'https://hr.corp.example/saml',
    idpCert: adfsCert,
    idpIssuer: FARM_ID,
    decryptionPvk: readFileSync(path.join(farm, 'sp-encryption.key'), 'utf8'),
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: 'always',
    identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    ...options,
  });
}

const intranet = (fg, thumbprint = adfsThumbprint) => new Strategy({
  realm: 'urn:intranet',
  identityProviderUrl: `${fg.base}/adfs/ls/`,
  thumbprint,
  checkExpiration: true,
  checkAudience: true,
}, (profile, done) => done(null, profile));

describe('imported ADFS trusts keep working with the farm identity', () => {
  it('SAML: node-saml trusting the original ADFS metadata accepts fedgate at /adfs/ls/', async (t) => {
    const fg = await importAndServe(t);
    const sp = hrPortal(fg);
    const url = await sp.getAuthorizeUrlAsync('relay-7', undefined, {});
    assert.ok(url.startsWith(`${fg.base}/adfs/ls/?SAMLRequest=`), url);
    const c = new Client();
    const { action, fields } = autoPost(await c.signIn(await c.follow(url), 'alice', 'alice-demo-pw'));
    assert.equal(action, 'https://hr.corp.example/saml/acs');
    const xml = Buffer.from(fields.SAMLResponse, 'base64').toString('utf8');
    assert.match(xml, /EncryptedAssertion/, 'the assertion is encrypted to the imported SP certificate');
    const { profile } = await sp.validatePostResponseAsync(fields);
    assert.equal(profile.issuer, FARM_ID);
    assert.equal(profile.nameID, 'alice@example.com');
    assert.equal(profile.nameIDFormat, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    assert.equal(profile['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'], 'alice@example.com');
    await fg.audit({ event: 'saml.response', outcome: 'success', app: 'hr-portal' });

    // An SP that trusts another certificate refuses the same response.
    const other = hrPortal(fg, { idpCert: readFileSync(path.join(farm, 'sp-encryption.crt'), 'utf8') });
    await assert.rejects(other.validatePostResponseAsync(fields));
  });

  it('SAML: the imported access control policy (Permit specific group) still decides', async (t) => {
    const fg = await importAndServe(t);
    const sp = hrPortal(fg);
    const url = await sp.getAuthorizeUrlAsync('', undefined, {});
    const c = new Client();
    // carol is not in HR Staff: the SP gets a SAML error Response, no assertion.
    const { fields } = autoPost(await c.signIn(await c.follow(url), 'carol', 'carol-demo-pw'));
    const xml = Buffer.from(fields.SAMLResponse, 'base64').toString('utf8');
    assert.doesNotMatch(xml, /Assertion/);
    assert.match(xml, /StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:(Responder|Requester)"/);
    await assert.rejects(sp.validatePostResponseAsync(fields));
    await fg.audit({ app: 'hr-portal', outcome: 'deny', policy: 'adfs-hr-portal' });
  });

  it('WS-Fed: passport-wsfed-saml2 with the ADFS thumbprint accepts fedgate at /adfs/ls/', async (t) => {
    const fg = await importAndServe(t);
    const strategy = intranet(fg);
    const { redirect } = await run(strategy, { method: 'GET', query: {}, body: {} });
    assert.ok(redirect?.startsWith(`${fg.base}/adfs/ls/?`), redirect);
    const c = new Client();
    const { action, fields } = autoPost(await c.signIn(await c.follow(redirect), 'alice', 'alice-demo-pw'));
    assert.equal(action, 'https://intranet.corp.example/');
    const r = await run(strategy, postBack(action, fields));
    assert.ok(r.user, `rejected: ${r.error ?? JSON.stringify(r.fail)}`);
    assert.equal(r.user.issuer, FARM_ID);
    assert.equal(r.user['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'], 'alice');
    assert.equal(r.user['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'], 'alice');

    // A relying party with another thumbprint refuses the token.
    const bad = await run(intranet(fg, '0'.repeat(40)), postBack(action, fields));
    assert.ok(!bad.user, 'token accepted with a foreign thumbprint');
  });

  it('WS-Fed: the imported deny rule wins over the permit, as in ADFS', async (t) => {
    const fg = await importAndServe(t);
    const { redirect } = await run(intranet(fg), { method: 'GET', query: {}, body: {} });
    const c = new Client();
    const page = await c.signIn(await c.follow(redirect), 'carol', 'carol-demo-pw');
    assert.equal(page.status, 403, 'carol is in Staff and in Contractors: the deny rule decides');
    await fg.audit({ app: 'intranet-ws-fed', outcome: 'deny', rule: 'No contractors' });
  });

  it('FederationMetadata.xml carries the farm identifier, certificate and /adfs/ls/', async (t) => {
    const fg = await importAndServe(t);
    const xml = await (await fetch(`${fg.base}/FederationMetadata/2007-06/FederationMetadata.xml`)).text();
    assert.match(xml, new RegExp(`entityID="${FARM_ID}"`));
    assert.ok(xml.includes(adfsCert), 'the imported token-signing certificate');
    assert.ok(xml.includes(`<wsa:Address>${fg.base}/adfs/ls/</wsa:Address>`), 'the passive endpoint at /adfs/ls/');
    assert.ok(xml.includes(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${fg.base}/adfs/ls/"/>`),
      'the SAML role, as ADFS publishes it, for SPs that refresh the farm metadata');
    const unknown = await fetch(`${fg.base}/adfs/ls/?foo=bar`);
    assert.equal(unknown.status, 404, '/adfs/ls/ without a protocol message');
  });

  it('FederationMetadata.xml is served without any WS-Fed app, and SAML still signs in', async (t) => {
    const fg = await importAndServe(t, { samlOnly: true });
    const res = await fetch(`${fg.base}/FederationMetadata/2007-06/FederationMetadata.xml`);
    assert.equal(res.status, 200);
    const xml = await res.text();
    assert.match(xml, new RegExp(`entityID="${FARM_ID}"`));
    assert.ok(xml.includes('IDPSSODescriptor') && xml.includes(adfsCert));
    const sp = hrPortal(fg);
    const c = new Client();
    const { fields } = autoPost(await c.signIn(await c.follow(await sp.getAuthorizeUrlAsync('', undefined, {})), 'alice', 'alice-demo-pw'));
    const { profile } = await sp.validatePostResponseAsync(fields);
    assert.equal(profile.nameID, 'alice@example.com');
  });
});
