// A video call across two daemons of one cluster (protocol.md section 6): Redis and
// PostgreSQL of the test's own, two daemons on them, and each page on its own daemon (the
// demo page talks to the daemon that served it). The call must connect as on one daemon.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertServesDemo,
  launchBrowser,
  openParticipant,
  registerThroughUi,
  startCluster,
  waitConnected,
  waitFor,
  waitVideo,
} from './harness.js';

let cluster;
let chromium;
const people = {}; // name -> {page, context, console, id}

before(async () => {
  // Debug logs name each WebSocket's user: which daemon holds whom.
  cluster = await startCluster(2, { LOG_LEVEL: 'debug' });
  for (const daemon of cluster.daemons) await assertServesDemo(daemon.url);
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await cluster?.stop();
});

function dump() {
  return Object.entries(people)
    .map(([name, p]) => `--- ${name} (user ${p.id}) console:\n${p.console.slice(-30).join('\n')}`)
    .join('\n');
}

test('two pages on two daemons of a cluster join one room and exchange video', { timeout: 60000 }, async () => {
  const [one, two] = cluster.daemons;
  const alice = await openParticipant(chromium.browser, one.url);
  alice.id = await registerThroughUi(alice.page, 'alice');
  people.alice = alice;
  await alice.page.click('#create-room');
  await alice.page.waitForSelector('#call-view:not([hidden])');
  const roomId = new URL(await alice.page.inputValue('#room-link')).searchParams.get('room');
  assert.ok(roomId, 'the room link carries the room id');

  // Bob signs up on the other daemon (one account store) and opens the link there.
  const bob = await openParticipant(chromium.browser, two.url);
  bob.id = await registerThroughUi(bob.page, 'bob');
  people.bob = bob;
  await bob.page.goto(`/?room=${encodeURIComponent(roomId)}`);
  await bob.page.waitForSelector('#lobby-view:not([hidden])');
  await waitFor(() => bob.page.evaluate(() => window.demo.state()?.connected), { what: 'bob online' });
  await bob.page.click('#join-room');
  await bob.page.waitForSelector('#call-view:not([hidden])');

  // Each WebSocket is on its page's daemon, and only there.
  const connected = (daemon, name) => new RegExp(`ws connected user_id=\\d+ username=${name} `).test(daemon.logs());
  assert.ok(connected(one, 'alice') && !connected(two, 'alice'), 'alice is connected to daemon c1 only');
  assert.ok(connected(two, 'bob') && !connected(one, 'bob'), 'bob is connected to daemon c2 only');

  try {
    await waitConnected(alice.page, [bob.id]);
    await waitConnected(bob.page, [alice.id]);
    await waitVideo(alice.page, [bob.id]);
    await waitVideo(bob.page, [alice.id]);
  } catch (error) {
    error.message += `\n${dump()}`;
    throw error;
  }
  const bobState = await bob.page.evaluate(() => window.demo.state());
  assert.deepEqual(bobState.members, [alice.id, bob.id], 'members in join order');
  assert.equal(bobState.host, alice.id);
  // Names travel over the DataChannel: bob's page labels the host by name.
  await waitFor(async () => (await bob.page.textContent('#host-label')) === 'Host: alice', {
    what: 'bob sees "Host: alice"',
  });
  assert.equal(await bob.page.locator('#tiles .tile video').count(), 2, 'local and one remote tile');
});

test('no page saw a protocol or WebRTC error', () => {
  const errors = Object.entries(people).flatMap(([name, p]) =>
    p.console.filter((line) => line.includes('switchboard:') || line.startsWith('[pageerror]')).map((line) => `${name}: ${line}`),
  );
  assert.deepEqual(errors, []);
});
