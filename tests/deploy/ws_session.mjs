// A scripted signaling session against a running daemon, directly or through a proxy:
// registers two users, connects both over WebSocket (ws:// or wss://, with tickets), creates
// a room, joins it, and relays an SDP offer (optionally padded to a given size), an answer
// and an ICE candidate between them, checking each arrives unchanged. With --idle S it then
// stays silent for S seconds and relays once more, so a proxy that cuts idle connections
// fails it. Prints one line and exits 0 on success, 1 on any failure.
//
//   node --experimental-websocket ws_session.mjs BASE_URL [--sdp-bytes N] [--idle SECONDS]
//
// BASE_URL is http(s)://host:port. For a self-signed certificate set NODE_EXTRA_CA_CERTS.
// Node 20's built-in WebSocket (undici) needs --experimental-websocket; nothing to install.
const args = process.argv.slice(2);
const base = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i > 0 ? Number(args[i + 1]) : fallback;
};
const sdpBytes = option('--sdp-bytes', 200);
const idleSeconds = option('--idle', 0);
const stepTimeoutMs = 15000;

function fail(message) {
  console.log(`FAIL: ${message}`);
  process.exit(1);
}

async function post(path, body, headers = {}) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(stepTimeoutMs),
  });
  const json = await res.json();
  if (!res.ok) fail(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// One WebSocket with a queue of received messages that a step can wait on.
class Peer {
  static async connect(name) {
    const account = await post('/register', { Username: name, Password: 'correct horse battery' });
    const { ticket } = await post('/ws-ticket', undefined, { 'X-API-Key': account.api_key });
    const peer = new Peer(account.user_id);
    const url = base.replace(/^http/, 'ws') + '/ws?ticket=' + encodeURIComponent(ticket);
    peer.ws = new WebSocket(url);
    peer.ws.onmessage = (e) => peer.#deliver(JSON.parse(e.data));
    peer.ws.onclose = (e) => {
      peer.closed = e.code;
      peer.#deliver(null);
    };
    const welcome = await peer.next((m) => m.msg_type === 12, 'Welcome');
    if (welcome.payload.user_id !== account.user_id) fail(`${name}: Welcome for another user`);
    return peer;
  }

  constructor(userId) {
    this.userId = userId;
    this.queue = [];
    this.waiters = [];
    this.closed = null;
  }

  #deliver(message) {
    if (message) this.queue.push(message);
    for (const w of this.waiters.splice(0)) w();
  }

  // The first queued message matching `want`; fails on close or after the step timeout.
  async next(want, what) {
    const deadline = Date.now() + stepTimeoutMs;
    for (;;) {
      const i = this.queue.findIndex(want);
      if (i >= 0) return this.queue.splice(i, 1)[0];
      if (this.closed !== null) fail(`user ${this.userId}: closed (${this.closed}) awaiting ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) fail(`user ${this.userId}: no ${what} within ${stepTimeoutMs} ms`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(message) {
    this.ws.send(JSON.stringify(message));
  }
}

async function relay(from, to, roomId, type, sdp) {
  from.send({ msg_type: 2, to: to.userId, payload: { room_id: roomId, sdp: { type, sdp } } });
  const got = await to.next((m) => m.msg_type === 2 && m.payload.sdp.type === type, `SDP ${type}`);
  if (got.from !== from.userId) fail(`SDP ${type} from ${got.from}, want ${from.userId}`);
  if (got.payload.sdp.sdp !== sdp) fail(`SDP ${type} changed on the way`);
  if (from.closed !== null) fail(`user ${from.userId}: closed (${from.closed}) after sending`);
}

const suffix = `${process.pid}_${Date.now() % 1e6}`;
const alice = await Peer.connect(`alice_${suffix}`);
const bob = await Peer.connect(`bob_${suffix}`);
alice.send({ msg_type: 0, payload: {} });
const roomId = (await alice.next((m) => m.msg_type === 5, 'RoomCreated')).payload.room_id;
bob.send({ msg_type: 1, payload: { room_id: roomId } });
await bob.next((m) => m.msg_type === 6, 'RoomJoined');
await alice.next((m) => m.msg_type === 8 && m.payload.user_id === bob.userId, 'PeerJoined');

// An offer whose whole message is about sdpBytes bytes on the wire (JSON escapes each CR LF).
const line = 'a=candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host\r\n';
const wireSize = (sdp) =>
  JSON.stringify({ msg_type: 2, to: bob.userId, payload: { room_id: roomId, sdp: { type: 'offer', sdp } } }).length;
let offer = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
while (wireSize(offer + line) <= sdpBytes) offer += line;
await relay(alice, bob, roomId, 'offer', offer);
await relay(bob, alice, roomId, 'answer', 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n');
const candidate = { candidate: 'candidate:1 1 udp 1 192.0.2.2 9 typ host', sdpMid: '0', sdpMLineIndex: 0 };
alice.send({ msg_type: 3, to: bob.userId, payload: { room_id: roomId, candidate } });
const ice = await bob.next((m) => m.msg_type === 3, 'ICECandidate');
if (ice.payload.candidate.candidate !== candidate.candidate) fail('ICE candidate changed on the way');

if (idleSeconds > 0) {
  // Silence from both clients; only the daemon's pings (and our pongs) cross the proxy.
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  if (alice.closed !== null || bob.closed !== null) fail(`closed while idle (${alice.closed}, ${bob.closed})`);
  await relay(alice, bob, roomId, 'offer', 'v=0\r\no=- 5 6 IN IP4 127.0.0.1\r\n');
}
alice.ws.close(1000);
bob.ws.close(1000);
console.log(`session ok: room ${roomId.slice(0, 8)}…, an offer message of ${wireSize(offer)} bytes relayed` +
  (idleSeconds > 0 ? `, still relaying after ${idleSeconds} s idle` : ''));
process.exit(0);
