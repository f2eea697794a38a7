// TURN: coturn on loopback with the REST API shared secret, the daemon minting
// credentials in Welcome. A relay-only call works with the minted credentials;
// expired and forged credentials get no relay and no call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  assertServesDemo,
  launchBrowser,
  openParticipant,
  registerThroughUi,
  startCoturn,
  startDaemon,
  waitConnected,
  waitFor,
  waitVideo,
  stopDaemon,
} from './harness.js';

const SECRET = crypto.randomBytes(18).toString('base64url');
const TTL = 600;

let coturn;
let daemon;
let chromium;

before(async () => {
  coturn = await startCoturn(SECRET);
  daemon = await startDaemon({ TURN_URLS: coturn.url, TURN_SECRET: SECRET, TURN_TTL: String(TTL) });
  await assertServesDemo(daemon.url);
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await stopDaemon(daemon);
  await coturn?.stop();
});

const hmac = (secret, username) => crypto.createHmac('sha1', secret).update(username).digest('base64');
const urlsOf = (server) => [server.urls].flat();
const turnEntry = (iceServers) => iceServers.find((s) => urlsOf(s).some((u) => u.startsWith('turn:')));

/** An account made over REST (for pages that drive switchboard.js directly). */
async function account(username) {
  const res = await fetch(new URL('/register', daemon.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ Username: username, Password: 'correct horse battery' }),
  });
  assert.equal(res.status, 201, `register ${username}`);
  return res.json();
}

/**
 * Gathers candidates in `page` with only `iceServers`, relay-only. Resolves to
 * {relay: number of relay candidates, errors: [icecandidateerror codes]}.
 */
function gatherRelay(page, iceServers) {
  return page.evaluate(async (servers) => {
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: 'relay' });
    const result = { relay: 0, errors: [] };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate?.type === 'relay') result.relay += 1;
    };
    pc.onicecandidateerror = (ev) => result.errors.push(ev.errorCode);
    pc.createDataChannel('probe');
    const complete = new Promise((resolve) => {
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    });
    await pc.setLocalDescription();
    await Promise.race([complete, new Promise((resolve) => setTimeout(resolve, 10000))]);
    result.complete = pc.iceGatheringState === 'complete';
    pc.close();
    return result;
  }, iceServers);
}

test('Welcome carries TURN REST API credentials coturn accepts', { timeout: 30000 }, async () => {
  const { page } = await openParticipant(chromium.browser, daemon.url);
  const userId = await registerThroughUi(page, 'tina');
  const iceServers = await page.evaluate(() => window.demo.sb.iceServers);
  const turn = turnEntry(iceServers);
  assert.ok(turn, `a turn: entry in ice_servers: ${JSON.stringify(iceServers)}`);
  assert.deepEqual(urlsOf(turn), [coturn.url]);

  const match = /^(\d+):(\d+)$/.exec(turn.username);
  assert.ok(match, `username is "<expiry>:<user_id>": ${turn.username}`);
  assert.equal(Number(match[2]), userId);
  const expiresIn = Number(match[1]) - Date.now() / 1000;
  assert.ok(expiresIn > TTL - 60 && expiresIn <= TTL + 5, `expiry about TURN_TTL from now (${expiresIn} s)`);
  assert.equal(turn.credential, hmac(SECRET, turn.username), 'credential = base64(HMAC-SHA1(secret, username))');

  const allocation = await gatherRelay(page, [turn]);
  assert.ok(allocation.relay > 0, `a relay candidate from coturn: ${JSON.stringify(allocation)}`);
});

test('expired and forged credentials get no relay allocation', { timeout: 30000 }, async () => {
  const { page } = await openParticipant(chromium.browser, daemon.url);
  await page.goto('/');
  const now = Math.floor(Date.now() / 1000);
  const expiredName = `${now - 60}:1`;
  const validName = `${now + 600}:1`;
  const expired = { urls: coturn.url, username: expiredName, credential: hmac(SECRET, expiredName) };
  const forged = { urls: coturn.url, username: validName, credential: hmac('not-the-secret', validName) };
  for (const [what, server] of [['expired', expired], ['forged', forged]]) {
    const allocation = await gatherRelay(page, [server]);
    assert.equal(allocation.relay, 0, `${what} credential: ${JSON.stringify(allocation)}`);
    assert.ok(allocation.complete, `${what}: gathering finished`);
    assert.ok(allocation.errors.includes(401), `${what}: coturn answered 401: ${JSON.stringify(allocation)}`);
  }
});

