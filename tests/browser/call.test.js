// Mesh calls through the demo page against the real daemon: two then three
// participants, DataChannel, simultaneous offers, reload, leave and host
// hand-over, screenshots. The steps run in order and share one call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  assertServesDemo,
  artifactsDir,
  framesDecoded,
  launchBrowser,
  openParticipant,
  registerThroughUi,
  repoRoot,
  startDaemon,
  waitConnected,
  waitFor,
  waitVideo,
  stopDaemon,
} from './harness.js';

let daemon;
let chromium;
const people = {}; // name -> {page, context, console, id}
let roomId;

before(async () => {
  daemon = await startDaemon();
  await assertServesDemo(daemon.url);
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await stopDaemon(daemon);
});

/** Adds a participant named `name`, registered through the UI. */
async function arrive(name) {
  const person = await openParticipant(chromium.browser, daemon.url);
  person.id = await registerThroughUi(person.page, name);
  people[name] = person;
  return person;
}

/** Opens the room link and clicks Join, as a person who got the link would. */
async function joinThroughLink(person) {
  await person.page.goto(`/?room=${encodeURIComponent(roomId)}`);
  await person.page.waitForSelector('#lobby-view:not([hidden])');
  assert.equal(await person.page.inputValue('#room-input'), roomId, 'room link prefills the room');
  await waitFor(() => person.page.evaluate(() => window.demo.state()?.connected), { what: 'online' });
  await person.page.click('#join-room');
  await person.page.waitForSelector('#call-view:not([hidden])');
}

/** Every listed participant is connected to, and decodes video from, every other. */
async function assertFullMesh(names) {
  for (const name of names) {
    const others = names.filter((n) => n !== name).map((n) => people[n].id);
    await waitConnected(people[name].page, others);
  }
  for (const name of names) {
    const others = names.filter((n) => n !== name).map((n) => people[n].id);
    await waitVideo(people[name].page, others);
  }
}

function demoState(name) {
  return people[name].page.evaluate(() => window.demo.state());
}

function dump() {
  return Object.entries(people)
    .map(([name, p]) => `--- ${name} (user ${p.id}) console:\n${p.console.slice(-30).join('\n')}`)
    .join('\n');
}

test('two pages join one room through the demo UI and exchange video', { timeout: 60000 }, async () => {
  const alice = await arrive('alice');
  await alice.page.click('#create-room');
  await alice.page.waitForSelector('#call-view:not([hidden])');
  const link = await alice.page.inputValue('#room-link');
  roomId = new URL(link).searchParams.get('room');
  assert.ok(roomId, `room link carries the room id: ${link}`);
  assert.equal(new URL(alice.page.url()).searchParams.get('room'), roomId, 'address bar shows the room link');
  assert.equal(await alice.page.textContent('#host-label'), 'You are the host');

  const bob = await arrive('bob');
  await joinThroughLink(bob);
  await assertFullMesh(['alice', 'bob']).catch((error) => {
    error.message += `\n${dump()}`;
    throw error;
  });

  const bobState = await demoState('bob');
  assert.deepEqual(bobState.members, [alice.id, bob.id], 'members in join order');
  assert.equal(bobState.host, alice.id);
  // Names travel over the DataChannel: bob's page labels the host by name.
  await waitFor(async () => (await bob.page.textContent('#host-label')) === 'Host: alice', {
    what: 'bob sees "Host: alice"',
  });
  assert.equal(await bob.page.locator('#tiles .tile video').count(), 2, 'local and one remote tile');
});

test('a DataChannel message makes the round trip', { timeout: 30000 }, async () => {
  const { alice, bob } = people;
  await waitFor(
    () =>
      Promise.all([alice, bob].map((p) => p.page.evaluate(() => Object.values(window.demo.state().peers)[0]?.dataChannel))).then(
        (states) => states.every((s) => s === 'open'),
      ),
    { what: 'DataChannels open' },
  );
  const ping = JSON.stringify({ type: 'ping', nonce: Math.random() });
  assert.ok(await alice.page.evaluate(([to, data]) => window.demo.sb.send(to, data), [bob.id, ping]));
  await waitFor(
    () => bob.page.evaluate(([from, data]) => window.demo.messages.some((m) => m.peerId === from && m.data === data), [alice.id, ping]),
    { what: 'bob receives the ping' },
  );
  const pong = ping.replace('ping', 'pong');
  assert.ok(await bob.page.evaluate(([to, data]) => window.demo.sb.send(to, data), [alice.id, pong]));
  await waitFor(
    () => alice.page.evaluate(([from, data]) => window.demo.messages.some((m) => m.peerId === from && m.data === data), [bob.id, pong]),
    { what: 'alice receives the pong' },
  );
});

