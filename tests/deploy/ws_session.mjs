// A scripted signaling session against a running daemon, directly or through a proxy:
// registers two users, connects both over WebSocket (ws:// or wss://, with tickets), creates
// a room, joins it, and relays an SDP offer (optionally padded to a given size), an answer
// and an ICE candidate between them, checking each arrives unchanged. With --idle S it then
// stays silent for S seconds and relays once more, so a proxy that cuts idle connections
// fails it. Prints one line and exits 0 on success, 1 on any failure.
//
//   node --experimental-websocket ws_session.mjs BASE_URL [--sdp-bytes N] [--idle SECONDS]
//                                                [--suffix S]
//
// BASE_URL is http(s)://host:port. The users are alice_S and bob_S (S: by default this
// process's id and the time), so that a caller can find them in the daemons' logs. For a
// self-signed certificate set NODE_EXTRA_CA_CERTS.
import { client, fail, option, relayIce, relaySdp } from './ws_peer.mjs';

const args = process.argv.slice(2);
const base = args[0];
const sdpBytes = Number(option(args, '--sdp-bytes', 200));
const idleSeconds = Number(option(args, '--idle', 0));
const suffix = option(args, '--suffix', `${process.pid}_${Date.now() % 1e6}`);
const { Peer } = client(base);

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
await relaySdp(alice, bob, roomId, 'offer', offer);
await relaySdp(bob, alice, roomId, 'answer', 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n');
await relayIce(alice, bob, roomId, { candidate: 'candidate:1 1 udp 1 192.0.2.2 9 typ host', sdpMid: '0', sdpMLineIndex: 0 });

if (idleSeconds > 0) {
  // Silence from both clients; only the daemon's pings (and our pongs) cross the proxy.
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  if (alice.closed !== null || bob.closed !== null) fail(`closed while idle (${alice.closed}, ${bob.closed})`);
  await relaySdp(alice, bob, roomId, 'offer', 'v=0\r\no=- 5 6 IN IP4 127.0.0.1\r\n');
}
await Promise.all([alice.close(), bob.close()]);
console.log(`session ok: room ${roomId.slice(0, 8)}…, an offer message of ${wireSize(offer)} bytes relayed` +
  (idleSeconds > 0 ? `, still relaying after ${idleSeconds} s idle` : ''));
process.exit(0);
