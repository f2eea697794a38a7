// A dropped socket in the middle of a call. One page reaches the daemon through
// a TCP proxy that the test cuts (a reset: no WebSocket close handshake), as a
// network failure would.
//
// Session resume on (the daemon's default): switchboard.js resumes its session.
// The same RTCPeerConnections carry the call throughout, the other page sees
// nothing, what the server kept meanwhile is replayed, what the page queued is
// resent, and signaling goes on (ICE restarts either way).
//
// A request whose frame was lost with the socket: resent on resume, answered,
// its promise resolves.
//
// A resume the client cannot complete (it queued more than it keeps, so the
// server lacks messages it no longer has): it ends that session and rejoins.
//
// A socket down for longer than the window (RESUME_WINDOW=1): the resume gets a
// fresh session; the page says `session-lost` and rejoins, as without resume.
//
// RESUME_WINDOW=0 (resume off): the old behaviour. A fresh session; the page
// rejoins the room, the other side sees PeerLeft then PeerJoined, and media comes
// back on fresh connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertServesDemo,
  framesDecoded,
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

let chromium;
const servers = {}; // resume / shortWindow / noResume -> {daemon, proxy}

before(async () => {
  for (const [name, env] of [
    ['resume', {}],
    ['shortWindow', { RESUME_WINDOW: '1' }],
    ['noResume', { RESUME_WINDOW: '0' }],
  ]) {
    const daemon = await startDaemon(env);
    servers[name] = { daemon };
    await assertServesDemo(daemon.url);
    servers[name].proxy = await startTcpProxy(daemon.url);
  }
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  for (const { daemon, proxy } of Object.values(servers)) {
    await proxy?.close();
    await stopDaemon(daemon);
  }
});

const EVENTS = [
  'disconnected',
  'reconnecting',
  'welcome',
  'resumed',
  'session-lost',
  'room',
  'peer-joined',
  'peer-left',
  'peer-ready',
  'peer-closed',
  'error',
];

/** Starts recording the given switchboard.js events on window.events (afresh). */
function record(page, types = EVENTS) {
  return page.evaluate((names) => {
    window.events = [];
    if (window.recording) return; // listeners already there
    window.recording = true;
    for (const type of names) {
      window.demo.sb.addEventListener(type, (ev) => {
        const detail = { ...ev.detail };
        if (detail.error) detail.error = detail.error.message;
        window.events.push({ type, detail });
      });
    }
  }, types);
}

const events = (page) => page.evaluate(() => window.events);

async function waitEvent(page, type, options = {}) {
  return waitFor(async () => (await events(page)).find((e) => e.type === type), { what: `event ${type}`, ...options });
}

/**
 * Logs every WebSocket the page opens and every frame through it, before the
 * page's scripts run: window.wsLog = [{url, frames: [{dir: 'in'|'out', data}]}],
 * window.wsObjects the sockets themselves (same order). Frames a test injects
 * (untrusted events) are not logged.
 */
function recordSockets(page) {
  return page.addInitScript(() => {
    const Native = window.WebSocket;
    window.wsLog = [];
    window.wsObjects = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        const entry = { url: String(args[0]), frames: [] };
        this.logEntry = entry;
        window.wsLog.push(entry);
        window.wsObjects.push(this);
        this.addEventListener('message', (ev) => ev.isTrusted && entry.frames.push({ dir: 'in', data: ev.data }));
      }

      send(data) {
        this.logEntry.frames.push({ dir: 'out', data });
        super.send(data);
      }
    };
  });
}

/** The page's sockets, frames parsed: [{url, in: [msg], out: [msg]}]. */
async function sockets(page) {
  const log = await page.evaluate(() => window.wsLog);
  return log.map(({ url, frames }) => ({
    url: new URL(url),
    in: frames.filter((f) => f.dir === 'in').map((f) => JSON.parse(f.data)),
    out: frames.filter((f) => f.dir === 'out').map((f) => JSON.parse(f.data)),
  }));
}

