import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { sentence } from '../api.js';
import {
  connState, displayName, hasMore, hasNewer, jumpToLatest, loadHistory, loadMembers, markRead, members, notice,
  pending, publicRooms, readSeq, refreshRooms, request, rooms, send, timelines, unreadOf,
} from '../chat-socket.js';
import { session } from '../session.js';
import type { RoomInfo } from '../types.js';
import { Modal } from './dialog.js';
import { PendingView, Timeline } from './chat-parts.js';
import { ShareFileDialog } from './chat-share.js';
import { useScrollWindow } from './chat-scroll.js';

function ConnBadge() {
  const state = connState.value;
  return <span class={`conn ${state}`} role="status">{state === 'online' ? 'Connected' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…'}</span>;
}

function RoomLink({ r, active }: { r: RoomInfo; active: boolean }) {
  const n = active ? 0 : unreadOf(r);
  return (
    <a class="room-link" href={`/chat/${r.id}`} aria-current={active ? 'page' : undefined}>
      <span class="name">{displayName(r)}</span>
      {n > 0 && <span class="badge" aria-label={`${n} unread`}>{n}</span>}
    </a>
  );
}

function MiniForm(props: { label: string; placeholder: string; button: string; onSubmit: (v: string) => Promise<void> }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        setError('');
        props.onSubmit(value.trim()).then(() => setValue(''), (err: unknown) => setError(sentence(err)));
      }}
    >
      <div class="mini-form">
        <input aria-label={props.label} placeholder={props.placeholder} value={value} required onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit" class="small">{props.button}</button>
      </div>
      {error && <p class="error small-text" role="alert">{error}</p>}
    </form>
  );
}

function CreateRoom({ onCreated }: { onCreated: (id: number) => void }) {
  const [name, setName] = useState('');
  const [secret, setSecret] = useState(false);
  const [error, setError] = useState('');
  async function submit(e: Event) {
    e.preventDefault();
    setError('');
    try {
      const f = await request<{ room: RoomInfo }>({ type: 'create', name: name.trim(), visibility: secret ? 'private' : 'public' });
      setName('');
      setSecret(false);
      onCreated(f.room.id);
    } catch (err) {
      setError(sentence(err));
    }
  }
  return (
    <form onSubmit={(e) => void submit(e)}>
      <div class="mini-form">
        <input aria-label="New room name" placeholder="New room" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" class="small">Create</button>
      </div>
      <label class="inline small-text"><input type="checkbox" checked={secret} onChange={(e) => setSecret(e.currentTarget.checked)} /> Private (invitation only)</label>
      {error && <p class="error small-text" role="alert">{error}</p>}
    </form>
  );
}

function Sidebar({ active }: { active: number }) {
  const { route } = useLocation();
  const list = rooms.value;
  const groups = list.filter((r) => r.kind === 'room');
  const dms = list.filter((r) => r.kind === 'dm');
  return (
    <aside class="rooms" aria-label="Rooms">
      <h2>Rooms</h2>
      {groups.length === 0 && <p class="muted small-text">You are in no room yet.</p>}
      {groups.map((r) => <RoomLink key={r.id} r={r} active={r.id === active} />)}
      <CreateRoom onCreated={(id) => route(`/chat/${id}`)} />
      <h2>Direct messages</h2>
      {dms.map((r) => <RoomLink key={r.id} r={r} active={r.id === active} />)}
      <MiniForm label="Username to message" placeholder="Username" button="Message" onSubmit={async (user) => {
        const f = await request<{ room: RoomInfo }>({ type: 'dm', user });
        route(`/chat/${f.room.id}`);
      }} />
      {publicRooms.value.length > 0 && (
        <>
          <h2>Public rooms to join</h2>
          {publicRooms.value.map((r) => (
            <div class="room-link" key={r.id}>
              <span class="name">#{r.name}</span>
              <button type="button" class="small" onClick={() => void request({ type: 'join', room: r.id }).then(() => route(`/chat/${r.id}`))}>Join</button>
            </div>
          ))}
        </>
      )}
    </aside>
  );
}

