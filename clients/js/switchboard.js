// switchboard.js: browser client for the switchboard signaling daemon.
//
// Dependency-free ES module. It speaks wire protocol version 1 (REST + WebSocket
// JSON, see the project's protocol spec) and runs a mesh of RTCPeerConnections,
// one per remote room member, with the "perfect negotiation" pattern.
//
// Who offers: the JOINER. On RoomJoined the newcomer opens a connection to every
// member already in the room and offers; existing members wait and create their
// side of the connection when the newcomer's first signal arrives. Later
// renegotiations (tracks added, ICE restarts) may start on either side at any
// time; perfect negotiation resolves simultaneous offers: the peer with the
// larger user id is "polite" (rolls its own offer back), the other is "impolite"
// (ignores the colliding offer).
//
// A Switchboard instance is in at most one room at a time (the protocol allows
// several; a call UI needs one).
//
// Session resume (protocol 1.1): the server numbers what it sends (`seq`) and
// keeps a lost connection's session for `resume_window` seconds. This client
// numbers what it sends too and keeps it until a resume acknowledges it. After a
// socket lost without a close handshake it reconnects with `?resume=&last_seq=`:
// on success the calls never notice (the RTCPeerConnections stay up, the server
// replays what we missed, we resend what it missed); otherwise it rejoins its
// room with a fresh session, as a newcomer.

/** Wire message types (protocol section 2). */
export const MsgType = Object.freeze({
  CreateRoom: 0,
  JoinRoom: 1,
  SDP: 2,
  ICECandidate: 3,
  LeaveRoom: 4,
  RoomCreated: 5,
  RoomJoined: 6,
  Error: 7,
  PeerJoined: 8,
  PeerLeft: 9,
  Ready: 10,
  PeerReady: 11,
  Welcome: 12,
});

/**
 * Close codes that end things on purpose: no reconnect after them. 1000 normal
 * closure, 4001 API key revoked, 4002 replaced by a newer connection of the same
 * user (also what an old socket gets when a resume takes its session over),
 * 4003 disconnected by an administrator.
 */
const CLOSE_NORMAL = 1000;
const CLOSE_KEY_REVOKED = 4001;
const CLOSE_REPLACED = 4002;
const CLOSE_ADMIN = 4003;
const FINAL_CLOSE_CODES = new Set([CLOSE_NORMAL, CLOSE_KEY_REVOKED, CLOSE_REPLACED, CLOSE_ADMIN]);

/** An error reported by the server, over HTTP or the WebSocket. */
export class SwitchboardError extends Error {
  constructor(code, message, { status = null, msgType = null } = {}) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.status = status;
    this.msgType = msgType;
  }
}