const ufrag = (sdp) => /^a=ice-ufrag:(\S+)/m.exec(sdp ?? '')?.[1] ?? null;

/** The negotiation state of the page's connection to `peerId`. */
async function negotiation(page, peerId) {
  const s = await page.evaluate((id) => {
    const pc = window.demo.peerConnection(id);
    return { signaling: pc.signalingState, local: pc.localDescription?.sdp, remote: pc.remoteDescription?.sdp };
  }, peerId);
  return { signaling: s.signaling, localUfrag: ufrag(s.local), remoteUfrag: ufrag(s.remote) };
}

/** Remembers the page's RTCPeerConnection to `peerId` and its tile, and logs the connection's states. */
function markCall(page, peerId) {
  return page.evaluate((id) => {
    const pc = window.demo.peerConnection(id);
    window.kept = { pc, states: [] };
    pc.addEventListener('connectionstatechange', () => window.kept.states.push(pc.connectionState));
    document.querySelector(`#tiles .tile[data-peer-id="${id}"]`).dataset.kept = 'yes';
  }, peerId);
}

/** Is it still the same RTCPeerConnection (never closed, never failed) and the same tile? */
function assertCallKept(page, peerId, who) {
  return page
    .evaluate((id) => {
      const { pc, states } = window.kept;
      return {
        same: window.demo.peerConnection(id) === pc,
        signaling: pc.signalingState,
        states,
        tile: document.querySelector(`#tiles .tile[data-peer-id="${id}"]`)?.dataset.kept ?? null,
      };
    }, peerId)
    .then((kept) => {
      assert.equal(kept.same, true, `${who}: the same RTCPeerConnection`);
      assert.notEqual(kept.signaling, 'closed', `${who}: connection never closed`);
      assert.ok(!kept.states.includes('closed') && !kept.states.includes('failed'), `${who}: states ${kept.states}`);
      assert.equal(kept.tile, 'yes', `${who}: the same video tile`);
    });
}

/** Waits for `page` to decode at least `more` new frames from `peerId`. */
async function waitFrames(page, peerId, more, what) {
  const start = await framesDecoded(page, peerId);
  await waitFor(async () => (await framesDecoded(page, peerId)) >= start + more, { what, timeout: 15000, interval: 200 });
}

/**
 * Pia (direct) creates a room, quinn (through the proxy, sockets logged)
 * joins; both ICE-connected and decoding video.
 */
async function startCall({ daemon, proxy }, piaName, quinnName) {
  const pia = await openParticipant(chromium.browser, daemon.url);
  const quinn = await openParticipant(chromium.browser, proxy.url);
  await recordSockets(quinn.page);
  pia.id = await registerThroughUi(pia.page, piaName);
  quinn.id = await registerThroughUi(quinn.page, quinnName);

  await pia.page.click('#create-room');
  await pia.page.waitForSelector('#call-view:not([hidden])');
  const roomId = new URL(await pia.page.inputValue('#room-link')).searchParams.get('room');
  await quinn.page.fill('#room-input', roomId);
  await quinn.page.click('#join-room');
  await quinn.page.waitForSelector('#call-view:not([hidden])');
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);
  await waitVideo(pia.page, [quinn.id]);
  await waitVideo(quinn.page, [pia.id]);
  return { pia, quinn, roomId };
}

function consoleErrors(...people) {
  return people.flatMap((p) => p.console.filter((line) => line.includes('switchboard:') || line.startsWith('[pageerror]')));
}

const maxSeq = (messages) => Math.max(0, ...messages.map((m) => m.seq ?? 0));

/** Every seq in `messages` follows the one before, starting at `first`. */
function assertConsecutive(messages, first, what) {
  assert.deepEqual(
    messages.map((m) => m.seq),
    messages.map((_, i) => first + i),
    what,
  );
}

