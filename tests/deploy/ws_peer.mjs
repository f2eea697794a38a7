// What the deployment sessions (ws_session.mjs, ws_room.mjs) share: a signaling client of the
// daemon over REST and WebSocket (ws:// or wss://, with tickets), directly or through a proxy.
// Every wait is bounded; any failure prints one FAIL line and exits 1.
//
// Node 20's built-in WebSocket (undici) needs --experimental-websocket; nothing to install.
// For a self-signed certificate set NODE_EXTRA_CA_CERTS.
export const stepTimeoutMs = 15000;

export function fail(message) {
  console.log(`FAIL: ${message}`);
  process.exit(1);
}

// The value after `name` in the command line, or `fallback`.
export function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i > 0 ? args[i + 1] : fallback;
}

// A client of the daemon at `base` (http(s)://host:port): `post` and `Peer`.
export function client(base) {
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
    // Registers `name`, gets a ticket and opens /ws with it; resolves after the Welcome.
    static async connect(name) {
      const account = await post('/register', { Username: name, Password: 'correct horse battery' });
      const { ticket } = await post('/ws-ticket', undefined, { 'X-API-Key': account.api_key });
      const peer = new Peer(account.user_id, name);
      const url = base.replace(/^http/, 'ws') + '/ws?ticket=' + encodeURIComponent(ticket);
      peer.ws = new WebSocket(url);
      peer.ws.onmessage = (e) => peer.#deliver(JSON.parse(e.data));
      peer.ws.onclose = (e) => {
        peer.closed = e.code;
        peer.#deliver(null);
      };
      // Node 20's WebSocket reports a refused upgrade (a 503, say) as an error and never as a
      // close: without this a step would wait out its timeout.
      peer.ws.onerror = () => {
        if (peer.closed !== null) return;
        peer.closed = 'error';
        peer.#deliver(null);
      };
      const welcome = await peer.next((m) => m.msg_type === 12, 'Welcome');
      if (welcome.payload.user_id !== account.user_id) fail(`${name}: Welcome for another user`);
      return peer;
    }

    constructor(userId, name) {
      this.userId = userId;
      this.name = name;
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
        if (this.closed !== null) fail(`${this.name}: closed (${this.closed}) awaiting ${what}`);
        const left = deadline - Date.now();
        if (left <= 0) fail(`${this.name}: no ${what} within ${stepTimeoutMs} ms`);
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

    // Closes with 1000 and waits (bounded) for the close to complete, so that the daemon has
    // seen the end before the caller goes on.
    async close() {
      if (this.closed === null) this.ws.close(1000);
      const deadline = Date.now() + stepTimeoutMs;
      while (this.closed === null) {
        const left = deadline - Date.now();
        if (left <= 0) fail(`${this.name}: the close handshake did not end within ${stepTimeoutMs} ms`);
        await new Promise((resolve) => {
          const t = setTimeout(resolve, left);
          this.waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
  }

  return { post, Peer };
}

// Relays an SDP of `type` from `from` to `to` in `roomId` and checks that it arrives unchanged.
export async function relaySdp(from, to, roomId, type, sdp) {
  from.send({ msg_type: 2, to: to.userId, payload: { room_id: roomId, sdp: { type, sdp } } });
  const got = await to.next((m) => m.msg_type === 2 && m.payload.sdp.type === type, `SDP ${type}`);
  if (got.from !== from.userId) fail(`${to.name}: SDP ${type} from ${got.from}, want ${from.userId}`);
  if (got.payload.sdp.sdp !== sdp) fail(`SDP ${type} from ${from.name} to ${to.name} changed on the way`);
  if (got.payload.room_id !== roomId) fail(`SDP ${type} from ${from.name} carries another room`);
  if (from.closed !== null) fail(`${from.name}: closed (${from.closed}) after sending`);
}

// Relays an ICE candidate from `from` to `to` and checks that it arrives unchanged.
export async function relayIce(from, to, roomId, candidate) {
  from.send({ msg_type: 3, to: to.userId, payload: { room_id: roomId, candidate } });
  const got = await to.next((m) => m.msg_type === 3, 'ICECandidate');
  if (got.from !== from.userId) fail(`${to.name}: ICECandidate from ${got.from}, want ${from.userId}`);
  if (JSON.stringify(got.payload.candidate) !== JSON.stringify(candidate)) {
    fail(`ICE candidate from ${from.name} to ${to.name} changed on the way`);
  }
}