test('a relay-only call connects through coturn with the minted credentials', { timeout: 60000 }, async () => {
  const alice = await openParticipant(chromium.browser, daemon.url);
  const bob = await openParticipant(chromium.browser, daemon.url);
  const aliceId = await registerThroughUi(alice.page, 'relay-alice', { url: '/?ice=relay' });
  const bobId = await registerThroughUi(bob.page, 'relay-bob', { url: '/?ice=relay' });
  await alice.page.click('#create-room');
  await alice.page.waitForSelector('#call-view:not([hidden])');
  const link = await alice.page.inputValue('#room-link');
  assert.equal(new URL(link).searchParams.get('ice'), 'relay', 'the link keeps the relay option');
  await bob.page.goto(link);
  await waitFor(() => bob.page.evaluate(() => window.demo.state()?.connected), { what: 'bob online' });
  await bob.page.click('#join-room');

  await waitConnected(alice.page, [bobId]);
  await waitConnected(bob.page, [aliceId]);
  await waitVideo(alice.page, [bobId]);
  await waitVideo(bob.page, [aliceId]);

  for (const [page, peerId] of [[alice.page, bobId], [bob.page, aliceId]]) {
    const pair = await page.evaluate(async (id) => {
      const stats = await window.demo.peerConnection(id).getStats();
      const transport = [...stats.values()].find((r) => r.type === 'transport' && r.selectedCandidatePairId);
      const selected = stats.get(transport.selectedCandidatePairId);
      return {
        local: stats.get(selected.localCandidateId).candidateType,
        remote: stats.get(selected.remoteCandidateId).candidateType,
      };
    }, peerId);
    assert.deepEqual(pair, { local: 'relay', remote: 'relay' }, 'selected candidate pair is relayed');
  }
});

test('a relay-only call with expired or forged credentials does not connect', { timeout: 60000 }, async () => {
  const now = Math.floor(Date.now() / 1000);
  const badServers = {
    expired: (userId) => {
      const username = `${now - 60}:${userId}`;
      return [{ urls: coturn.url, username, credential: hmac(SECRET, username) }];
    },
    forged: (userId) => {
      const username = `${now + 600}:${userId}`;
      return [{ urls: coturn.url, username, credential: hmac('not-the-secret', username) }];
    },
  };

  // Both calls run side by side, each between two pages that drive switchboard.js
  // directly with hand-made ice_servers.
  const calls = await Promise.all(
    Object.entries(badServers).map(async ([what, servers]) => {
      const [a, b] = await Promise.all([account(`${what}-a`), account(`${what}-b`)]);
      const pages = [];
      for (const acct of [a, b]) {
        const { page } = await openParticipant(chromium.browser, daemon.url);
        await page.goto('/');
        await page.evaluate(
          async ({ apiKey, iceServers }) => {
            const { Switchboard } = await import('/switchboard.js');
            const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
            const sb = new Switchboard({ apiKey, iceServers, iceTransportPolicy: 'relay', localStream: stream });
            window.probe = { sb, states: [] };
            sb.addEventListener('peer-state', (ev) => window.probe.states.push(ev.detail.iceConnectionState));
            await sb.connect();
          },
          { apiKey: acct.api_key, iceServers: servers(acct.user_id) },
        );
        pages.push(page);
      }
      const roomId = await pages[0].evaluate(() => window.probe.sb.createRoom());
      await pages[1].evaluate((id) => window.probe.sb.joinRoom(id), roomId);
      // Signaling works: offer and answer are exchanged, so only TURN can fail.
      for (const [page, peer] of [[pages[0], b.user_id], [pages[1], a.user_id]]) {
        await waitFor(
          () => page.evaluate((id) => window.probe.sb.peerConnection(id)?.remoteDescription?.type, peer),
          { what: `${what}: descriptions exchanged` },
        );
      }
      return { what, pages };
    }),
  );

  // Gathering finishes without a single candidate on either side: with a
  // relay-only policy there is then nothing ICE could ever connect over.
  for (const { what, pages } of calls) {
    for (const page of pages) {
      const result = await waitFor(
        () =>
          page.evaluate(async () => {
            const [peer] = window.probe.sb.peers.values();
            if (peer?.pc.iceGatheringState !== 'complete') return null;
            const stats = [...(await peer.pc.getStats()).values()];
            return {
              candidates: stats.filter((r) => r.type === 'local-candidate' || r.type === 'remote-candidate').length,
              iceConnectionState: peer.pc.iceConnectionState,
              states: window.probe.states,
            };
          }),
        { what: `${what}: ICE gathering complete`, timeout: 20000 },
      );
      assert.equal(result.candidates, 0, `${what} credential: no ICE candidates (${JSON.stringify(result)})`);
      assert.ok(
        ![result.iceConnectionState, ...result.states].some((s) => s === 'connected' || s === 'completed'),
        `${what} credential: ICE never connected (${JSON.stringify(result)})`,
      );
    }
  }
});