function Members({ room }: { room: RoomInfo }) {
  const { route } = useLocation();
  const list = members.value[room.id] ?? [];
  const meId = session.value?.user.id;
  const canManage = room.kind === 'room' && (room.role === 'admin' || session.value?.user.role === 'admin');
  const [error, setError] = useState('');
  const act = (p: Promise<unknown>) => p.catch((err: unknown) => setError(sentence(err)));
  return (
    <aside class="members" aria-label="Members">
      <h2>Members ({list.length})</h2>
      {list.map((m) => (
        <div class="member" key={m.id}>
          <span class={`dot ${m.presence ?? 'offline'}`} title={m.presence ?? 'offline'} />
          <span class="member-name">{m.username}</span>
          <span class="muted small-text">{m.presence === 'disconnected' ? 'reconnecting' : m.presence ?? ''}</span>
          {m.id !== meId && room.kind === 'room' && (
            <button type="button" class="small ghost" aria-label={`Message ${m.username}`} title="Direct message"
              onClick={() => void act(request<{ room: RoomInfo }>({ type: 'dm', user: m.id }).then((f) => route(`/chat/${f.room.id}`)))}>✉</button>
          )}
          {m.id !== meId && canManage && (
            <button type="button" class="small ghost" aria-label={`Remove ${m.username}`} title="Remove from the room"
              onClick={() => void act(request({ type: 'remove', room: room.id, user: m.id }).then(() => loadMembers(room.id)))}>✕</button>
          )}
        </div>
      ))}
      {error && <p class="error small-text" role="alert">{error}</p>}
      {canManage && (
        <MiniForm label="Invite by username" placeholder="Invite someone" button="Invite" onSubmit={async (user) => {
          await request({ type: 'invite', room: room.id, user });
          await loadMembers(room.id);
        }} />
      )}
    </aside>
  );
}

function Conversation({ room }: { room: RoomInfo }) {
  const list = useRef<HTMLDivElement>(null);
  const [text, setText] = useState('');
  const [sharing, setSharing] = useState(false);
  const [error, setError] = useState('');
  const [newAfter] = useState(() => readSeq.value[room.id] ?? 0);
  const lines = timelines.value[room.id] ?? [];
  const mine = pending.value.filter((p) => p.room === room.id);
  const view = useScrollWindow(list, room.id, [lines, mine.length]);

  useEffect(() => {
    if (hasMore.value[room.id] === undefined) void loadHistory(room.id).catch((err: unknown) => setError(sentence(err)));
    void loadMembers(room.id).catch(() => {});
  }, [room.id, connState.value === 'online']);
  useEffect(() => markRead(room.id), [room.id, room.lastSeq]);

  function submit(e?: Event) {
    e?.preventDefault();
    const body = text.trim();
    if (!body) return;
    send(room.id, body);
    setText('');
    // Writing while reading far back: the window goes to the newest messages, where this one lands.
    if (hasNewer.value[room.id]) void jumpToLatest(room.id);
  }
  const me = session.value?.user.username ?? '';
  return (
    <section class="conversation" aria-label={displayName(room)}>
      <header>
        <h1>{displayName(room)}</h1>
        <ConnBadge />
        <span class="spacer" />
        {room.kind === 'room' && (
          <button type="button" class="small" onClick={() => void request({ type: 'leave', room: room.id }).then(() => (location.href = '/chat'))}>Leave</button>
        )}
      </header>
      <div class="messages" ref={list} onScroll={view.onScroll} aria-live="polite">
        {hasMore.value[room.id] === false && <div class="system">This is the start of {displayName(room)}.</div>}
        <Timeline lines={lines} newAfter={newAfter} />
        {hasNewer.value[room.id] && <div class="system">Loading newer messages…</div>}
        {!hasNewer.value[room.id] && mine.map((p) => <PendingView key={p.clientId} p={p} name={me} />)}
      </div>
      {(error || notice.value) && <p class="error" role="alert">{error || notice.value}</p>}
      <form class="composer" onSubmit={submit}>
        <button type="button" onClick={() => setSharing(true)} aria-label="Share a file">+ File</button>
        <textarea
          aria-label={`Message ${displayName(room)}`}
          placeholder={`Message ${displayName(room)}`}
          rows={1}
          maxLength={16000}
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) submit(e);
          }}
        />
        <button type="submit" class="primary">Send</button>
      </form>
      {sharing && (
        <Modal title="Share a file" onClose={() => setSharing(false)}>
          <ShareFileDialog room={room.id} onDone={() => setSharing(false)} />
        </Modal>
      )}
    </section>
  );
}

export function ChatPage() {
  const { params } = useRoute();
  // Public rooms made since the connection opened show up when the chat is opened.
  useEffect(() => {
    if (connState.value === 'online') void refreshRooms().catch(() => {});
  }, [connState.value === 'online']);
  const id = Number(params.room ?? 0);
  const room = rooms.value.find((r) => r.id === id);
  return (
    <div class="chat">
      <Sidebar active={id} />
      {room ? (
        <Conversation key={room.id} room={room} />
      ) : (
        <section class="conversation empty">
          <div class="stack center">
            <ConnBadge />
            <p>{id && connState.value === 'online' ? 'This room does not exist or you are not in it.' : 'Pick a room or start a direct message.'}</p>
          </div>
        </section>
      )}
      {room && <Members room={room} />}
    </div>
  );
}