test('a dropped socket resumes its session: same peer connections, nothing seen by the other side, signaling goes on', { timeout: 150000 }, async () => {
  const { proxy } = servers.resume;
  const { pia, quinn, roomId } = await startCall(servers.resume, 'pia', 'quinn');
  await record(quinn.page);
  await record(pia.page);
  await markCall(quinn.page, pia.id);
  await markCall(pia.page, quinn.id);

  // --- cut 1: pia renegotiates while quinn is away (the server keeps it) ---
  proxy.hold(); // the network stays down until release()
  proxy.dropAll();
  const cut = await waitEvent(quinn.page, 'disconnected', { what: 'quinn notices the cut' });
  assert.equal(cut.detail.willReconnect, true);
  assert.equal(cut.detail.resuming, true);

  // The page shows it is reconnecting...
  await waitFor(() => quinn.page.isVisible('#conn-banner'), { what: 'the reconnecting banner' });
  assert.match(await quinn.page.textContent('#conn-banner'), /Reconnecting/);
  assert.equal(await quinn.page.textContent('#status'), 'reconnecting…');
  // ...while the call's media keeps flowing both ways.
  await waitFrames(quinn.page, pia.id, 20, 'quinn decodes pia while cut off');
  await waitFrames(pia.page, quinn.id, 20, 'pia decodes quinn while quinn is cut off');

  // Pia restarts ICE: her offer (and candidates) wait for quinn in its session.
  const pia0 = await negotiation(pia.page, quinn.id);
  await pia.page.evaluate((id) => window.demo.peerConnection(id).restartIce(), quinn.id);
  await waitFor(async () => (await negotiation(pia.page, quinn.id)).signaling === 'have-local-offer', {
    what: "pia's ICE restart offer",
  });
  assert.equal(await quinn.page.evaluate(() => window.demo.state().connected), false, 'quinn is still cut off');

  proxy.release();
  await waitEvent(quinn.page, 'resumed', { what: 'quinn resumes', timeout: 30000 });
  let seen = await events(quinn.page);
  assert.ok(
    seen.every((e) => ['disconnected', 'reconnecting', 'welcome', 'resumed'].includes(e.type)),
    `no session-lost, room, peer or error events: ${JSON.stringify(seen)}`,
  );
  assert.deepEqual(seen.slice(-2).map((e) => e.type), ['welcome', 'resumed']);
  assert.equal(seen.at(-2).detail.resumed, true);
  assert.deepEqual(seen.at(-1).detail.rooms, [{ roomId, host: pia.id, members: [pia.id, quinn.id] }]);
  assert.equal(await quinn.page.isVisible('#conn-banner'), false, 'banner gone on resume');
  assert.equal(await quinn.page.textContent('#status'), 'online');

  // On the wire: a fresh ticket, resume=<session>&last_seq=<highest handled>,
  // then Welcome {resumed: true} and the replay, numbered on from there.
  let log = await sockets(quinn.page);
  assert.equal(log.length, 2, 'one socket before the cut, one after');
  const [first, second] = log;
  const session = first.in[0].payload.session;
  assert.equal(first.in[0].msg_type, 12);
  assert.ok(session && first.in[0].payload.resume_window > 0);
  assert.equal(first.in[0].payload.resumed, false);
  assert.notEqual(second.url.searchParams.get('ticket'), first.url.searchParams.get('ticket'), 'a fresh ticket');
  assert.equal(second.url.searchParams.get('resume'), session);
  const lastSeq = maxSeq(first.in);
  assert.equal(Number(second.url.searchParams.get('last_seq')), lastSeq);
  const [welcome, ...replay] = second.in;
  assert.equal(welcome.msg_type, 12);
  assert.equal(welcome.payload.resumed, true);
  assert.equal(welcome.payload.session, session);
  assertConsecutive(first.in.slice(1), 1, 'seq numbers 1, 2, 3, ... before the cut');
  assertConsecutive(replay, lastSeq + 1, 'the replay continues the numbering');
  const replayedOffer = replay.find((m) => m.msg_type === 2);
  assert.ok(replayedOffer, `pia's offer replayed: ${JSON.stringify(replay.map((m) => m.msg_type))}`);
  assert.equal(replayedOffer.from, pia.id);
  assert.equal(replayedOffer.payload.sdp.type, 'offer');
  assert.equal(ufrag(replayedOffer.payload.sdp.sdp), (await negotiation(pia.page, quinn.id)).localUfrag);

  // Quinn answers the replayed offer: pia's restart completes.
  await waitFor(
    async () => {
      const now = await negotiation(pia.page, quinn.id);
      return now.signaling === 'stable' && now.remoteUfrag !== pia0.remoteUfrag && now.localUfrag !== pia0.localUfrag;
    },
    { what: "quinn's answer to pia's replayed offer" },
  );
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);

  // A message delivered twice is handled once: the old RoomJoined (it would
  // re-enter the room, closing the connection) and the replayed offer again.
  const duplicates = await quinn.page.evaluate(() => {
    const socket = window.wsObjects.at(-1);
    const frames = window.wsLog.flatMap((s) => s.frames).filter((f) => f.dir === 'in');
    const joined = frames.find((f) => JSON.parse(f.data).msg_type === 6).data;
    const offer = window.wsLog.at(-1).frames.find((f) => f.dir === 'in' && JSON.parse(f.data).msg_type === 2).data;
    const before = window.events.length;
    socket.dispatchEvent(new MessageEvent('message', { data: joined }));
    socket.dispatchEvent(new MessageEvent('message', { data: offer }));
    return window.events.slice(before);
  });
  assert.deepEqual(duplicates, [], 'duplicates are ignored');

  // --- signaling goes on: quinn (the page that was cut) restarts ICE ---
  const quinn0 = await negotiation(quinn.page, pia.id);
  await quinn.page.evaluate((id) => window.demo.peerConnection(id).restartIce(), pia.id);
  await waitFor(
    async () => {
      const now = await negotiation(quinn.page, pia.id);
      return now.signaling === 'stable' && now.localUfrag !== quinn0.localUfrag && now.remoteUfrag !== quinn0.remoteUfrag;
    },
    { what: "quinn's ICE restart negotiated through the resumed session" },
  );
  assert.equal((await negotiation(pia.page, quinn.id)).remoteUfrag, (await negotiation(quinn.page, pia.id)).localUfrag);
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);
  await waitFrames(pia.page, quinn.id, 10, 'video after quinn restarts ICE');

  // --- cut 2: quinn renegotiates while cut off; resent on resume ---
  await record(quinn.page);
  proxy.hold();
  proxy.dropAll();
  const cut2 = await waitEvent(quinn.page, 'disconnected', { what: 'quinn notices the second cut' });
  assert.equal(cut2.detail.resuming, true);
  const quinn1 = await negotiation(quinn.page, pia.id);
  await quinn.page.evaluate((id) => window.demo.peerConnection(id).restartIce(), pia.id);
  await waitFor(async () => (await negotiation(quinn.page, pia.id)).signaling === 'have-local-offer', {
    what: "quinn's offer, queued while cut off",
  });
  const sentWhileCut = (await sockets(quinn.page))[1].out.length;
  proxy.release();
  await waitEvent(quinn.page, 'resumed', { what: 'quinn resumes again', timeout: 30000 });
  seen = await events(quinn.page);
  assert.ok(
    seen.every((e) => ['disconnected', 'reconnecting', 'welcome', 'resumed'].includes(e.type)),
    JSON.stringify(seen),
  );
  await waitFor(
    async () => {
      const now = await negotiation(quinn.page, pia.id);
      return now.signaling === 'stable' && now.localUfrag !== quinn1.localUfrag && now.remoteUfrag !== quinn1.remoteUfrag;
    },
    { what: "quinn's queued ICE restart negotiated after the resume" },
  );
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);

  log = await sockets(quinn.page);
  assert.equal(log.length, 3);
  const third = log[2];
  assert.equal(third.url.searchParams.get('resume'), session, 'the same session, resumed twice');
  assert.equal(Number(third.url.searchParams.get('last_seq')), maxSeq(log[1].in));
  assert.equal(third.in[0].payload.resumed, true);
  assertConsecutive(third.in.slice(1), maxSeq(log[1].in) + 1, 'numbering continues across both resumes');
  // Client side: what the server had not handled (seq > ack) went out again, in
  // order, first thing on the new socket: the queued offer among it.
  const { ack } = third.in[0].payload;
  assert.equal(ack, maxSeq(log[1].out.slice(0, sentWhileCut)), 'the server handled all that quinn sent before the cut');
  const resent = third.out;
  assert.ok(resent.length > 0);
  assertConsecutive(resent, ack + 1, 'resent from ack + 1, in order');
  const resentOffer = resent.find((m) => m.msg_type === 2);
  assert.equal(resentOffer.payload.sdp.type, 'offer');
  assert.equal(ufrag(resentOffer.payload.sdp.sdp), (await negotiation(quinn.page, pia.id)).localUfrag);
  assert.equal(
    [...log[1].out, ...third.out].filter((m) => m.msg_type === 2 && m.payload.sdp.type === 'answer').length,
    1,
    'quinn answered one offer (the replayed one), once',
  );

  // The call was never torn down: same RTCPeerConnections and tiles, no PeerLeft.
  await assertCallKept(quinn.page, pia.id, 'quinn');
  await assertCallKept(pia.page, quinn.id, 'pia');
  assert.deepEqual(await events(pia.page), [], 'pia saw nothing: no PeerLeft, no PeerJoined');
  await waitFrames(quinn.page, pia.id, 10, 'video still flowing to quinn');
  await waitFrames(pia.page, quinn.id, 10, 'video still flowing to pia');
  assert.deepEqual(consoleErrors(pia, quinn), []);
  await pia.context.close();
  await quinn.context.close();
});

