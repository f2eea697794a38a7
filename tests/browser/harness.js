// Shared helpers for the browser tests: the real daemon, coturn, Chromium and
// bounded waits. Every wait has a deadline; nothing sleeps to synchronise.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const artifactsDir = path.join(repoRoot, 'tests/browser/artifacts');

const children = new Set();

// Daemons and coturn must not outlive the runner, even when it is killed
// (the script's timeout sends SIGTERM): kill what is left on the way out.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
}

export async function tempDir(prefix) {
  return mkdtemp(path.join(os.tmpdir(), `switchboard-${prefix}-`));
}

/** Resolves with fn()'s first truthy result; rejects after `timeout` ms. */
export async function waitFor(fn, { timeout = 15000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

function spawnTracked(command, args, options) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then wait (bounded) for the exit; SIGKILL if it hangs. Returns the exit info. */
async function stop(child, timeout = 10000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const [code, signal] = await exited;
  clearTimeout(timer);
  return { code, signal };
}

/**
 * Starts the daemon on a free port with a fresh database. Resolves to
 * {url, stop(), logs()} once it printed `listening on http://HOST:PORT`.
 */
export async function startDaemon(extraEnv = {}) {
  const dir = await tempDir('daemon');
  const bin = path.resolve(repoRoot, process.env.SWITCHBOARD_BIN ?? 'build/dev/switchboard');
  const child = spawnTracked(bin, [], {
    env: {
      ...process.env,
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      DB_PATH: path.join(dir, 'sb.db'),
      WEB_ROOT: path.join(repoRoot, 'web'),
      ARGON2_OPSLIMIT: '1',
      ARGON2_MEMLIMIT: '8192',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
  });
  const output = [];
  child.stderr.on('data', (chunk) => output.push(chunk.toString()));
  const lines = readline.createInterface({ input: child.stdout });

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not print "listening on" within 10 s:\n${output.join('')}`)), 10000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin}: ${error.message} (build it first, or set SWITCHBOARD_BIN)`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited (${code ?? signal}) before listening:\n${output.join('')}`));
    });
    lines.on('line', (line) => {
      output.push(`${line}\n`);
      const match = /^listening on (http:\/\/\S+)$/.exec(line.trim());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });

  return {
    url,
    logs: () => output.join(''),
    async stop() {
      const result = await stop(child);
      await rm(dir, { recursive: true, force: true });
      return result;
    },
  };
}

/** Stops the daemon with SIGTERM; fails unless it exits 0, as the protocol requires. */
export async function stopDaemon(daemon) {
  if (!daemon) return;
  const { code, signal } = await daemon.stop();
  assert.equal(code, 0, `daemon exited with ${code ?? signal} after SIGTERM:\n${daemon.logs()}`);
}

/**
 * Fails fast, with the reason, when the daemon does not serve the demo page and
 * its module (web/switchboard.js is a symlink into clients/js/): otherwise every
 * UI step would only time out.
 */
export async function assertServesDemo(baseUrl) {
  for (const [file, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/switchboard.js', 'text/javascript']]) {
    const res = await fetch(new URL(file, baseUrl));
    const got = res.headers.get('content-type') ?? '';
    if (res.status !== 200 || !got.startsWith(type)) {
      throw new Error(`GET ${file}: expected 200 ${type}, got ${res.status} ${got} ${(await res.text()).slice(0, 200)}`);
    }
  }
}

/** A port that is free for both UDP and TCP on 127.0.0.1 (coturn listens on both). */
async function freePort() {
  for (let i = 0; i < 20; i += 1) {
    const udp = dgram.createSocket('udp4');
    await new Promise((resolve, reject) => udp.bind(0, '127.0.0.1', resolve).once('error', reject));
    const { port } = udp.address();
    const tcp = net.createServer();
    const ok = await new Promise((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    if (ok) {
      await new Promise((resolve) => tcp.close(resolve));
      return port;
    }
  }
  throw new Error('no free port');
}

/** Sends a STUN Binding request; resolves true when a Binding success arrives. */
function stunPing(port, timeout = 300) {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request
    request.writeUInt32BE(0x2112a442, 4); // magic cookie
    for (let i = 8; i < 20; i += 1) request[i] = Math.floor(Math.random() * 256);
    const done = (ok) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeout);
    socket.on('message', (msg) => done(msg.readUInt16BE(0) === 0x0101));
    socket.on('error', () => done(false));
    socket.send(request, port, '127.0.0.1');
  });
}

/**
 * Starts coturn on loopback with the TURN REST API secret. Resolves to
 * {port, url, stop()} once it answers STUN.
 */
export async function startCoturn(secret) {
  const dir = await tempDir('coturn');
  const port = await freePort();
  const child = spawnTracked('turnserver', [
    '-c', '/dev/null', // ignore /etc/turnserver.conf (Debian's logs to syslog)
    `--listening-port=${port}`,
    '--listening-ip=127.0.0.1',
    '--relay-ip=127.0.0.1',
    '--allow-loopback-peers',
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    '--realm=switchboard',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--log-file=stdout',
    `--userdb=${path.join(dir, 'turndb')}`,
    `--pidfile=${path.join(dir, 'turnserver.pid')}`,
  ]);
  const output = [];
  child.stdout.on('data', (chunk) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk) => output.push(chunk.toString()));
  let failure = null;
  child.once('error', (error) => (failure = error));
  await waitFor(
    async () => {
      if (failure) throw failure;
      if (child.exitCode !== null) throw new Error(`turnserver exited ${child.exitCode}:\n${output.join('')}`);
      return stunPing(port);
    },
    { timeout: 10000, interval: 50, what: 'coturn to answer STUN' },
  );
  return {
    port,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    logs: () => output.join(''),
    async stop() {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `child` printed a line matching `pattern` (stdout or stderr); rejects on exit or after `timeout` ms. */
function awaitLine(child, pattern, output, what, timeout = 30000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready within ${timeout} ms:\n${output.join('')}`)), timeout);
    const look = (chunk) => {
      output.push(chunk.toString());
      if (pattern.test(output.join(''))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${what}: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}):\n${output.join('')}`));
    });
  });
}

/** A redis-server of the test's own on loopback, nothing saved. Resolves to {url, stop()}. */
export async function startRedis() {
  const dir = await tempDir('redis');
  const port = await freePort();
  const child = spawnTracked('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  await awaitLine(child, /Ready to accept connections/, [], 'redis-server');
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A PostgreSQL 15 server of the test's own: a fresh cluster (initdb, no fsync) in a temp dir,
 * `postgres` in the foreground as our child (as the `postgres` user when we are root: initdb
 * refuses root). Resolves to {url, stop()}; the database is `postgres`, the user `switchboard`.
 */
export async function startPostgres() {
  const bin = '/usr/lib/postgresql/15/bin';
  const dir = await tempDir('postgres');
  const as = {};
  if (process.getuid() === 0) {
    as.uid = Number(execFileSync('id', ['-u', 'postgres']));
    as.gid = Number(execFileSync('id', ['-g', 'postgres']));
    await chown(dir, as.uid, as.gid);
  }
  const data = path.join(dir, 'data');
  execFileSync(`${bin}/initdb`, ['-D', data, '-A', 'trust', '-U', 'switchboard', '-E', 'UTF8', '--locale=C', '--no-sync'], {
    ...as,
    stdio: 'pipe',
  });
  const port = await freePort();
  const child = spawnTracked(
    `${bin}/postgres`,
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
    as,
  );
  await awaitLine(child, /database system is ready to accept connections/, [], 'postgres');
  return {
    url: `postgresql://switchboard@127.0.0.1:${port}/postgres?sslmode=disable`,
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A cluster of `count` daemons (protocol.md section 6) on a Redis and a PostgreSQL of its own,
 * NODE_ID c1, c2, ... Resolves to {daemons, stop()} once every daemon's /readyz answers 200
 * (Redis and the account store reached). stop() fails unless each daemon exits 0.
 */
export async function startCluster(count, extraEnv = {}) {
  const redis = await startRedis();
  const postgres = await startPostgres().catch(async (error) => {
    await redis.stop();
    throw error;
  });
  const daemons = [];
  try {
    for (let i = 1; i <= count; i += 1) {
      daemons.push(await startDaemon({ REDIS_URL: redis.url, DB_URL: postgres.url, NODE_ID: `c${i}`, ...extraEnv }));
    }
    for (const daemon of daemons) {
      await waitFor(async () => (await fetch(new URL('/readyz', daemon.url))).status === 200, {
        what: `${daemon.url}/readyz`,
      });
    }
  } catch (error) {
    for (const daemon of daemons) await daemon.stop();
    await postgres.stop();
    await redis.stop();
    throw error;
  }
  return {
    daemons,
    async stop() {
      const results = [];
      for (const daemon of daemons) results.push([daemon, await daemon.stop()]);
      await postgres.stop();
      await redis.stop();
      for (const [daemon, { code, signal }] of results) {
        assert.equal(code, 0, `daemon exited with ${code ?? signal} after SIGTERM:\n${daemon.logs()}`);
      }
    },
  };
}

/**
 * A TCP proxy in front of `targetUrl`, so a test can cut a page's connections
 * the way a network failure would (a reset, no WebSocket close handshake).
 * Resolves to {url, dropAll(), hold(), release(), close()}.
 */
export async function startTcpProxy(targetUrl) {
  const target = new URL(targetUrl);
  const sockets = new Set();
  let holding = false;
  const server = net.createServer((client) => {
    if (holding) {
      client.resetAndDestroy(); // the network is down: nothing gets through
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Resets every open connection; new ones are still accepted (unless held). */
    dropAll() {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    /** From now on new connections are reset at once, until release(). */
    hold() {
      holding = true;
    },
    release() {
      holding = false;
    },
    async close() {
      holding = true;
      this.dropAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Debian's Chromium, headless, fake camera and microphone, loopback ICE. */
export async function launchBrowser() {
  const home = await tempDir('chromium');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
    ],
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
    timeout: 30000,
  });
  return {
    browser,
    async close() {
      await browser.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * A participant: its own browser context (own localStorage, own account) on the
 * demo page. Console errors are collected for failure messages.
 */
export async function openParticipant(browser, baseUrl, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport, baseURL: baseUrl });
  await context.grantPermissions(['camera', 'microphone']);
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const console = [];
  page.on('console', (msg) => console.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (error) => console.push(`[pageerror] ${error.message}`));
  return { context, page, console };
}

/** Registers `username` through the demo's sign-in form and waits for the lobby. */
export async function registerThroughUi(page, username, { password = 'correct horse battery', url = '/' } = {}) {
  await page.goto(url);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#register');
  await page.waitForSelector('#lobby-view:not([hidden])');
  await waitFor(() => page.evaluate(() => window.demo.state()?.connected), { what: `${username} online` });
  return page.evaluate(() => window.demo.state().userId);
}

/** The page's per-peer ICE states: {peerId: iceConnectionState}. */
export function iceStates(page) {
  return page.evaluate(() => {
    const peers = window.demo.state()?.peers ?? {};
    return Object.fromEntries(Object.entries(peers).map(([id, p]) => [id, p.iceConnectionState]));
  });
}

const isConnected = (state) => state === 'connected' || state === 'completed';

/** Waits until `page` has a connected RTCPeerConnection to each of `peerIds` (and no other). */
export async function waitConnected(page, peerIds, timeout = 20000) {
  const want = peerIds.map(String).sort();
  await waitFor(
    async () => {
      const states = await iceStates(page);
      const ids = Object.keys(states).sort();
      return JSON.stringify(ids) === JSON.stringify(want) && ids.every((id) => isConnected(states[id]));
    },
    { timeout, what: `ICE connected to ${want.join(', ')}`, interval: 200 },
  ).catch(async (error) => {
    error.message += `; states: ${JSON.stringify(await iceStates(page))}`;
    throw error;
  });
}

/** Summed inbound-rtp video framesDecoded on the connection to `peerId`. */
export function framesDecoded(page, peerId) {
  return page.evaluate(async (id) => {
    const pc = window.demo.peerConnection(id);
    if (!pc) return 0;
    let frames = 0;
    for (const report of (await pc.getStats()).values()) {
      if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded ?? 0;
    }
    return frames;
  }, peerId);
}

/** Waits until `page` decodes video from every one of `peerIds`. */
export async function waitVideo(page, peerIds, timeout = 20000) {
  for (const id of peerIds) {
    await waitFor(async () => (await framesDecoded(page, id)) > 0, {
      timeout,
      interval: 250,
      what: `video frames decoded from user ${id}`,
    });
  }
}