test('a third page joins: full mesh of three, all decoding video', { timeout: 60000 }, async () => {
  const carol = await arrive('carol');
  await joinThroughLink(carol);
  await assertFullMesh(['alice', 'bob', 'carol']).catch((error) => {
    error.message += `\n${dump()}`;
    throw error;
  });
  for (const name of ['alice', 'bob', 'carol']) {
    const state = await demoState(name);
    assert.deepEqual(state.members, [people.alice.id, people.bob.id, people.carol.id], `${name}'s member list`);
    assert.equal(await people[name].page.locator('#tiles .tile').count(), 3, `${name} shows three tiles`);
  }
});

test('screenshot of the call page', { timeout: 30000 }, async () => {
  const { page } = people.alice;
  // Every tile playing, so the picture shows video rather than black boxes.
  await waitFor(
    () => page.evaluate(() => [...document.querySelectorAll('#tiles video')].every((v) => v.readyState >= 2 && v.videoWidth > 0)),
    { what: 'all tiles playing' },
  );
  await mkdir(artifactsDir, { recursive: true });
  const laptop = path.join(artifactsDir, 'call-laptop.png');
  await page.screenshot({ path: laptop });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(artifactsDir, 'call-phone.png') });
  await page.setViewportSize({ width: 1280, height: 800 });
  if (process.env.UPDATE_SCREENSHOT === '1') {
    await mkdir(path.join(repoRoot, 'docs'), { recursive: true });
    await copyFile(laptop, path.join(repoRoot, 'docs/screenshot.png'));
  }
});

test('mute buttons switch the local tracks off and on', { timeout: 15000 }, async () => {
  const { page } = people.alice;
  const enabled = (kind) =>
    page.evaluate((k) => window.demo.sb.localStream.getTracks().find((t) => t.kind === k).enabled, kind);
  for (const [button, kind] of [['#mute-audio', 'audio'], ['#mute-video', 'video']]) {
    await page.click(button);
    assert.equal(await page.getAttribute(button, 'aria-pressed'), 'true');
    assert.equal(await enabled(kind), false, `${kind} muted`);
    await page.click(button);
    assert.equal(await page.getAttribute(button, 'aria-pressed'), 'false');
    assert.equal(await enabled(kind), true, `${kind} back on`);
  }
});

test('both sides offer at once: perfect negotiation still converges', { timeout: 45000 }, async () => {
  const { alice, bob } = people;
  // Hold each page's outgoing SDP/ICE so both offers are created before either
  // side sees the other's: a guaranteed collision, not a lucky race.
  const hold = (page) =>
    page.evaluate(() => {
      const send = WebSocket.prototype.send;
      const held = [];
      window.__releaseSignals = () => {
        WebSocket.prototype.send = send;
        for (const [ws, data] of held) ws.send(data);
      };
      WebSocket.prototype.send = function (data) {
        const type = JSON.parse(data).msg_type;
        if (type === 2 || type === 3) held.push([this, data]);
        else send.call(this, data);
      };
    });
  await hold(alice.page);
  await hold(bob.page);

  // A new transceiver on each side needs an offer from each side.
  const addTransceiver = (page, peerId) =>
    page.evaluate((id) => {
      window.demo.peerConnection(id).addTransceiver('video', { direction: 'recvonly' });
    }, peerId);
  await Promise.all([addTransceiver(alice.page, bob.id), addTransceiver(bob.page, alice.id)]);
  const signaling = (page, peerId) => page.evaluate((id) => window.demo.peerConnection(id).signalingState, peerId);
  await waitFor(
    async () => (await signaling(alice.page, bob.id)) === 'have-local-offer' && (await signaling(bob.page, alice.id)) === 'have-local-offer',
    { what: 'both sides holding an offer' },
  );
  await Promise.all([alice.page.evaluate(() => window.__releaseSignals()), bob.page.evaluate(() => window.__releaseSignals())]);

  // Converged: stable on both ends, every transceiver negotiated (both new ones
  // included), still connected, video still flowing.
  const negotiated = (page, peerId) =>
    page.evaluate((id) => {
      const pc = window.demo.peerConnection(id);
      const transceivers = pc.getTransceivers();
      return pc.signalingState === 'stable' && transceivers.every((t) => t.mid !== null) ? transceivers.length : 0;
    }, peerId);
  await waitFor(
    async () => {
      const [a, b] = [await negotiated(alice.page, bob.id), await negotiated(bob.page, alice.id)];
      return a === 4 && b === 4; // audio + video + one added by each side
    },
    { what: 'renegotiation complete on both sides', timeout: 20000 },
  );
  await waitConnected(alice.page, [bob.id, people.carol.id]);
  await waitConnected(bob.page, [alice.id, people.carol.id]);
  const before = await framesDecoded(alice.page, bob.id);
  await waitFor(async () => (await framesDecoded(alice.page, bob.id)) > before, { what: 'video keeps flowing' });
});

