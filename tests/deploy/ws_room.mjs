// A room of three users against a running daemon or cluster, directly or through a proxy:
// the users connect one after the other and stay connected (a least_conn balancer so puts
// each on another daemon), meet in one room, get each other's Ready, relay an SDP offer and
// an ICE candidate along every ordered pair, and then the host leaves: both others get
// PeerLeft naming the next in join order as host, and the rules hold after it (the one who
// left may relay to nobody, nobody to it). Then the new host disconnects and the last one
// becomes host. Prints one line (the users, for the caller to find in the daemons' logs) and
// exits 0 on success, 1 on any failure.
//
//   node --experimental-websocket ws_room.mjs BASE_URL [--suffix S]
//
// The users are ann_S, ben_S and cat_S (S: by default this process's id and the time).
import { client, fail, option, relayIce, relaySdp } from './ws_peer.mjs';

const args = process.argv.slice(2);
const base = args[0];
const suffix = option(args, '--suffix', `${process.pid}_${Date.now() % 1e6}`);
const { Peer } = client(base);

const ann = await Peer.connect(`ann_${suffix}`);
const ben = await Peer.connect(`ben_${suffix}`);
const cat = await Peer.connect(`cat_${suffix}`);
const everyone = [ann, ben, cat];
const others = (peer) => everyone.filter((p) => p !== peer);

ann.send({ msg_type: 0, payload: {} });
const created = (await ann.next((m) => m.msg_type === 5, 'RoomCreated')).payload;
const roomId = created.room_id;
if (created.host !== ann.userId) fail(`RoomCreated names host ${created.host}, want ${ann.userId}`);
for (const joiner of [ben, cat]) {
  joiner.send({ msg_type: 1, payload: { room_id: roomId } });
  const joined = (await joiner.next((m) => m.msg_type === 6, 'RoomJoined')).payload;
  const want = everyone.slice(0, everyone.indexOf(joiner) + 1).map((p) => p.userId);
  if (JSON.stringify(joined.members) !== JSON.stringify(want) || joined.host !== ann.userId) {
    fail(`${joiner.name}: RoomJoined ${JSON.stringify(joined)}, want members ${JSON.stringify(want)} and host ${ann.userId}`);
  }
  for (const member of everyone.slice(0, everyone.indexOf(joiner))) {
    await member.next((m) => m.msg_type === 8 && m.payload.user_id === joiner.userId, `PeerJoined of ${joiner.name}`);
  }
}

for (const peer of everyone) {
  peer.send({ msg_type: 10, payload: { room_id: roomId } });
  for (const other of others(peer)) {
    await other.next((m) => m.msg_type === 11 && m.payload.user_id === peer.userId, `PeerReady of ${peer.name}`);
  }
}

for (const from of everyone) {
  for (const to of others(from)) {
    await relaySdp(from, to, roomId, 'offer', `v=0\r\no=- ${from.userId} ${to.userId} IN IP4 127.0.0.1\r\ns=-\r\n`);
    await relayIce(from, to, roomId, {
      candidate: `candidate:${from.userId} 1 udp 1 192.0.2.${to.userId % 250} 9 typ host`,
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: `u${from.userId}`,
    });
  }
}

// peerLeft(peer, gone, host): `peer` hears that `gone` left, with `host` as the new host.
async function peerLeft(peer, gone, host) {
  const left = await peer.next((m) => m.msg_type === 9 && m.payload.user_id === gone.userId, `PeerLeft of ${gone.name}`);
  if (left.payload.room_id !== roomId || left.payload.host !== host.userId) {
    fail(`${peer.name}: PeerLeft ${JSON.stringify(left.payload)}, want host ${host.userId}`);
  }
}

// The host leaves: the next in join order is host for both others.
ann.send({ msg_type: 4, payload: { room_id: roomId } });
await peerLeft(ben, ann, ben);
await peerLeft(cat, ann, ben);

// Error `code` for `from`'s offer to `to`, which the room's rules forbid.
async function refused(from, to, code) {
  from.send({ msg_type: 2, to: to.userId, payload: { room_id: roomId, sdp: { type: 'offer', sdp: 'v=0\r\n' } } });
  const error = await from.next((m) => m.msg_type === 7, `Error ${code}`);
  if (error.payload.code !== code) fail(`${from.name} to ${to.name}: Error ${error.payload.code}, want ${code}`);
}
await refused(ann, ben, 'not_in_room');
await refused(cat, ann, 'peer_not_in_room');
await relaySdp(cat, ben, roomId, 'offer', 'v=0\r\no=- after the hand-over\r\n');

// The new host disconnects: the last one is host.
await ben.close();
await peerLeft(cat, ben, cat);

await Promise.all([ann.close(), cat.close()]);
console.log(`room ok: ${everyone.map((p) => `${p.name}=${p.userId}`).join(' ')}, room ${roomId.slice(0, 8)}…, ` +
  '6 pairs relayed, host handed over twice');
process.exit(0);
