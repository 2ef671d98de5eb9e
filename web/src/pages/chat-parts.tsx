import { type ComponentChildren, Fragment } from 'preact';
import { formatBytes, formatTime, revealControls } from '../format.js';
import type { Line, Pending } from '../chat-socket.js';
import type { ChatMessage } from '../types.js';

const URL_RE = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;

/** User text with web links made clickable; everything is rendered as text, never as HTML. */
export function Linkified({ text }: { text: string }) {
  const parts: ComponentChildren[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const at = m.index ?? 0;
    if (at > last) parts.push(revealControls(text.slice(last, at)));
    parts.push(
      <a href={m[0]} target="_blank" rel="noopener noreferrer nofollow">
        {revealControls(m[0])}
      </a>,
    );
    last = at + m[0].length;
  }
  if (last < text.length) parts.push(revealControls(text.slice(last)));
  return <>{parts}</>;
}

function FileCard({ file }: { file: NonNullable<ChatMessage['file']> }) {
  const href = `/api/files/${encodeURIComponent(file.id)}/content`;
  if (file.type.startsWith('image/') && !file.type.includes('svg')) {
    return (
      <a class="file-card" href={href} target="_blank" rel="noopener">
        <img src={`/api/files/${encodeURIComponent(file.id)}/thumbnail?size=256`} alt={file.name} loading="lazy" />
      </a>
    );
  }
  return (
    <a class="file-card" href={href} download={file.name}>
      <span class="thumb" aria-hidden="true">{(file.name.split('.').pop() ?? '').slice(0, 4).toUpperCase() || 'FILE'}</span>
      <span>
        <strong>{revealControls(file.name)}</strong>
        <div class="muted small-text">{formatBytes(file.size)} · {file.type}</div>
      </span>
    </a>
  );
}

/** One message: six elements (the list's DOM is bounded by lines × this). */
export function MessageView({ m }: { m: ChatMessage }) {
  if (m.kind === 'system') return <div class="system" data-key={m.id}>{m.body}</div>;
  return (
    <div class="msg" data-seq={m.seq} data-key={m.id}>
      <span class="avatar" aria-hidden="true">{m.sender.name.slice(0, 1).toUpperCase()}</span>
      <div class="head">
        <strong>{revealControls(m.sender.name)}</strong>
        <time dateTime={new Date(m.createdAt).toISOString()}>{formatTime(m.createdAt)}</time>
      </div>
      <div class="body">
        {m.kind === 'file' && m.file ? <FileCard file={m.file} /> : <Linkified text={m.body} />}
      </div>
    </div>
  );
}

export function PendingView({ p, name }: { p: Pending; name: string }) {
  return (
    <div class={`msg pending${p.failed ? ' failed' : ''}`} data-pending={p.clientId}>
      <span class="avatar" aria-hidden="true">{name.slice(0, 1).toUpperCase()}</span>
      <div class="head">
        <strong>{name}</strong>
        <span class="state">{p.failed ? `Not sent: ${p.failed}` : 'Sending…'}</span>
      </div>
      <div class="body"><Linkified text={p.body} /></div>
    </div>
  );
}

/** The timeline: messages, presence lines and the divider before what is new since the last visit. */
export function Timeline({ lines, newAfter }: { lines: Line[]; newAfter: number }) {
  let dividerShown = false;
  return (
    <>
      {lines.map((l) => {
        if (l.kind === 'system') return <div key={l.key} data-key={l.key} class="system">{l.text}</div>;
        const showDivider = !dividerShown && newAfter > 0 && l.message.seq > newAfter;
        if (showDivider) dividerShown = true;
        // No wrapper per message: the divider is the message's sibling.
        return (
          <Fragment key={l.message.id}>
            {showDivider && <div class="divider" role="separator">New messages</div>}
            <MessageView m={l.message} />
          </Fragment>
        );
      })}
    </>
  );
}
