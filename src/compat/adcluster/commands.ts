import type { RoomInfo } from '../../chat/model.js';
import type { SendResult } from '../../chat/messages.service.js';
import { ROOM_NAME } from '../../chat/rooms.service.js';
import { AppError } from '../../shared/errors.js';
import { fanoutClientId, newFanout } from './fanout.js';
import { groupMembers, visibleGroups } from './groups.js';
import { sendToClient } from './send-to.js';
import { myGroups, senderOf, type Session } from './session.js';
import { ADCLUSTER_HELP, GROUP_NAME_RULE, pyJson, words } from './words.js';

/**
 * Seed 004's text commands, one small handler each: `/send_to`, `/join`, `/leave`, `/group`,
 * `/groups`, `/group_members`, `/my_groups`, `/help`; any other text (including `/usr/bin`, which
 * is not a `/word`) goes to the connection's groups.
 *
 * Replies (words.ts): `/send_to` → the target gets a private message, the sender "Message sent" or
 * "Failed … Client not found or disconnected." (also for a client it may not know is online);
 * `/group` and plain text → each of the connection's groups (the path's group alone for `/group` on
 * `/ws/{client_id}/{group}`); outside any group plain text comes back as `Client '<me>' says: …` to
 * the sender alone; `/groups` → Python's json.dumps of name, member_count and — for one's own groups
 * — online. Problems are `Error: <reason>`: an unknown `/command` (with the command list), an empty
 * message, no group to speak to.
 */

const COMMAND = /^\/([A-Za-z_]+)(?:\s+([\s\S]*))?$/;

function fail(message: string): AppError {
  return new AppError('BAD_REQUEST', message);
}

function groupName(arg: string, usage: string): string {
  const name = arg.trim();
  if (name === '') throw fail(`Usage: ${usage}`);
  if (!ROOM_NAME.test(name)) throw new AppError('VALIDATION_FAILED', GROUP_NAME_RULE);
  return name;
}

/**
 * Who a message goes to: the connection's groups; for `/group` on `/ws/{client_id}/{group}`, the
 * path's group alone (the seed sends it there only) — an error once the connection has left it.
 */
function audience(s: Session, style: 'group' | 'text'): RoomInfo[] {
  const groups = myGroups(s);
  const path = s.identity.group;
  if (style !== 'group' || !path) return groups;
  const own = groups.find((r) => r.id === path.id);
  if (!own) throw fail(words.notInGroup(path.name));
  return [own];
}

async function speak(s: Session, body: string, style: 'group' | 'text') {
  if (body.trim() === '') throw new AppError('VALIDATION_FAILED', 'A message needs some text');
  const groups = audience(s, style);
  if (groups.length === 0) {
    // The seed answers plain text outside any group in its own words (and tells everyone: Plaza tells nobody else).
    if (style === 'text') return s.write(words.says(s.me.name, body));
    throw fail(words.noGroupAtAll);
  }
  // One copy per room; recipients in several of them show it once (fanout.ts).
  const fan = groups.length > 1 ? newFanout() : undefined;
  for (const room of groups) {
    const input = { body, style, ...(fan ? { clientId: fanoutClientId(fan, room.id) } : {}) };
    // Database down (degraded mode): the text still reaches the group's connected members, in memory.
    const failed = (err: unknown) => {
      if (s.core.chat.messages.mayRelay(err)) s.core.chat.messages.relay(room, s.me, input);
      else s.replyError(err);
    };
    try {
      // Queued in frame order; stored and fanned out with whatever else is waiting (group commit).
      const committed: Promise<SendResult> = s.user
        ? (await s.core.chat.messages.enqueue(s.user, room.id, input)).committed
        : s.core.chat.messages.sendAsGuest(s.me, room, input);
      committed.catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}

async function join(s: Session, name: string) {
  const { chat } = s.core;
  let room: RoomInfo | undefined;
  try {
    if (s.user) room = await chat.rooms.joinOrCreateByName(s.user, name);
    else {
      room = await chat.rooms.findByName(name);
      if (room?.kind !== 'room' || room.visibility !== 'public') room = undefined;
    }
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
  }
  if (!room) {
    throw new AppError('NOT_FOUND', s.user ? `Cannot join group '${name}'` : `Cannot join group '${name}': guests join existing public groups only`);
  }
  s.known.set(room.id, room);
  chat.follow(s.conn, room);
  s.write(words.joined(name));
}

async function leave(s: Session, name: string) {
  const { chat } = s.core;
  const room = myGroups(s).find((r) => r.name === name) ?? (s.user ? await chat.rooms.findByName(name) : undefined);
  if (!room || room.kind !== 'room') throw fail(words.notInGroup(name));
  if (s.user) {
    try {
      await chat.rooms.leave(s.user, room.id);
    } catch (err) {
      if (err instanceof AppError && (err.code === 'NOT_MEMBER' || err.code === 'NOT_FOUND')) throw fail(words.notInGroup(name));
      throw err;
    }
  }
  chat.unfollow(s.conn, room.id);
  s.write(words.left(name));
}

async function sendTo(s: Session, rest: string) {
  const parts = /^(\S+)\s+([\s\S]*)$/.exec(rest);
  if (!parts || (parts[2] as string).trim() === '') throw fail('Usage: /send_to <client_id> <message>');
  const target = parts[1] as string;
  const delivered = (await sendToClient(s.core, senderOf(s), target, parts[2] as string)) ?? 0;
  s.write(delivered > 0 ? words.sent(target) : words.sendFailed(target));
}

async function listGroups(s: Session) {
  const rows = await visibleGroups(s.core, s.user, s.core.chat.followedBy(s.conn));
  const shown = rows.map((g) => ({ name: g.name, member_count: g.members, ...(g.online !== undefined ? { online: g.online } : {}) }));
  s.write(words.groups(pyJson(shown)));
}

async function listMyGroups(s: Session) {
  const names = s.user
    ? (await s.core.chat.rooms.roomsOf(s.me)).filter((r) => r.kind === 'room').map((r) => r.name).sort()
    : myGroups(s).map((r) => r.name);
  s.write(words.myGroups(names));
}

const COMMANDS: Record<string, (s: Session, rest: string) => Promise<void> | void> = {
  send_to: sendTo,
  join: (s, rest) => join(s, groupName(rest, '/join <group>')),
  leave: (s, rest) => leave(s, groupName(rest, '/leave <group>')),
  group: (s, rest) => {
    if (rest.trim() === '') throw fail('Usage: /group <message>');
    return speak(s, rest, 'group');
  },
  groups: listGroups,
  group_members: async (s, rest) => {
    const name = groupName(rest, '/group_members <group>');
    s.write(words.members(name, await groupMembers(s.core, s.user, name)));
  },
  my_groups: listMyGroups,
  help: (s) => s.write(ADCLUSTER_HELP),
};

/** One text frame from the client: a command, or text for its groups. */
export async function handleText(s: Session, text: string): Promise<void> {
  const m = COMMAND.exec(text);
  if (!m) return speak(s, text, 'text');
  const command = m[1] as string;
  const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!handler) throw fail(`Unknown command '/${command}'. ${ADCLUSTER_HELP}`);
  await handler(s, m[2] ?? '');
}