test('a joinRoom lost with the socket is resent on resume and resolves', { timeout: 60000 }, async () => {
  const { daemon, proxy } = servers.resume;
  const pia = await openParticipant(chromium.browser, daemon.url);
  const quinn = await openParticipant(chromium.browser, proxy.url);
  await recordSockets(quinn.page);
  pia.id = await registerThroughUi(pia.page, 'tess');
  quinn.id = await registerThroughUi(quinn.page, 'uma');
  await pia.page.click('#create-room');
  await pia.page.waitForSelector('#call-view:not([hidden])');
  const roomId = new URL(await pia.page.inputValue('#room-link')).searchParams.get('room');
  await record(quinn.page);
  await record(pia.page);

  // The JoinRoom frame never leaves (as if written into a socket that just
  // died), then the socket is cut.
  const lost = await quinn.page.evaluate((room) => {
    const ws = window.wsObjects.at(-1);
    let lostFrame = null;
    ws.send = (data) => (lostFrame = data);
    window.demo.sb.joinRoom(room).then(
      (joined) => (window.joinResult = { joined }),
      (error) => (window.joinResult = { error: error.code }),
    );
    return JSON.parse(lostFrame);
  }, roomId);
  assert.equal(lost.msg_type, 1);
  proxy.hold();
  proxy.dropAll();
  await waitEvent(quinn.page, 'disconnected', { what: 'quinn notices the cut' });
  proxy.release();
  await waitEvent(quinn.page, 'resumed', { what: 'quinn resumes', timeout: 30000 });

  const result = await waitFor(() => quinn.page.evaluate(() => window.joinResult), { what: 'joinRoom settles' });
  assert.deepEqual(result, { joined: { roomId, host: pia.id, members: [pia.id, quinn.id] } });
  const [, resumed] = await sockets(quinn.page);
  assert.equal(resumed.in[0].payload.ack, lost.seq - 1, 'the server never saw the JoinRoom');
  assert.deepEqual(resumed.out[0], lost, 'resent as it was, same seq');
  assert.equal(resumed.in[1]?.msg_type, 6, 'RoomJoined is the first thing after the Welcome');
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);
  assert.deepEqual(
    (await events(pia.page)).map((e) => [e.type, e.detail.peerId]),
    [['peer-joined', quinn.id]],
    'the other side sees one PeerJoined',
  );
  assert.deepEqual(consoleErrors(pia, quinn), []);
  await pia.context.close();
  await quinn.context.close();
});