function httpBase(url) {
  const base = new URL(url ?? globalThis.location.origin);
  base.pathname = base.pathname.replace(/\/*$/, '/');
  return base;
}

async function postJson(baseUrl, path, body, headers = {}) {
  const init = { method: 'POST', headers: { ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(new URL(path, httpBase(baseUrl)), init);
  let data = null;
  try {
    data = await res.json();
  } catch {
    // Leave data null: reported below as a generic HTTP error.
  }
  if (!res.ok) {
    const err = data?.error ?? {};
    throw new SwitchboardError(err.code ?? 'http_error', err.message ?? `HTTP ${res.status}`, {
      status: res.status,
    });
  }
  return data;
}

/**
 * Creates an account. Resolves to {user_id, username, api_key}.
 * @param {string|URL|undefined} baseUrl server origin; defaults to the page's origin
 */
export function register(baseUrl, username, password) {
  return postJson(baseUrl, 'register', { Username: username, Password: password });
}

/**
 * Signs in by issuing a fresh API key (POST /regenerate). Resolves to
 * {user_id, username, api_key}. The previous key stops working at once and
 * sockets opened with it are closed (code 4001), so signing in on a second
 * device signs the first one out.
 */
export function signIn(baseUrl, username, password) {
  return postJson(baseUrl, 'regenerate', { Username: username, Password: password });
}

/** Changes a password. Resolves to {user_id, username}. */
export function updatePassword(baseUrl, username, password, newPassword) {
  return postJson(baseUrl, 'updatepassword', {
    Username: username,
    Password: password,
    NewPassword: newPassword,
  });
}

/**
 * One connection to the daemon plus the peer connections of the current room.
 *
 * Events (all CustomEvent, data in `event.detail`):
 *   welcome          {userId, username, iceServers, resumed}   after every (re)connect
 *   resumed          {rooms}                          the session survived a dropped socket
 *   session-lost     {roomId, reason}                 it did not: fresh session, rejoining roomId (if any)
 *   room             {roomId, host, members}          room created or joined
 *   peer-joined      {roomId, peerId}
 *   peer-left        {roomId, peerId, host}           host: the host afterwards
 *   peer-ready       {roomId, peerId}
 *   track            {peerId, track, stream}          remote media arrived
 *   peer-state       {peerId, iceConnectionState, connectionState}
 *   peer-closed      {peerId}                         its RTCPeerConnection was closed
 *   datachannel-open {peerId}
 *   message          {peerId, data}                   DataChannel message
 *   disconnected     {code, reason, willReconnect, resuming}
 *   reconnecting     {attempt, delay}                 delay in ms before the attempt
 *   error            {error: SwitchboardError|Error}
 */
export class Switchboard extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.apiKey
   * @param {string|URL} [options.url] server origin; defaults to the page's origin
   * @param {MediaStream} [options.localStream] sent to every peer
   * @param {RTCIceServer[]} [options.iceServers] overrides the Welcome's ice_servers
   * @param {RTCIceTransportPolicy} [options.iceTransportPolicy] "all" or "relay"
   * @param {boolean} [options.reconnect=true]
   * @param {number} [options.reconnectDelay=500] first backoff delay, ms
   * @param {number} [options.maxReconnectDelay=15000] ms
   * @param {number} [options.requestTimeout=10000] ms, for connect/createRoom/joinRoom
   * @param {number} [options.maxUnacked=256] sent messages kept for a resend
   * @param {number} [options.maxUnackedBytes=1048576] and their bytes at most
   */
  constructor(options) {
    super();
    if (!options?.apiKey) throw new TypeError('Switchboard: apiKey is required');
    this.options = {
      reconnect: true,
      reconnectDelay: 500,
      maxReconnectDelay: 15000,
      requestTimeout: 10000,
      maxUnacked: 256,
      maxUnackedBytes: 1 << 20,
      ...options,
    };
    this.localStream = options.localStream ?? null;
    /** Set by Welcome. */
    this.userId = null;
    this.username = null;
    this.iceServers = [];
    /** Current room, or null. */
    this.roomId = null;
    this.host = null;
    /** Member ids in join order, self included. */
    this.members = [];
    this._ready = false; // ready() sent in the current room: repeated after a rejoin
    /** peerId -> Peer */
    this.peers = new Map();

    this._ws = null;
    this._live = false; // this._ws is open and welcomed
    this._closed = false; // close() called: never reconnect
    this._welcomed = false; // reconnect only sessions that once got a Welcome
    // Session resume. The session id is a secret of the user: never logged.
    this._session = null; // the Welcome's `session`; null: nothing to resume
    this._resumeWindow = 0; // the Welcome's `resume_window`, seconds; 0: resume is off
    this._lastSeq = 0; // highest server seq handled
    this._sendSeq = 0; // seq of the last message we numbered
    this._unacked = []; // [{seq, text}] sent (or to send), not yet acknowledged, in order
    this._unackedBytes = 0;
    this._unackedDropped = 0; // highest seq pushed out of _unacked by its bounds
    this._resumeAsked = false; // the current socket asked to resume
    this._lostReason = null; // set when we give a session up ourselves
    this._attempt = 0;
    this._reconnectTimer = null;
    this._welcomeWaiter = null;
    // Replies are not correlated by id: requests of one type are answered in
    // order, so one FIFO per request type is enough.
    this._pending = new Map([
      [MsgType.CreateRoom, []],
      [MsgType.JoinRoom, []],
    ]);
  }

  /** True while the WebSocket is open and welcomed. */
  get connected() {
    return this._live && this._ws?.readyState === WebSocket.OPEN;
  }

  /**
   * Opens the WebSocket (ticket first) and resolves with the Welcome detail.
   * Later drops reconnect, and resume the session, on their own (see
   * options.reconnect).
   */
  async connect() {
    if (this._ws) throw new SwitchboardError('already_connected', 'connect() called twice');
    this._closed = false;
    return this._openSocket(await this._fetchTicket());
  }

  /** POST /ws-ticket: browsers cannot put the API key on a WebSocket request. */
  async _fetchTicket() {
    const { ticket } = await postJson(this.options.url, 'ws-ticket', undefined, {
      'X-API-Key': this.options.apiKey,
    });
    if (this._closed) throw new SwitchboardError('closed', 'Switchboard was closed');
    return ticket;
  }

  /** Opens the socket (a resume when there is a session to resume); resolves with the Welcome detail. */
  _openSocket(ticket) {
    const wsUrl = new URL('ws', httpBase(this.options.url));
    wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    wsUrl.searchParams.set('ticket', ticket);
    this._resumeAsked = this._canResume();
    if (this._resumeAsked) {
      wsUrl.searchParams.set('resume', this._session);
      wsUrl.searchParams.set('last_seq', String(this._lastSeq));
    }

    const ws = new WebSocket(wsUrl);
    this._ws = ws;
    this._live = false;
    // Only the current socket speaks for us: a replaced one is ignored.
    ws.onmessage = (ev) => ws === this._ws && this._onMessage(ev.data);
    ws.onclose = (ev) => this._onClose(ws, ev);

    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // _onClose rejects the waiter (and reconnects if this was a reconnect).
        ws.close();
      }, this.options.requestTimeout);
      this._welcomeWaiter = {
        resolve: (detail) => {
          clearTimeout(timer);
          resolve(detail);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  /**
   * Leaves the room, closes every peer connection and the socket; no reconnect.
   * The close frame ends the session on the server: nothing to resume.
   */
  close() {
    this._closed = true;
    clearTimeout(this._reconnectTimer);
    if (this.roomId !== null && this.connected) this.leaveRoom();
    this._closePeers();
    const ws = this._ws;
    this._ws = null; // before close(): _onClose ignores sockets no longer current
    this._live = false;
    ws?.close(CLOSE_NORMAL, 'bye');
    this._forgetSession();
    this._failWaiters(new SwitchboardError('closed', 'Switchboard was closed'));
  }

  /**
   * Creates a room (the caller becomes host and only member).
   * @returns {Promise<string>} the room id
   */
  async createRoom({ maxMembers } = {}) {
    const payload = maxMembers === undefined ? {} : { max_members: maxMembers };
    const reply = await this._request(MsgType.CreateRoom, payload);
    return reply.room_id;
  }

  /**
   * Joins a room and offers to every member already in it.
   * @returns {Promise<{roomId, host, members}>}
   */
  async joinRoom(roomId) {
    await this._request(MsgType.JoinRoom, { room_id: roomId });
    return { roomId: this.roomId, host: this.host, members: [...this.members] };
  }

  /** Leaves the current room and hangs up on everybody in it. */
  leaveRoom() {
    if (this.roomId === null) return;
    this._send({ msg_type: MsgType.LeaveRoom, payload: { room_id: this.roomId } });
    this._closePeers();
    this.roomId = null;
    this.host = null;
    this.members = [];
  }

  /** Tells the other members this client is ready (they get PeerReady). */
  ready() {
    if (this.roomId === null) throw new SwitchboardError('not_in_room', 'not in a room');
    this._ready = true;
    this._send({ msg_type: MsgType.Ready, payload: { room_id: this.roomId } });
  }

  /**
   * Sends on the DataChannel to one peer. Returns false when that channel is
   * not open (yet).
   */
  send(peerId, data) {
    const channel = this.peers.get(peerId)?.channel;
    if (channel?.readyState !== 'open') return false;
    channel.send(data);
    return true;
  }

  /** Sends to every peer whose DataChannel is open; returns how many. */
  broadcast(data) {
    let sent = 0;
    for (const peerId of this.peers.keys()) if (this.send(peerId, data)) sent += 1;
    return sent;
  }

  /** The RTCPeerConnection to a peer (for getStats and the like), or undefined. */
  peerConnection(peerId) {
    return this.peers.get(peerId)?.pc;
  }

  /**
   * Replaces the local stream: tracks are added to / removed from every peer
   * connection, which renegotiates as needed.
   */
  setLocalStream(stream) {
    this.localStream = stream;
    for (const peer of this.peers.values()) peer.syncTracks(stream);
  }

  // --- internals -----------------------------------------------------------

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _emitError(error) {
    this._emit('error', { error });
  }

  /**
   * Numbers `message` with the session's next `seq`, keeps it until a resume
   * acknowledges it, and sends it if the socket is up. While the socket is down
   * with a session to resume it waits for the resume; true when sent now.
   */
  _send(message) {
    if (!this._live && !this._canResume()) return false; // nobody to send it to, ever
    const seq = ++this._sendSeq;
    const text = JSON.stringify({ seq, ...message });
    if (this._resumeWindow > 0) this._keepUnacked(seq, text);
    if (!this.connected) return false;
    this._ws.send(text);
    return true;
  }

  /**
   * The server acknowledges only on a resume (Welcome's `ack`), so this list is
   * a rolling window, bounded like the server's: a resume needs only what was
   * in flight when the socket died, or queued since.
   */
  _keepUnacked(seq, text) {
    this._unacked.push({ seq, text });
    this._unackedBytes += text.length;
    const { maxUnacked, maxUnackedBytes } = this.options;
    while (this._unacked.length > maxUnacked || (this._unackedBytes > maxUnackedBytes && this._unacked.length > 1)) {
      const dropped = this._unacked.shift();
      this._unackedBytes -= dropped.text.length;
      this._unackedDropped = dropped.seq;
    }
  }

  /** There is a session the server may still hold for us. */
  _canResume() {
    return this._session !== null && this._resumeWindow > 0;
  }

  /** Starts over: no session, numbering from 1 again, nothing to resend. */
  _forgetSession() {
    this._session = null;
    this._resumeWindow = 0;
    this._lastSeq = 0;
    this._sendSeq = 0;
    this._unacked = [];
    this._unackedBytes = 0;
    this._unackedDropped = 0;
  }

  /** Sends a request and waits for its reply (or its Error) in FIFO order. */
  _request(msgType, payload) {
    if (!this.connected) {
      return Promise.reject(new SwitchboardError('not_connected', 'not connected'));
    }
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, timer: null };
      this._pending.get(msgType).push(entry);
      this._armRequest(msgType, entry);
      this._send({ msg_type: msgType, payload });
    });
  }

  /** Starts (or restarts) a request's timeout. */
  _armRequest(msgType, entry) {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      const queue = this._pending.get(msgType);
      const index = queue.indexOf(entry);
      if (index >= 0) queue.splice(index, 1);
      entry.reject(new SwitchboardError('timeout', `no reply to message type ${msgType}`));
    }, this.options.requestTimeout);
  }

  /**
   * While the socket is down with a session to resume, requests wait without a
   * clock: the resume resends them or replays their replies. They get a full
   * requestTimeout again once resumed.
   */
  _pauseRequests() {
    for (const queue of this._pending.values()) for (const entry of queue) clearTimeout(entry.timer);
  }

  _resumeRequests() {
    for (const [msgType, queue] of this._pending) for (const entry of queue) this._armRequest(msgType, entry);
  }

  _settle(msgType, outcome, value) {
    const entry = this._pending.get(msgType)?.shift();
    if (!entry) return false;
    clearTimeout(entry.timer);
    entry[outcome](value);
    return true;
  }

  _onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this._emitError(new SwitchboardError('bad_json', 'server sent invalid JSON'));
      return;
    }
    const p = msg.payload ?? {};
    if (msg.msg_type === MsgType.Welcome) return this._onWelcome(p);
    // Everything after Welcome is numbered, and a resume replays what we may
    // already have handled: each seq is handled once.
    if (typeof msg.seq === 'number') {
      if (msg.seq <= this._lastSeq) return;
      this._lastSeq = msg.seq;
    }
    switch (msg.msg_type) {
      case MsgType.RoomCreated:
        this._enterRoom(p.room_id, p.host, [this.userId]);
        this._settle(MsgType.CreateRoom, 'resolve', p);
        return;
      case MsgType.RoomJoined:
        this._enterRoom(p.room_id, p.host, p.members);
        // Joiner offers: one connection per member already present.
        for (const id of this.members) if (id !== this.userId) this._peer(id);
        this._settle(MsgType.JoinRoom, 'resolve', p);
        return;
      case MsgType.PeerJoined:
        if (p.room_id !== this.roomId) return;
        if (!this.members.includes(p.user_id)) this.members.push(p.user_id);
        // Nothing to set up: the joiner offers, and its first signal creates
        // our side of the connection.
        this._emit('peer-joined', { roomId: p.room_id, peerId: p.user_id });
        return;
      case MsgType.PeerLeft:
        if (p.room_id !== this.roomId) return;
        this.members = this.members.filter((id) => id !== p.user_id);
        this.host = p.host;
        this.peers.get(p.user_id)?.close();
        this._emit('peer-left', { roomId: p.room_id, peerId: p.user_id, host: p.host });
        return;
      case MsgType.PeerReady:
        if (p.room_id === this.roomId) {
          this._emit('peer-ready', { roomId: p.room_id, peerId: p.user_id });
        }
        return;
      case MsgType.SDP:
      case MsgType.ICECandidate:
        if (p.room_id !== this.roomId || typeof msg.from !== 'number') return;
        this._peer(msg.from).receive(msg.msg_type, p);
        return;
      case MsgType.Error:
        return this._onError(p);
      default:
        // Unknown types from a newer server are ignored on purpose.
        return;
    }
  }

  _onWelcome(p) {
    const resumed = p.resumed === true && this._session !== null && p.session === this._session;
    if (resumed && (p.ack ?? 0) < this._unackedDropped) {
      // The server lacks messages we no longer hold: resuming would leave a hole.
      return this._abandonSession();
    }
    const reconnect = this._welcomed; // a Welcome before this one: this is a reconnect
    this.userId = p.user_id;
    this.username = p.username;
    this.iceServers = p.ice_servers ?? [];
    this._live = true;
    this._welcomed = true;
    this._attempt = 0;
    if (resumed) {
      // Before any listener can send: the server drops a seq not above the
      // highest it handled, so what it missed must go out first, in order.
      this._resend(p.ack ?? 0);
    } else {
      this._forgetSession();
    }
    this._session = p.session ?? null;
    this._resumeWindow = p.resume_window ?? 0;
    const detail = { userId: this.userId, username: this.username, iceServers: this.iceServers, resumed };
    this._emit('welcome', detail);
    this._welcomeWaiter?.resolve(detail);
    this._welcomeWaiter = null;
    if (resumed) {
      // The session survived: rooms, peers and RTCPeerConnections stay as they
      // are. The server replays what it sent after our last_seq next, handled
      // as it comes.
      this._resumeRequests();
      const rooms = (p.rooms ?? []).map((r) => ({ roomId: r.room_id, host: r.host, members: [...r.members] }));
      this._emit('resumed', { rooms });
    } else if (reconnect) {
      this._onSessionLost();
    }
  }

  /** Drops what the server acknowledged (seq <= ack) and sends the rest again, in order. */
  _resend(ack) {
    while (this._unacked.length && this._unacked[0].seq <= ack) {
      this._unackedBytes -= this._unacked.shift().text.length;
    }
    for (const { text } of this._unacked) this._ws.send(text);
  }

  /**
   * A reconnect got a fresh session: the server ended the old one, took us out
   * of the room and told the others, who hung up. We hang up too, and rejoin as
   * a newcomer (offering to everyone again).
   */
  _onSessionLost() {
    const rejoin = this.roomId;
    const wasReady = this._ready;
    this._closePeers();
    this._failRequests(new SwitchboardError('session_lost', 'the session ended while disconnected'));
    this.roomId = null;
    this.host = null;
    this.members = [];
    // Why: 'resume-off' (the server keeps no sessions: resume_window 0), 'ended'
    // (it no longer had ours: the window passed, a restart, ...), 'incomplete'
    // (it lacked messages we no longer held, so we ended it).
    const reason = this._lostReason ?? (this._resumeAsked ? 'ended' : 'resume-off');
    this._lostReason = null;
    this._emit('session-lost', { roomId: rejoin, reason });
    if (rejoin !== null) {
      this.joinRoom(rejoin)
        .then(() => wasReady && this.ready())
        .catch((error) => this._emitError(error));
    }
  }

  /**
   * Gives up a session that resumed with a gap (more unacknowledged messages
   * than we keep): the close frame ends it on the server (the others see us
   * leave and hang up), and a fresh connection follows after the usual backoff;
   * its Welcome takes the session-lost path and rejoins.
   */
  _abandonSession() {
    const ws = this._ws;
    this._ws = null; // before close(): _onClose ignores sockets no longer current
    this._live = false;
    ws.close(CLOSE_NORMAL, 'resume incomplete');
    this._forgetSession();
    this._lostReason = 'incomplete';
    const error = new SwitchboardError('session_lost', 'resume incomplete');
    this._closePeers();
    this._failWaiters(error);
    this._scheduleReconnect();
  }

  _onError(p) {
    const error = new SwitchboardError(p.code, p.message, { msgType: p.msg_type ?? null });
    if (this._settle(p.msg_type, 'reject', error)) return;
    this._emitError(error);
  }

  _enterRoom(roomId, host, members) {
    this._closePeers();
    this.roomId = roomId;
    this.host = host;
    this.members = [...members];
    this._ready = false;
    this._emit('room', { roomId, host, members: [...members] });
  }

  _closePeers() {
    for (const peer of [...this.peers.values()]) peer.close();
  }

  _peer(peerId) {
    let peer = this.peers.get(peerId);
    if (!peer) {
      peer = new Peer(this, peerId);
      this.peers.set(peerId, peer);
    }
    return peer;
  }

  _onClose(ws, ev) {
    if (ws !== this._ws) return; // an old socket we already replaced
    this._ws = null;
    this._live = false;
    const error = new SwitchboardError('disconnected', `connection closed (${ev.code})`);
    this._failWelcomeWaiter(error);
    const willReconnect =
      !this._closed && !FINAL_CLOSE_CODES.has(ev.code) && this.options.reconnect && this._welcomed;
    // A socket lost without a close handshake leaves the session to resume: the
    // others see nothing, media keeps flowing, requests may still be answered.
    const resuming = willReconnect && this._canResume();
    if (resuming) {
      this._pauseRequests();
    } else {
      // The server has ended the session and told the others we left, so they
      // have hung up; we do the same and renegotiate on rejoin.
      this._closePeers();
      this._failRequests(error);
    }
    if (!willReconnect) {
      this.userId = null;
      this.roomId = null;
      this.host = null;
      this.members = [];
      this._forgetSession();
    }
    this._emit('disconnected', { code: ev.code, reason: ev.reason, willReconnect, resuming });
    if (willReconnect) this._scheduleReconnect();
  }

  /** Rejects the Welcome wait and every request still waiting for a reply. */
  _failWaiters(error) {
    this._failWelcomeWaiter(error);
    this._failRequests(error);
  }

  _failWelcomeWaiter(error) {
    this._welcomeWaiter?.reject(error);
    this._welcomeWaiter = null;
  }

  _failRequests(error) {
    for (const queue of this._pending.values()) {
      for (const entry of queue.splice(0)) {
        clearTimeout(entry.timer);
        entry.reject(error);
      }
    }
  }

  _scheduleReconnect() {
    const { reconnectDelay, maxReconnectDelay } = this.options;
    const base = Math.min(maxReconnectDelay, reconnectDelay * 2 ** this._attempt);
    // Full jitter on the upper half, so a server restart is not met by a herd.
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this._attempt += 1;
    this._emit('reconnecting', { attempt: this._attempt, delay });
    this._reconnectTimer = setTimeout(async () => {
      if (this._closed) return;
      let ticket;
      try {
        ticket = await this._fetchTicket(); // a fresh ticket for every attempt
      } catch (error) {
        if (this._closed) return;
        if (error instanceof SwitchboardError && error.status === 401) {
          // The key is gone (regenerated elsewhere): retrying cannot succeed.
          this._closePeers();
          this._failRequests(error);
          this.roomId = null;
          this._forgetSession();
          this._emitError(error);
          return;
        }
        this._scheduleReconnect(); // server down or unreachable: back off
        return;
      }
      // A socket that fails from here on is rescheduled by _onClose; Welcome
      // resumes the session or rejoins the room.
      this._openSocket(ticket).catch(() => {});
    }, delay);
  }
}

