// Demo call page for switchboard: sign in, start or join a room, mesh video call.
// All signaling and WebRTC logic lives in switchboard.js; this file is UI.
import { Switchboard, SwitchboardError, register, signIn } from './switchboard.js';

const SESSION_KEY = 'switchboard.session';
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
// Debug/test option: `?ice=relay` forces every call through TURN.
const iceTransportPolicy = params.get('ice') === 'relay' ? 'relay' : undefined;

const state = {
  session: loadSession(), // {apiKey, username}
  sb: null,
  localStream: null,
  names: new Map(), // peerId -> username, learned over the DataChannel
  messages: [], // every DataChannel message received: {peerId, data}
};

// --- session storage -------------------------------------------------------

function loadSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

function saveSession(session) {
  state.session = session;
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

// --- views -----------------------------------------------------------------

function show(view) {
  for (const id of ['auth-view', 'lobby-view', 'call-view']) $(id).hidden = id !== view;
  $('who').hidden = view === 'auth-view';
  document.body.dataset.view = view;
}

function setStatus(text, kind) {
  $('status').textContent = text;
  $('status').dataset.state = kind;
}

function notice(text) {
  $('call-notice').textContent = text;
}

/**
 * The connection banner over the call: shown while the signaling socket is
 * down (`reconnecting`, the call itself goes on) or while a lost session rejoins
 * (`rejoining`); hidden with no text.
 */
function banner(text, kind = 'reconnecting') {
  const el = $('conn-banner');
  el.hidden = !text;
  el.dataset.state = text ? kind : '';
  el.querySelector('.text').textContent = text ?? '';
}

function roomLink(roomId) {
  const url = new URL(location.pathname, location.origin);
  url.searchParams.set('room', roomId);
  if (iceTransportPolicy) url.searchParams.set('ice', iceTransportPolicy);
  return url.href;
}

/** Accepts a full room link or a bare room id. */
function parseRoom(text) {
  const value = text.trim();
  try {
    return new URL(value).searchParams.get('room') ?? value;
  } catch {
    return value;
  }
}

function describeError(error) {
  if (error instanceof SwitchboardError) {
    const friendly = {
      invalid_credentials: 'Wrong username or password.',
      username_taken: 'That username is taken.',
      invalid_username: 'Usernames are 3 to 32 letters, digits, _ . or -.',
      invalid_password: 'Passwords are 8 to 128 characters.',
      too_many_attempts: 'Too many attempts, try again in a minute.',
      room_not_found: 'That room does not exist (any more).',
      room_full: 'That room is full.',
    };
    return friendly[error.code] ?? error.message;
  }
  return error?.message ?? String(error);
}

// --- sign in ---------------------------------------------------------------

$('auth-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const action = ev.submitter?.value ?? 'signin';
  const username = $('username').value.trim();
  const password = $('password').value;
  $('auth-error').textContent = '';
  for (const b of ev.target.querySelectorAll('button')) b.disabled = true;
  try {
    const account = await (action === 'register' ? register : signIn)(undefined, username, password);
    saveSession({ apiKey: account.api_key, username: account.username });
    $('password').value = '';
    await enterLobby();
  } catch (error) {
    $('auth-error').textContent = describeError(error);
  } finally {
    for (const b of ev.target.querySelectorAll('button')) b.disabled = false;
  }
});

$('sign-out').addEventListener('click', () => {
  hangUp();
  state.sb?.close();
  state.sb = null;
  window.demo.sb = null;
  saveSession(null);
  show('auth-view');
});

// --- connection ------------------------------------------------------------

// One connection attempt at a time: a second socket of the same user would
// replace (close) the first.
let connecting = null;
function ensureConnected() {
  if (state.sb) return Promise.resolve();
  connecting ??= connect().finally(() => (connecting = null));
  return connecting;
}

