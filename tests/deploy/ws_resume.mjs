// A call through the balancer while the daemons restart under it (protocol.md 4 and 6): two
// users in one room send each other ICE candidates without pause, numbered per sender; when a
// daemon hands their session over (close 1012) or a connection is lost, the client resumes
// through the balancer with a fresh ticket and `resume`/`last_seq`, and resends what the
// Welcome's `ack` leaves out. It goes on until the file given with --until exists, then
// checks that each stream arrived complete, once and in order, that the server's `seq` never
// skipped or repeated, and that each user resumed at least once. Prints "ready ..." once the
// call runs (for the caller to start restarting) and one result line; exits 0 on success.
//
//   node --experimental-websocket ws_resume.mjs BASE_URL --until FILE [--suffix S]
//
// The users are rita_S and sam_S.
import { existsSync } from 'node:fs';
import { client, fail, option, stepTimeoutMs } from './ws_peer.mjs';

const args = process.argv.slice(2);
const base = args[0];
const until = option(args, '--until', '');
const suffix = option(args, '--suffix', `${process.pid}_${Date.now() % 1e6}`);
if (!until) fail('--until FILE is required');
const { post } = client(base);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One user's side: its session across connections, numbering what it sends (`seq`) and
// checking what it receives.
class ResumingUser {
  static async register(name) {
    const account = await post('/register', { Username: name, Password: 'correct horse battery' });
    const u = new ResumingUser(name, account);
    await u.open('');
    return u;
  }

  constructor(name, account) {
    this.name = name;
    this.userId = account.user_id;
    this.apiKey = account.api_key;
    this.session = '';
    this.lastSeq = 0; // the highest server seq handled
    this.clientSeq = 0;
    this.unacked = []; // [seq, text] sent and not yet acknowledged
    this.queue = [];
    this.wake = null;
    this.closed = null;
    this.resumes = 0;
    this.closes = {};
  }

  // Opens /ws (a resume when `query` says so); resolves with the Welcome, or null when the
  // upgrade was refused or the connection failed (the caller tries again).
  async open(query) {
    const { ticket } = await post('/ws-ticket', undefined, { 'X-API-Key': this.apiKey });
    const url = `${base.replace(/^http/, 'ws')}/ws?ticket=${encodeURIComponent(ticket)}${query}`;
    this.queue = [];
    this.closed = null;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (e) => {
      if (ws === this.ws) this.push(JSON.parse(e.data));
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.closed = e.code;
      this.push(null);
    };
    ws.onerror = () => {
      if (ws !== this.ws || this.closed !== null) return;
      this.closed = 'error';
      this.push(null);
    };
    const deadline = Date.now() + stepTimeoutMs;
    while (this.queue.length === 0 && this.closed === null && Date.now() < deadline) await this.idle(50);
    const welcome = this.queue.shift();
    if (!welcome || welcome.msg_type !== 12) return null;
    if (welcome.seq !== undefined) fail(`${this.name}: the Welcome is numbered`);
    this.session = welcome.payload.session;
    return welcome;
  }

  push(m) {
    if (m) this.queue.push(m);
    if (this.wake) this.wake();
  }

