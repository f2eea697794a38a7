// The room docs/admin.md's examples look at: registers alice and bob, connects both over
// WebSocket, alice creates a room, bob joins it and says Ready. Prints one JSON line of shell
// variables ({"ROOM_ID", "ALICE_ID", "BOB_ID"}) once the room stands, then stays connected
// (whatever the examples do to the sockets) until it is killed or stdin closes.
//
//   node --experimental-websocket admin_room.mjs BASE_URL
const base = process.argv[2];

function fail(message) {
  console.error(`admin_room: ${message}`);
  process.exit(1);
}
setTimeout(() => fail('timed out setting up the room'), 15000).unref();

async function register(name) {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ Username: name, Password: 'correct horse battery' }),
  });
  if (res.status !== 201) fail(`register ${name}: ${res.status}`);
  return res.json();
}

/// Opens a WebSocket for `account`; `next(type)` resolves with the next message of that type.
function connect(account) {
  return new Promise((resolve, reject) => {
    const url = `${base.replace(/^http/, 'ws')}/ws`;
    // Node's WebSocket cannot set headers: a ticket, as a browser does.
    fetch(`${base}/ws-ticket`, { method: 'POST', headers: { 'X-API-Key': account.api_key } })
      .then((r) => r.json())
      .then(({ ticket }) => {
        const ws = new WebSocket(`${url}?ticket=${encodeURIComponent(ticket)}`);
        const waiting = [];
        const received = [];
        ws.onmessage = (e) => {
          const m = JSON.parse(e.data);
          const i = waiting.findIndex((w) => w.type === m.msg_type);
          if (i >= 0) waiting.splice(i, 1)[0].resolve(m);
          else received.push(m);
        };
        ws.onerror = () => reject(new Error('WebSocket error'));
        ws.onclose = () => {};  // the examples disconnect and delete: expected
        ws.next = (type) => {
          const i = received.findIndex((m) => m.msg_type === type);
          if (i >= 0) return Promise.resolve(received.splice(i, 1)[0]);
          return new Promise((res) => waiting.push({ type, resolve: res }));
        };
        ws.onopen = () => resolve(ws);
      }, reject);
  });
}

const alice = await register('alice');
const bob = await register('bob');
const a = await connect(alice);
const b = await connect(bob);
await a.next(12);
await b.next(12);
a.send(JSON.stringify({ msg_type: 0, payload: {} }));
const room = (await a.next(5)).payload.room_id;
b.send(JSON.stringify({ msg_type: 1, payload: { room_id: room } }));
await b.next(6);
await a.next(8);
b.send(JSON.stringify({ msg_type: 10, payload: { room_id: room } }));
await a.next(11);
console.log(JSON.stringify({ ROOM_ID: room, ALICE_ID: alice.user_id, BOB_ID: bob.user_id }));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