async function connect() {
  const sb = new Switchboard({ apiKey: state.session.apiKey, iceTransportPolicy });

  let resuming = false; // the last drop left a session to resume: the call goes on
  sb.addEventListener('welcome', () => setStatus('online', 'online'));
  sb.addEventListener('reconnecting', (ev) => {
    setStatus('reconnecting…', 'reconnecting');
    if (sb.roomId) {
      const wait = Math.ceil(ev.detail.delay / 1000);
      const meanwhile = resuming ? ' The call goes on meanwhile.' : '';
      banner(`Reconnecting… (attempt ${ev.detail.attempt}, next try in ${wait} s).${meanwhile}`);
    }
  });
  sb.addEventListener('disconnected', (ev) => {
    resuming = ev.detail.resuming;
    if (ev.detail.willReconnect) {
      setStatus('reconnecting…', 'reconnecting');
      // Resuming: the peer connections stay up and so do their tiles.
      if (!ev.detail.resuming) clearRemoteTiles();
      if (sb.roomId) banner('Connection to the server lost. Reconnecting…');
      return;
    }
    clearRemoteTiles();
    banner(null);
    setStatus('offline', 'offline');
    const why = {
      4001: 'You signed in somewhere else, so this page was signed out.',
      4002: 'This account opened the call in another tab.',
      4003: 'An administrator disconnected this page.',
    }[ev.detail.code];
    if (why) notice(why);
  });
  sb.addEventListener('resumed', () => banner(null));
  sb.addEventListener('session-lost', (ev) => {
    // The server ended our session while we were away: the others saw us leave.
    clearRemoteTiles();
    if (ev.detail.roomId) banner('Back online, but the call could not be resumed. Rejoining it…', 'rejoining');
  });
  sb.addEventListener('room', (ev) => {
    notice('');
    banner(null);
    renderRoom();
    for (const id of ev.detail.members) if (id !== sb.userId) ensureTile(id);
  });
  sb.addEventListener('peer-joined', (ev) => {
    ensureTile(ev.detail.peerId);
    renderRoom();
  });
  sb.addEventListener('peer-left', (ev) => {
    removeTile(ev.detail.peerId);
    renderRoom();
  });
  sb.addEventListener('peer-state', (ev) => {
    const tile = ensureTile(ev.detail.peerId);
    tile.querySelector('.state').textContent = stateLabel(ev.detail.iceConnectionState);
    tile.dataset.ice = ev.detail.iceConnectionState;
  });
  sb.addEventListener('track', (ev) => {
    const video = ensureTile(ev.detail.peerId).querySelector('video');
    if (video.srcObject !== ev.detail.stream) video.srcObject = ev.detail.stream;
  });
  sb.addEventListener('datachannel-open', (ev) => {
    sb.send(ev.detail.peerId, JSON.stringify({ type: 'hello', name: sb.username }));
  });
  sb.addEventListener('message', (ev) => {
    state.messages.push(ev.detail);
    let msg;
    try {
      msg = JSON.parse(ev.detail.data);
    } catch {
      return;
    }
    if (msg?.type === 'hello' && typeof msg.name === 'string') {
      state.names.set(ev.detail.peerId, msg.name);
      renderRoom();
    }
  });
  sb.addEventListener('error', (ev) => {
    const error = ev.detail.error;
    console.warn('switchboard:', error);
    if (error instanceof SwitchboardError && error.status === 401) {
      saveSession(null);
      location.reload(); // the key is gone: back to sign in
      return;
    }
    if (sb.roomId === null && document.body.dataset.view === 'call-view') {
      banner(null);
      hangUp();
      enterLobby().then(() => ($('lobby-error').textContent = describeError(error)));
    }
  });

  setStatus('connecting…', 'reconnecting');
  await sb.connect();
  state.sb = sb;
  window.demo.sb = sb;
}

async function enterLobby() {
  $('me-name').textContent = state.session.username;
  show('lobby-view');
  const roomId = params.get('room');
  if (roomId && !$('room-input').value) $('room-input').value = roomId;
  if (!state.sb) {
    try {
      await ensureConnected();
    } catch (error) {
      if (error instanceof SwitchboardError && error.status === 401) {
        saveSession(null);
        show('auth-view');
        $('auth-error').textContent = 'Your session expired, please sign in again.';
        return;
      }
      setStatus('offline', 'offline');
      $('lobby-error').textContent = `Cannot reach the server: ${describeError(error)}`;
    }
  }
}

// --- the call --------------------------------------------------------------

async function getLocalMedia() {
  const attempts = [
    { audio: true, video: { width: { ideal: 1280 }, height: { ideal: 720 } } },
    { audio: true, video: false },
  ];
  for (const constraints of attempts) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (error) {
      console.warn('getUserMedia', constraints, error);
    }
  }
  return null; // receive-only: still useful
}

async function startCall(join) {
  $('lobby-error').textContent = '';
  for (const b of document.querySelectorAll('#lobby-view button')) b.disabled = true;
  try {
    await ensureConnected(); // retries if the first attempt failed
    const sb = state.sb;
    if (!sb.connected) throw new Error('Not connected to the server, retrying…');
    state.localStream = await getLocalMedia();
    sb.setLocalStream(state.localStream);
    const roomId = await join(sb);
    history.replaceState(null, '', roomLink(roomId));
    $('room-link').value = roomLink(roomId);
    show('call-view');
    renderLocalTile();
    renderRoom();
    if (!state.localStream) notice('No camera or microphone: you can watch and listen only.');
    sb.ready();
  } catch (error) {
    stopLocalMedia();
    $('lobby-error').textContent = describeError(error);
  } finally {
    for (const b of document.querySelectorAll('#lobby-view button')) b.disabled = false;
  }
}

$('create-room').addEventListener('click', () => startCall((sb) => sb.createRoom()));
$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const roomId = parseRoom($('room-input').value);
  startCall(async (sb) => (await sb.joinRoom(roomId)).roomId);
});