/**
 * One remote member: its RTCPeerConnection, its DataChannel and the perfect
 * negotiation state.
 */
class Peer {
  constructor(sb, peerId) {
    this.sb = sb;
    this.id = peerId;
    // Polite: the peer with the larger user id yields on offer collisions.
    this.polite = sb.userId > peerId;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.pendingCandidates = []; // arrived before any remote description
    this.closed = false;
    // Signals are handled one at a time, in arrival order: each step awaits
    // the previous one's setRemoteDescription/setLocalDescription.
    this.inbox = Promise.resolve();

    const config = {
      iceServers: sb.options.iceServers ?? sb.iceServers,
    };
    if (sb.options.iceTransportPolicy) config.iceTransportPolicy = sb.options.iceTransportPolicy;
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    this.senders = new Map(); // track -> RTCRtpSender

    // Negotiated on both sides with the same id: no DataChannel signaling, and
    // it exists before the connection is up.
    this.channel = pc.createDataChannel('switchboard', { negotiated: true, id: 0 });
    this.channel.onopen = () => sb._emit('datachannel-open', { peerId });
    this.channel.onmessage = (ev) => sb._emit('message', { peerId, data: ev.data });

    pc.onnegotiationneeded = () => this.offer();
    pc.onicecandidate = ({ candidate }) =>
      this.signal(MsgType.ICECandidate, { candidate: candidate ? candidate.toJSON() : null });
    pc.ontrack = ({ track, streams }) => {
      // Tracks added with addTrack(track, stream) carry their stream; a bare
      // transceiver gets one of its own so the event always has a stream.
      const stream = streams[0] ?? new MediaStream([track]);
      sb._emit('track', { peerId, track, stream });
    };
    const reportState = () =>
      sb._emit('peer-state', {
        peerId,
        iceConnectionState: pc.iceConnectionState,
        connectionState: pc.connectionState,
      });
    pc.oniceconnectionstatechange = () => {
      // An ICE restart recovers from network changes; negotiationneeded fires.
      if (pc.iceConnectionState === 'failed') pc.restartIce();
      reportState();
    };
    pc.onconnectionstatechange = reportState;

    this.syncTracks(sb.localStream);
  }

