// A real OpenID Provider (npm oidc-provider) shaped like ADFS 2016+ or like
// Microsoft Entra ID v2.0, for fedgate's interop tests. Users are logged in
// without a UI: the interaction route completes the login for the account
// named in login_hint, doing "MFA" only when the request asked for it and
// the account can.
//
//   ADFS:  issuer http://127.0.0.1:<port>/adfs; upn, unique_name, sid, group,
//          auth_time as an ISO-8601 string; amr gets
//          http://schemas.microsoft.com/claims/multipleauthn only when
//          amr_values=ngcmfa or acr_values=…/multipleauthn asked for MFA.
//   Entra: issuer http://127.0.0.1:<port>/<tid>/v2.0 (and /organizations/v2.0
//          discovery with the {tenantid} template); tid, oid, groups, an
//          overage user (_claim_names), no amr (as v2 tokens), and acrs when
//          the claims request asks for an authentication context.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

export const TENANT = '7c1a2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const OTHER_TENANT = '0a0b0c0d-1111-4222-8333-944455556666';
export const MULTIPLE_AUTHN = 'http://schemas.microsoft.com/claims/multipleauthn';
const PASSWORD = 'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password';
export const CLIENT_ID = 'fedgate';
export const CLIENT_SECRET = 'peer-client-secret';

// Accounts by login_hint. mfa: whether the account can do a second factor.
const users = {
  adfs: {
    'alice@corp.example': {
      mfa: true,
      claims: {
        upn: 'alice@corp.example', unique_name: 'CORP\\alice', sid: 'S-1-5-21-1004', name: 'Alice Adfs',
        group: ['Staff', 'CN=Domain Admins,CN=Users,DC=corp,DC=example'], ver: '1.0', authmethod: PASSWORD,
      },
    },
    'bob@corp.example': {
      mfa: false,
      claims: { upn: 'bob@corp.example', unique_name: 'CORP\\bob', sid: 'S-1-5-21-1005', group: ['Staff'], ver: '1.0' },
    },
  },
  entra: {
    'alice@example.co.jp': {
      mfa: true,
      claims: {
        tid: TENANT, oid: 'a1a1a1a1-0000-4000-8000-00000000a11c', name: 'Alice Entra',
        preferred_username: 'alice@example.co.jp', email: 'alice@example.co.jp', groups: ['g-staff', 'g-hr'],
      },
    },
    'bob@example.co.jp': {
      mfa: false,
      claims: {
        tid: TENANT, oid: 'b0b0b0b0-0000-4000-8000-000000000b0b', name: 'Bob Entra',
        preferred_username: 'bob@example.co.jp', groups: ['g-staff', 'g-hr'],
      },
    },
    // Over 200 groups: Entra replaces groups with a pointer to Graph.
    'olga@example.co.jp': {
      mfa: false,
      claims: {
        tid: TENANT, oid: '01ca01ca-0000-4000-8000-0000000001ca', name: 'Olga Overage',
        preferred_username: 'olga@example.co.jp',
        _claim_names: { groups: 'src1' },
        _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/01ca/getMemberObjects' } },
      },
    },
  },
};

const claimNames = ['upn', 'unique_name', 'sid', 'group', 'ver', 'authmethod', 'name',
  'tid', 'oid', 'groups', 'preferred_username'];

// startOP starts the peer on a free loopback port (or the given one).
// redirectUris are fedgate's callbacks for it. Returns { issuer, base, port, stop }.
export async function startOP(flavor, { redirectUris, port = 0 }) {
  const server = http.createServer();
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const prefix = flavor === 'adfs' ? '/adfs' : `/${TENANT}/v2.0`;
  const issuer = base + prefix;
  const accounts = users[flavor];

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `${flavor}-1`, alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: redirectUris,
      response_types: ['code'], grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: ['peer-cookie-key'] },
    scopes: ['openid', 'profile', 'email', 'allatclaims'],
    claims: {
      // amr, acr and auth_time are in every ID token, as ADFS sends them.
      openid: ['sub', 'amr', 'acr', 'auth_time'], profile: claimNames, allatclaims: claimNames, email: ['email'], acrs: null,
    },
    conformIdTokenClaims: false,
    acrValues: [MULTIPLE_AUTHN],
    extraParams: ['amr_values', 'domain_hint', 'resource'],
    features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    findAccount: (ctx, sub, token) => ({
      accountId: sub,
      claims: () => {
        const out = { sub, ...accounts[sub]?.claims };
        // acrs: the authentication context asked for, if the login did MFA.
        const asked = token?.claims?.id_token?.acrs?.value;
        if (flavor === 'entra' && asked && token?.amr?.includes('mfa')) out.acrs = [asked];
        return out;
      },
    }),
    // First-party client: no consent screen.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope);
      const requested = ctx.oidc.params.claims ? JSON.parse(ctx.oidc.params.claims) : {};
      grant.addOIDCClaims([...Object.keys(requested.id_token ?? {}), ...Object.keys(requested.userinfo ?? {})]);
      await grant.save();
      return grant;
    },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
  });

  // Vendor shapes of the ID token that oidc-provider has no option for.
  const payload = provider.IdToken.prototype.payload;
  provider.IdToken.prototype.payload = async function shaped() {
    const p = await payload.call(this);
    if (flavor === 'adfs' && typeof p.auth_time === 'number') {
      p.auth_time = new Date(p.auth_time * 1000).toISOString(); // ADFS sends a string
    }
    if (flavor === 'entra') delete p.amr; // v2.0 tokens carry acrs, not amr
    return p;
  };

  // The login "UI": complete the login for login_hint at once.
  async function interaction(req, res) {
    const { prompt, params } = await provider.interactionDetails(req, res);
    if (prompt.name !== 'login') throw new Error(`unexpected prompt ${prompt.name}`);
    const id = accounts[params.login_hint] ? params.login_hint : Object.keys(accounts)[0];
    let asked;
    if (flavor === 'adfs') {
      asked = params.amr_values === 'ngcmfa' || String(params.acr_values ?? '').split(' ').includes(MULTIPLE_AUTHN);
    } else {
      asked = Boolean(params.claims && JSON.parse(params.claims).id_token?.acrs);
    }
    const mfa = asked && accounts[id].mfa;
    const login = flavor === 'adfs'
      ? { accountId: id, amr: mfa ? [PASSWORD, MULTIPLE_AUTHN] : [PASSWORD], acr: mfa ? MULTIPLE_AUTHN : undefined }
      : { accountId: id, amr: mfa ? ['pwd', 'mfa'] : ['pwd'] };
    await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  }

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, base);
      if (flavor === 'entra' && url.pathname === '/organizations/v2.0/.well-known/openid-configuration') {
        // Multi-tenant discovery: the same endpoints, issuer as a template.
        const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
        meta.issuer = `${base}/{tenantid}/v2.0`;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(meta));
        return;
      }
      if (url.pathname.startsWith(`${prefix}/interaction/`)) {
        await interaction(req, res);
        return;
      }
      if (url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)) {
        req.originalUrl = req.url;
        req.url = req.url.slice(prefix.length) || '/';
        callback(req, res);
        return;
      }
      res.writeHead(404).end('not found');
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });

  return {
    issuer,
    base,
    port: server.address().port,
    // stop closes the listener and every open connection: the IdP is gone.
    stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}