  idle(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  send(message) {
    this.clientSeq += 1;
    const text = JSON.stringify({ ...message, seq: this.clientSeq });
    this.unacked.push([this.clientSeq, text]);
    if (this.closed === null && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  // The messages received so far, each checked for its server seq.
  take() {
    const out = [];
    while (this.queue.length > 0) {
      const m = this.queue.shift();
      if (m.seq !== this.lastSeq + 1) fail(`${this.name}: seq ${m.seq} after ${this.lastSeq}: ${JSON.stringify(m)}`);
      this.lastSeq = m.seq;
      out.push(m);
    }
    return out;
  }

  // After a close (1012 from a daemon handing its sessions over, or any loss): resumes
  // through the balancer, resending what the ack does not cover.
  async comeBack() {
    this.closes[this.closed] = (this.closes[this.closed] || 0) + 1;
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      const welcome = await this.open(`&resume=${encodeURIComponent(this.session)}&last_seq=${this.lastSeq}`);
      if (!welcome) {
        await sleep(100); // that daemon is going or gone: the balancer picks another
        continue;
      }
      if (!welcome.payload.resumed) fail(`${this.name}: not resumed: ${JSON.stringify(welcome)}`);
      this.resumes += 1;
      this.unacked = this.unacked.filter(([seq]) => seq > welcome.payload.ack);
      for (const [, text] of this.unacked) this.ws.send(text);
      return;
    }
    fail(`${this.name}: could not resume within 30 s`);
  }
}

const rita = await ResumingUser.register(`rita_${suffix}`);
const sam = await ResumingUser.register(`sam_${suffix}`);
rita.send({ msg_type: 0, payload: {} });
let roomId = null;
for (const deadline = Date.now() + stepTimeoutMs; !roomId && Date.now() < deadline; await rita.idle(50)) {
  const created = rita.take().find((m) => m.msg_type === 5);
  if (created) roomId = created.payload.room_id;
}
if (!roomId) fail('rita: no RoomCreated');
sam.send({ msg_type: 1, payload: { room_id: roomId } });
for (const [who, type] of [[sam, 6], [rita, 8]]) {
  let seen = false;
  for (const deadline = Date.now() + stepTimeoutMs; !seen && Date.now() < deadline; await who.idle(50)) {
    seen = who.take().some((m) => m.msg_type === type);
  }
  if (!seen) fail(`${who.name}: no message of type ${type}`);
}
console.log(`ready: rita_${suffix}=${rita.userId} sam_${suffix}=${sam.userId}`);

// Each side sends candidate n:0, n:1, ... to the other and checks what comes from the other.
const sides = [
  { me: rita, other: sam, sent: 0, received: 0 },
  { me: sam, other: rita, sent: 0, received: 0 },
];
function receive(side) {
  for (const m of side.me.take()) {
    if (m.msg_type !== 3 || m.from !== side.other.userId) fail(`${side.me.name}: unexpected ${JSON.stringify(m)}`);
    const tag = m.payload.candidate.candidate;
    if (tag !== `n:${side.received}`) fail(`${side.me.name}: got ${tag}, want n:${side.received}`);
    side.received += 1;
  }
}
const stopAt = Date.now() + 120000;
while (!existsSync(until)) {
  if (Date.now() > stopAt) fail('no --until file within 120 s');
  for (const side of sides) {
    if (side.me.closed !== null && side.me.queue.length === 0) await side.me.comeBack();
    side.me.send({
      msg_type: 3,
      to: side.other.userId,
      payload: { room_id: roomId, candidate: { candidate: `n:${side.sent}`, sdpMid: '0', sdpMLineIndex: 0 } },
    });
    side.sent += 1;
    receive(side);
  }
  await sleep(10);
}
// Sending is over: everything each sent must arrive (a resume may still be owed).
const deadline = Date.now() + 30000;
while (sides[0].received < sides[1].sent || sides[1].received < sides[0].sent) {
  if (Date.now() > deadline) {
    fail(`not everything arrived: rita got ${sides[0].received} of ${sides[1].sent}, sam ${sides[1].received} of ${sides[0].sent}`);
  }
  for (const side of sides) {
    if (side.me.closed !== null && side.me.queue.length === 0) await side.me.comeBack();
    receive(side);
  }
  await sleep(20);
}
if (sides[0].received !== sides[1].sent || sides[1].received !== sides[0].sent) fail('more arrived than was sent');
for (const u of [rita, sam]) {
  if (u.resumes < 1) fail(`${u.name} never resumed: the restarts did not reach it`);
}
console.log(`resume ok: ${sides[0].sent + sides[1].sent} candidates, each once and in order; ` +
  `rita resumed ${rita.resumes}x (closes ${JSON.stringify(rita.closes)}), sam ${sam.resumes}x (closes ${JSON.stringify(sam.closes)})`);
process.exit(0);