  /** Makes the connection send exactly the tracks of `stream`. */
  syncTracks(stream) {
    const wanted = new Set(stream?.getTracks() ?? []);
    for (const [track, sender] of this.senders) {
      if (!wanted.has(track)) {
        this.pc.removeTrack(sender);
        this.senders.delete(track);
      }
    }
    for (const track of wanted) {
      if (!this.senders.has(track)) this.senders.set(track, this.pc.addTrack(track, stream));
    }
  }

  signal(msgType, body) {
    if (this.closed) return;
    this.sb._send({
      msg_type: msgType,
      to: this.id,
      payload: { room_id: this.sb.roomId, ...body },
    });
  }

  async offer() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.signal(MsgType.SDP, { sdp: this.pc.localDescription.toJSON() });
    } catch (error) {
      if (!this.closed) this.sb._emitError(error);
    } finally {
      this.makingOffer = false;
    }
  }

  receive(msgType, payload) {
    this.inbox = this.inbox
      .then(() =>
        msgType === MsgType.SDP ? this.onDescription(payload.sdp) : this.onCandidate(payload.candidate),
      )
      .catch((error) => {
        if (!this.closed) this.sb._emitError(error);
      });
  }

  async onDescription(description) {
    if (this.closed) return;
    const pc = this.pc;
    const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    // For the polite peer, setRemoteDescription(offer) in have-local-offer rolls
    // the local offer back implicitly; negotiationneeded fires again later.
    await pc.setRemoteDescription(description);
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      this.signal(MsgType.SDP, { sdp: pc.localDescription.toJSON() });
    }
    await this.flushCandidates();
  }

  async onCandidate(candidate) {
    if (this.closed || candidate === null) return; // end-of-candidates: not needed
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this.addCandidate(candidate);
  }

  async flushCandidates() {
    const queued = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const candidate of queued) await this.addCandidate(candidate);
  }

  async addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      // Candidates of an offer we ignored (or of a description rolled back)
      // legitimately fail; anything else is worth reporting.
      if (!this.ignoreOffer && !this.closed) throw error;
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc.close(); // fires no state events: hence peer-closed
    if (this.sb.peers.get(this.id) === this) this.sb.peers.delete(this.id);
    this.sb._emit('peer-closed', { peerId: this.id });
  }
}
