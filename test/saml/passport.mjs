// Driving passport-wsfed-saml2's strategy without express: shared by the
// WS-Fed tests.

// run drives the strategy the way passport does: one of redirect, success,
// fail or error is called.
export function run(strategy, req, opts = {}) {
  return new Promise((resolve) => {
    const s = Object.create(strategy);
    s.redirect = (url) => resolve({ redirect: url });
    s.success = (user) => resolve({ user });
    s.fail = (challenge, status) => resolve({ fail: challenge, status });
    s.error = (err) => resolve({ error: err });
    s.authenticate(req, opts);
  });
}

// postBack is the RP's own endpoint receiving the form post, as express
// would present it.
export function postBack(action, fields) {
  const u = new URL(action);
  const headers = { host: u.host };
  return { method: 'POST', body: fields, protocol: u.protocol.slice(0, -1), originalUrl: u.pathname, headers, get: (h) => headers[h.toLowerCase()] };
}