test('a resume with a gap (more queued than the client keeps): it ends the session and rejoins', { timeout: 60000 }, async () => {
  const { proxy } = servers.resume;
  const { pia, quinn, roomId } = await startCall(servers.resume, 'rosa', 'sam');
  await record(quinn.page);
  await record(pia.page);
  // Keep only two unacknowledged messages: an ICE restart queues more (offer,
  // candidates, end of candidates).
  await quinn.page.evaluate(() => (window.demo.sb.options.maxUnacked = 2));
  proxy.hold();
  proxy.dropAll();
  await waitEvent(quinn.page, 'disconnected', { what: 'quinn notices the cut' });
  await quinn.page.evaluate((id) => window.demo.peerConnection(id).restartIce(), pia.id);
  await waitFor(
    () => quinn.page.evaluate((id) => window.demo.peerConnection(id).iceGatheringState === 'complete', pia.id),
    { what: 'the restart offer and all its candidates queued' },
  );
  proxy.release();

  await waitEvent(quinn.page, 'room', { what: 'quinn rejoins', timeout: 30000 });
  const seen = (await events(quinn.page)).filter((e) => !['disconnected', 'reconnecting', 'peer-closed'].includes(e.type));
  assert.deepEqual(seen.map((e) => e.type), ['welcome', 'session-lost', 'room'], JSON.stringify(seen));
  assert.equal(seen[0].detail.resumed, false);
  assert.deepEqual(seen[1].detail, { roomId, reason: 'incomplete' });
  // The resume succeeded on the server, but its ack was below what the client
  // still held: the client closed that socket (ending the session) and opened a
  // plain one.
  const log = await sockets(quinn.page);
  assert.equal(log.length, 3, 'before the cut, the resume, the fresh one');
  assert.equal(log[1].url.searchParams.get('resume'), log[0].in[0].payload.session);
  assert.equal(log[1].in[0].payload.resumed, true);
  assert.deepEqual(log[1].out, [], 'nothing resent into a session with a gap');
  assert.equal(log[2].url.searchParams.get('resume'), null);
  assert.equal(log[2].in[0].payload.resumed, false);

  // Pia saw quinn leave and come back, then the call recovers.
  await waitEvent(pia.page, 'peer-ready', { what: 'pia sees quinn return' });
  assert.deepEqual(
    (await events(pia.page)).filter((e) => e.type !== 'peer-closed').map((e) => e.type),
    ['peer-left', 'peer-joined', 'peer-ready'],
  );
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);
  await waitVideo(quinn.page, [pia.id]);
  assert.deepEqual(consoleErrors(pia, quinn), []);
  await pia.context.close();
  await quinn.context.close();
});