function stopLocalMedia() {
  for (const track of state.localStream?.getTracks() ?? []) track.stop();
  state.localStream = null;
  state.sb?.setLocalStream(null);
}

function hangUp() {
  state.sb?.leaveRoom();
  stopLocalMedia();
  $('tiles').replaceChildren();
  state.names.clear();
  notice('');
  banner(null);
}

$('leave').addEventListener('click', () => {
  hangUp();
  history.replaceState(null, '', location.pathname);
  $('room-input').value = '';
  enterLobby();
});

function toggleTrack(kind, button) {
  const tracks = state.localStream?.getTracks().filter((t) => t.kind === kind) ?? [];
  if (!tracks.length) return;
  const muted = tracks[0].enabled; // new state: muted if it was enabled
  for (const t of tracks) t.enabled = !muted;
  button.setAttribute('aria-pressed', String(muted));
  if (kind === 'video') $('tiles').querySelector('.tile.local')?.classList.toggle('camera-off', muted);
}
$('mute-audio').addEventListener('click', (ev) => toggleTrack('audio', ev.currentTarget));
$('mute-video').addEventListener('click', (ev) => toggleTrack('video', ev.currentTarget));

$('copy-link').addEventListener('click', async () => {
  const input = $('room-link');
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // Clipboard API needs a secure context; selecting lets the user copy by hand.
    input.select();
    document.execCommand('copy');
  }
  $('copy-link').textContent = 'Copied';
  setTimeout(() => ($('copy-link').textContent = 'Copy link'), 1500);
});

// --- tiles -----------------------------------------------------------------

function newTile() {
  return $('tile-template').content.firstElementChild.cloneNode(true);
}

function renderLocalTile() {
  let tile = $('tiles').querySelector('.tile.local');
  if (!tile) {
    tile = newTile();
    tile.classList.add('local');
    tile.dataset.peerId = String(state.sb.userId);
    tile.querySelector('video').muted = true; // never play our own microphone back
    $('tiles').prepend(tile);
  }
  tile.querySelector('video').srcObject = state.localStream;
  tile.classList.toggle('camera-off', !state.localStream?.getVideoTracks().length);
}

function ensureTile(peerId) {
  let tile = $('tiles').querySelector(`.tile[data-peer-id="${peerId}"]`);
  if (!tile) {
    tile = newTile();
    tile.dataset.peerId = String(peerId);
    tile.querySelector('.state').textContent = 'connecting';
    $('tiles').append(tile);
    renderRoom();
  }
  return tile;
}

function removeTile(peerId) {
  $('tiles').querySelector(`.tile[data-peer-id="${peerId}"]`)?.remove();
  state.names.delete(peerId);
}

function clearRemoteTiles() {
  for (const tile of $('tiles').querySelectorAll('.tile:not(.local)')) tile.remove();
}

function stateLabel(ice) {
  return { checking: 'connecting', connected: '', completed: '', disconnected: 'reconnecting' }[ice] ?? ice;
}

function displayName(id) {
  if (id === state.sb.userId) return `${state.sb.username} (you)`;
  return state.names.get(id) ?? `user ${id}`;
}

function renderRoom() {
  const sb = state.sb;
  if (!sb?.roomId) return;
  const tiles = $('tiles');
  for (const tile of tiles.querySelectorAll('.tile')) {
    const id = Number(tile.dataset.peerId);
    tile.querySelector('.name').textContent = displayName(id);
    tile.querySelector('.host-badge').hidden = id !== sb.host;
  }
  tiles.dataset.count = String(tiles.children.length);
  $('host-label').textContent = sb.host === sb.userId ? 'You are the host' : `Host: ${displayName(sb.host)}`;
  $('host-label').dataset.hostId = String(sb.host);
  const n = sb.members.length;
  $('people-count').textContent = `${n} ${n === 1 ? 'person' : 'people'} in the call`;
}

// --- test hooks ------------------------------------------------------------

// Read by the browser tests (tests/browser/): state to assert on, no behaviour.
window.demo = {
  sb: null,
  get messages() {
    return state.messages;
  },
  peerConnection: (peerId) => state.sb?.peerConnection(peerId),
  state() {
    const sb = state.sb;
    if (!sb) return null;
    const peers = {};
    for (const [id, peer] of sb.peers) {
      peers[id] = {
        iceConnectionState: peer.pc.iceConnectionState,
        connectionState: peer.pc.connectionState,
        signalingState: peer.pc.signalingState,
        dataChannel: peer.channel.readyState,
      };
    }
    return {
      connected: sb.connected,
      userId: sb.userId,
      username: sb.username,
      roomId: sb.roomId,
      host: sb.host,
      members: [...sb.members],
      peers,
    };
  },
};

// --- start -----------------------------------------------------------------

if (state.session?.apiKey) enterLobby();
else show('auth-view');