test('a page reloads, rejoins and reconnects media', { timeout: 60000 }, async () => {
  const { bob } = people;
  await bob.page.reload();
  await bob.page.waitForSelector('#lobby-view:not([hidden])'); // signed in from localStorage
  await waitFor(() => bob.page.evaluate(() => window.demo.state()?.connected), { what: 'bob online again' });
  assert.equal(await bob.page.inputValue('#room-input'), roomId, 'the address keeps the room');
  await bob.page.click('#join-room');
  await bob.page.waitForSelector('#call-view:not([hidden])');
  await assertFullMesh(['alice', 'bob', 'carol']).catch((error) => {
    error.message += `\n${dump()}`;
    throw error;
  });
  // Bob rejoined, so he is now last in join order.
  const state = await demoState('alice');
  assert.deepEqual(state.members, [people.alice.id, people.carol.id, people.bob.id]);
});

test('the host leaves: the others see it go and the next in join order is host', { timeout: 30000 }, async () => {
  const { alice, bob, carol } = people;
  await alice.page.click('#leave');
  await alice.page.waitForSelector('#lobby-view:not([hidden])');
  for (const person of [bob, carol]) {
    await waitFor(
      async () => {
        const state = await person.page.evaluate(() => window.demo.state());
        return state.host === carol.id && !state.members.includes(alice.id) && !(alice.id in state.peers);
      },
      { what: 'alice gone and carol host' },
    );
    await waitFor(async () => (await person.page.locator(`#tiles .tile[data-peer-id="${alice.id}"]`).count()) === 0, {
      what: "alice's tile removed",
    });
  }
  // Carol joined before bob's rejoin, so she is next in join order.
  assert.equal(await carol.page.textContent('#host-label'), 'You are the host');
  assert.equal(await bob.page.textContent('#host-label'), 'Host: carol');
  await waitConnected(bob.page, [carol.id]);
  await waitConnected(carol.page, [bob.id]);
});

test('sign out, then sign in again: a new API key replaces the old one', { timeout: 20000 }, async () => {
  const { page } = people.alice;
  const storedKey = () => page.evaluate(() => JSON.parse(localStorage.getItem('switchboard.session'))?.apiKey ?? null);
  const oldKey = await storedKey();
  await page.click('#sign-out');
  await page.waitForSelector('#auth-view:not([hidden])');
  assert.equal(await storedKey(), null, 'signing out forgets the key');

  await page.fill('#username', 'alice');
  await page.fill('#password', 'wrong password');
  await page.click('#signin');
  await waitFor(async () => (await page.textContent('#auth-error')) === 'Wrong username or password.', {
    what: 'wrong password reported',
  });

  await page.fill('#password', 'correct horse battery');
  await page.click('#signin');
  await page.waitForSelector('#lobby-view:not([hidden])');
  await waitFor(() => page.evaluate(() => window.demo.state()?.connected), { what: 'alice online' });
  const newKey = await storedKey();
  assert.ok(newKey && newKey !== oldKey, 'a fresh key is stored');
  const ticket = (key) => fetch(new URL('/ws-ticket', daemon.url), { method: 'POST', headers: { 'X-API-Key': key } });
  assert.equal((await ticket(oldKey)).status, 401, 'the old key no longer works');
  assert.equal((await ticket(newKey)).status, 200, 'the new key works');
});

test('no page saw a protocol or WebRTC error along the way', () => {
  // The demo logs every switchboard.js `error` event as "switchboard: ...".
  const errors = Object.entries(people).flatMap(([name, p]) =>
    p.console.filter((line) => line.includes('switchboard:') || line.startsWith('[pageerror]')).map((line) => `${name}: ${line}`),
  );
  assert.deepEqual(errors, []);
});