test('down longer than the resume window: the resume gets a fresh session, the page rejoins', { timeout: 60000 }, async () => {
  const { proxy } = servers.shortWindow;
  const { pia, quinn, roomId } = await startCall(servers.shortWindow, 'pia', 'quinn');
  await record(quinn.page);
  await record(pia.page);
  proxy.hold();
  proxy.dropAll();
  const cut = await waitEvent(quinn.page, 'disconnected', { what: 'quinn notices the cut' });
  assert.equal(cut.detail.resuming, true);
  // The window (1 s) runs out: the server ends quinn's session and pia sees it go.
  const left = await waitEvent(pia.page, 'peer-left', { what: "quinn's session ends" });
  assert.equal(left.detail.peerId, quinn.id);
  proxy.release();

  await waitEvent(quinn.page, 'room', { what: 'quinn rejoins', timeout: 30000 });
  const seen = (await events(quinn.page)).filter((e) => !['disconnected', 'reconnecting', 'peer-closed'].includes(e.type));
  assert.deepEqual(seen.map((e) => e.type), ['welcome', 'session-lost', 'room'], JSON.stringify(seen));
  assert.equal(seen[0].detail.resumed, false);
  assert.deepEqual(seen[1].detail, { roomId, reason: 'ended' });
  assert.deepEqual(seen[2].detail.members, [pia.id, quinn.id]);
  // It asked to resume and got a fresh session, numbered from 1 again (its own
  // messages too).
  const log = await sockets(quinn.page);
  const last = log.at(-1);
  assert.equal(last.url.searchParams.get('resume'), log[0].in[0].payload.session);
  assert.equal(last.in[0].payload.resumed, false);
  assert.notEqual(last.in[0].payload.session, log[0].in[0].payload.session);
  assertConsecutive(last.in.slice(1), 1, 'a fresh session numbers from 1');
  assertConsecutive(last.out, 1, 'so does the client');
  assert.equal(last.out[0].msg_type, 1, 'first thing: JoinRoom');

  await waitEvent(pia.page, 'peer-ready', { what: 'pia sees quinn return' });
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);
  await waitVideo(pia.page, [quinn.id]);
  await waitVideo(quinn.page, [pia.id]);
  assert.equal(await quinn.page.isVisible('#conn-banner'), false, 'no banner once back in the room');
  assert.deepEqual(consoleErrors(pia, quinn), []);
  await pia.context.close();
  await quinn.context.close();
});

