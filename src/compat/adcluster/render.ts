import type { Core } from '../../app.js';
import type { HubEvent, Participant, RoomInfo } from '../../chat/model.js';
import { createFanoutFilter } from './fanout.js';
import { senderKey } from './identity.js';
import { words } from './words.js';

const NOTICE_DEDUPE_MS = 2000;

/**
 * What one seed 004 connection shows for each hub event, in the seed's words (undefined: nothing).
 * Messages from native clients render as group messages, a direct-message room's as private
 * messages; a send to several shared groups shows once; the same disconnect notice from several
 * shared groups shows once. Membership events only teach `known` the room's name and kind (the hub
 * has already (un)subscribed the connection).
 */
export function createRenderer(core: Core, me: Participant, known: Map<number, RoomInfo>) {
  const lastNotice = new Map<string, number>();
  const firstCopy = createFanoutFilter();
  const isSelf = (u: { id: number | null; name: string }) =>
    me.userId !== null ? u.id === me.userId : u.id === null && u.name === me.name;

  /** The same notice from several shared groups is shown once. */
  function once(text: string): string | undefined {
    const now = Date.now();
    const at = lastNotice.get(text);
    if (at !== undefined && now - at < NOTICE_DEDUPE_MS) return undefined;
    if (lastNotice.size > 1000) lastNotice.clear();
    lastNotice.set(text, now);
    return text;
  }

  function message(event: Extract<HubEvent, { kind: 'message' }>): string | undefined {
    const m = event.message;
    const body = m.kind === 'file' ? `[file] ${m.body}` : m.body;
    if (known.get(m.room)?.kind === 'dm') return m.sender.id === me.userId ? undefined : words.private(m.sender.name, body);
    if (!firstCopy(senderKey(m.sender), m.clientId)) return undefined;
    return event.style === 'text' ? words.text(m.sender.name, body) : words.group(m.sender.name, body);
  }

  /** Seed 004 text relayed in memory while the database is down: shown like a stored message. */
  function relay(event: Extract<HubEvent, { kind: 'relay' }>): string | undefined {
    if (!firstCopy(senderKey(event.from), event.clientId)) return undefined;
    return event.style === 'text' ? words.text(event.from.name, event.body) : words.group(event.from.name, event.body);
  }

  function presence(event: Extract<HubEvent, { kind: 'presence' }>): string | undefined {
    if (isSelf(event.user) || known.get(event.room)?.kind === 'dm' || event.roomName.startsWith('dm:')) return undefined;
    const name = event.user.name;
    switch (event.event) {
      case 'joined':
      case 'rejoined':
        return words.joinedGroup(name, event.roomName);
      case 'left':
        // "left" is both a clean goodbye and leaving one group while staying connected.
        if (core.chat.presenceOf(senderKey(event.user)) === 'online') return words.leftGroup(name, event.roomName);
        return once(words.disconnected(name));
      case 'disconnected':
        return once(words.disconnected(name));
      case 'offline':
        return undefined;
    }
    return undefined;
  }

  return function render(event: HubEvent): string | undefined {
    switch (event.kind) {
      case 'message':
        return message(event);
      case 'presence':
        return presence(event);
      case 'relay':
        return relay(event);
      case 'direct':
        return words.private(event.from.name, event.text);
      case 'membership':
        if (event.event === 'added') known.set(event.room.id, event.room);
        return undefined;
    }
  };
}
