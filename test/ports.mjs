// freePort: a loopback TCP port that is free now, for a server the test
// starts next. Drawn below Linux's ephemeral range (32768-60999): a port the
// kernel hands out for listen(0) may be taken by any outgoing connection
// before the server binds it (seen as "address already in use" under load),
// one drawn here cannot. Node built-ins only: every test folder imports it.
import net from 'node:net';

function bindable(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort() {
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free loopback port in 20000-31999');
}