test('resume off (RESUME_WINDOW=0): a fresh session, the page rejoins and media comes back', { timeout: 60000 }, async () => {
  const { proxy } = servers.noResume;
  const { pia, quinn, roomId } = await startCall(servers.noResume, 'pia', 'quinn');
  await record(quinn.page);
  await record(pia.page);
  proxy.dropAll();

  // Quinn: drop noticed, retry scheduled, welcomed with a fresh session, back
  // in the same room.
  await waitEvent(quinn.page, 'room', { what: 'quinn rejoins', timeout: 20000 });
  const seen = await events(quinn.page);
  assert.deepEqual(
    seen.map((e) => e.type).filter((t) => t !== 'peer-closed'),
    ['disconnected', 'reconnecting', 'welcome', 'session-lost', 'room'],
    JSON.stringify(seen),
  );
  const [disconnected, , welcome, lost, room] = seen.filter((e) => e.type !== 'peer-closed');
  assert.equal(disconnected.detail.willReconnect, true);
  assert.equal(disconnected.detail.resuming, false);
  assert.equal(welcome.detail.resumed, false);
  assert.deepEqual(lost.detail, { roomId, reason: 'resume-off' });
  assert.equal(room.detail.roomId, roomId);
  assert.deepEqual(room.detail.members, [pia.id, quinn.id]);
  // Nothing to resume: a plain connection with a fresh ticket.
  const [first, second] = await sockets(quinn.page);
  assert.equal(first.in[0].payload.resume_window, 0);
  assert.equal(second.url.searchParams.get('resume'), null);
  assert.notEqual(second.url.searchParams.get('ticket'), first.url.searchParams.get('ticket'));

  // Pia: saw quinn leave (host unchanged) and come back, ready again (the
  // demo said Ready on joining; switchboard.js repeats it after a rejoin).
  await waitEvent(pia.page, 'peer-ready', { what: 'pia sees quinn return' });
  const piaSeen = (await events(pia.page)).filter((e) => e.type !== 'peer-closed');
  assert.deepEqual(
    piaSeen.map((e) => [e.type, e.detail.peerId]),
    [['peer-left', quinn.id], ['peer-joined', quinn.id], ['peer-ready', quinn.id]],
  );
  assert.equal(piaSeen[0].detail.host, pia.id);

  // Media reconnects on fresh peer connections.
  await waitConnected(pia.page, [quinn.id]);
  await waitConnected(quinn.page, [pia.id]);
  await waitVideo(pia.page, [quinn.id]);
  await waitVideo(quinn.page, [pia.id]);
  assert.equal(await quinn.page.isVisible('#call-view'), true, 'quinn stays on the call page');
  assert.equal(await quinn.page.isVisible('#conn-banner'), false, 'no banner once back in the room');
  assert.deepEqual(consoleErrors(pia, quinn), []);
  await pia.context.close();
  await quinn.context.close();
});
