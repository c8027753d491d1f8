// Shared setup for the browser tests: a private fedgate per test (so each
// test reads only its own audit log) and a headless system Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { freePort } from '../ports.mjs';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const outDir = path.join(repoRoot, 'test', 'out');
const binary = path.join(outDir, 'fedgate');
const quickstart = path.join(repoRoot, 'examples', 'quickstart');

// all.sh builds the binary; building here too lets one run a single file alone.
export function ensureBinary() {
  if (existsSync(binary)) return;
  const r = spawnSync('go', ['build', '-o', binary, './cmd/fedgate'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`go build failed (status ${r.status})`);
}

export { freePort };

// Starts the quickstart on a free loopback port in a temp copy (the copy gets
// its own data/ dir, so no keys or state leak between tests or into the repo).
export async function startFedgate(t) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedgate-e2e-'));
  for (const name of ['fedgate.yaml', 'users.yaml', 'policies']) {
    await cp(path.join(quickstart, name), path.join(dir, name), { recursive: true });
  }
  const port = await freePort();
  const config = path.join(dir, 'fedgate.yaml');
  const yaml = await readFile(config, 'utf8');
  await writeFile(config, yaml.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`).replaceAll('localhost:8080', `localhost:${port}`));
  const fg = await runFedgate(t, dir, config, `http://127.0.0.1:${port}`);
  // The demo app is proxied on its own host name: localhost, same port.
  return { ...fg, baseURL: fg.base, appURL: `http://localhost:${port}` };
}

// runFedgate serves config (in dir, removed afterwards) until the test ends,
// and waits for base/healthz. stdout is the audit log, one JSON object per
// line: auditLines() has the whole lines so far, audit(fields) waits for one.
export async function runFedgate(t, dir, config, base) {
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
  proc.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
  let exited = null;
  const exit = new Promise((resolve) => proc.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    resolve();
  }));
  t.after(async () => {
    if (!exited) {
      proc.kill('SIGTERM');
      // A hung shutdown must not hang the test run.
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`fedgate ${exited} before /healthz answered:\n${stderr}`);
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`fedgate /healthz not 200 within 15 s:\n${stderr}`);
    await sleep(100);
  }
  // The audit line is written around the response the client saw, but node
  // reads the pipe on its own schedule: wait briefly for it to arrive.
  const audit = async (fields) => {
    const matches = (e) => Object.entries(fields).every(([k, v]) => e[k] === v);
    for (let i = 0; i < 40; i++) {
      const hit = lines.map((l) => JSON.parse(l)).find(matches);
      if (hit) return hit;
      await sleep(50);
    }
    assert.fail(`no audit line with ${JSON.stringify(fields)} in:\n${lines.join('\n')}\n${stderr}`);
  };
  return { base, audit, auditLines: () => [...lines], stderr: () => stderr };
}

// The Debian Chromium; playwright-core never downloads a browser of its own.
export async function launchBrowser(t, args = []) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...args],
  });
  t?.after(() => browser.close());
  return browser;
}
