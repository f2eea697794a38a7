// A dropped socket: switchboard.js reconnects with backoff and a fresh ticket,
// rejoins the room, and media comes back. One page reaches the daemon through a
// TCP proxy that the test cuts, like a network failure would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertServesDemo,
  launchBrowser,
  openParticipant,
  registerThroughUi,
  startDaemon,
  startTcpProxy,
  waitConnected,
  waitFor,
  waitVideo,
  stopDaemon,
} from './harness.js';

let daemon;
let proxy;
let chromium;

before(async () => {
  daemon = await startDaemon();
  await assertServesDemo(daemon.url);
  proxy = await startTcpProxy(daemon.url);
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await proxy?.close();
  await stopDaemon(daemon);
});

/** Starts recording the given switchboard.js events on window.events. */
function record(page, types) {
  return page.evaluate((names) => {
    window.events = [];
    for (const type of names) {
      window.demo.sb.addEventListener(type, (ev) => {
        const { detail } = ev;
        window.events.push({ type, detail: { ...detail, error: detail.error?.message } });
      });
    }
  }, types);
}

const events = (page) => page.evaluate(() => window.events);

test('a dropped connection reconnects, rejoins the room and restores media', { timeout: 60000 }, async () => {
  const pia = await openParticipant(chromium.browser, daemon.url);
  const quinn = await openParticipant(chromium.browser, proxy.url);
  const piaId = await registerThroughUi(pia.page, 'pia');
  const quinnId = await registerThroughUi(quinn.page, 'quinn');

  await pia.page.click('#create-room');
  await pia.page.waitForSelector('#call-view:not([hidden])');
  const roomId = new URL(await pia.page.inputValue('#room-link')).searchParams.get('room');
  await quinn.page.fill('#room-input', roomId);
  await quinn.page.click('#join-room');
  await quinn.page.waitForSelector('#call-view:not([hidden])');
  await waitConnected(pia.page, [quinnId]);
  await waitConnected(quinn.page, [piaId]);

  await record(quinn.page, ['disconnected', 'reconnecting', 'welcome', 'room', 'error']);
  await record(pia.page, ['peer-left', 'peer-joined', 'peer-ready']);
  proxy.dropAll();

  // Quinn: drop noticed, retry scheduled, welcomed again, back in the same room.
  await waitFor(async () => (await events(quinn.page)).some((e) => e.type === 'room'), {
    what: 'quinn rejoins',
    timeout: 20000,
  });
  const seen = await events(quinn.page);
  assert.deepEqual(
    seen.map((e) => e.type),
    ['disconnected', 'reconnecting', 'welcome', 'room'],
    JSON.stringify(seen),
  );
  assert.equal(seen[0].detail.willReconnect, true);
  assert.equal(seen[3].detail.roomId, roomId);
  assert.deepEqual(seen[3].detail.members, [piaId, quinnId]);

  // Pia: saw quinn leave (host unchanged) and come back, ready again (the
  // demo said Ready on joining; switchboard.js repeats it after a rejoin).
  await waitFor(async () => (await events(pia.page)).some((e) => e.type === 'peer-ready'), { what: 'pia sees quinn return' });
  const piaSeen = await events(pia.page);
  assert.deepEqual(
    piaSeen.map((e) => [e.type, e.detail.peerId]),
    [['peer-left', quinnId], ['peer-joined', quinnId], ['peer-ready', quinnId]],
  );
  assert.equal(piaSeen[0].detail.host, piaId);

  // Media reconnects on fresh peer connections.
  await waitConnected(pia.page, [quinnId]);
  await waitConnected(quinn.page, [piaId]);
  await waitVideo(pia.page, [quinnId]);
  await waitVideo(quinn.page, [piaId]);
  assert.equal(await quinn.page.isVisible('#call-view'), true, 'quinn stays on the call page');
});
