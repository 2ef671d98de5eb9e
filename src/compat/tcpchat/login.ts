import type { RequestContext, User } from '../../accounts/model.js';
import { userKey } from '../../chat/model.js';
import { AppError } from '../../shared/errors.js';
import { describeFailure, logFailure } from '../../shared/error-map.js';
import type { DoorContext } from './context.js';
import { REPLY_ALREADY_ONLINE, REPLY_WRONG_PASSWORD } from './words.js';

/**
 * Seed 003's login: `<id>/<password>` is a Plaza account (auto-registered when configured), then
 * the user joins the bridged room and goes online. The seed has three words for the outcome
 * (환영, 비틀림, 아중복) and the client compares its first read with them, so a login that fails,
 * the server failing included, is 비틀림, and one that cannot join the room is cut without a word;
 * the log says what it was.
 */

/** The connection as the login sees it. */
export interface Entrant {
  readonly door: DoorContext;
  readonly ctx: RequestContext;
  /** The socket closed. */
  readonly closed: boolean;
  /** Still waiting on this login (not refused, not gone). */
  authenticating(): boolean;
  refuse(word: string): void;
  /** In the room: the user is attached to the hub from here on; resolves when their rooms are followed. */
  admit(user: User, roomId: number): Promise<unknown>;
  /** Attached: what the client sent meanwhile is read now. */
  entered(): void;
  /** The login could not complete after the password was accepted: the connection is cut. */
  abort(): void;
}

export async function login(e: Entrant, text: string): Promise<void> {
  const slash = text.indexOf('/');
  const id = slash > 0 ? text.slice(0, slash) : '';
  const password = slash > 0 ? text.slice(slash + 1) : '';
  if (id.trim() === '' || password === '') return e.refuse(REPLY_WRONG_PASSWORD);
  const found = await verify(e, id, password);
  if (!found) return e.refuse(REPLY_WRONG_PASSWORD);
  // The client went away (or hung up) while the password was checked.
  if (e.closed || !e.authenticating()) return;
  const { core, loggingIn } = e.door;
  // Someone is already chatting under this id (here or on the web); a dropped one may come back.
  if (core.chat.presenceOf(userKey(found.id)) === 'online' || loggingIn.has(found.id)) return e.refuse(REPLY_ALREADY_ONLINE);
  loggingIn.add(found.id);
  let admitted = false;
  try {
    const room = await core.chat.rooms.joinOrCreateByName(found, e.door.settings.room);
    if (e.closed || !e.authenticating()) return;
    const attached = e.admit(found, room.id);
    loggingIn.delete(found.id);
    await attached;
    admitted = true;
  } catch (err) {
    const f = describeFailure(err);
    // The door, not the TCP user, asked to join: a refusal (the bridged room made private, say)
    // is the operator's to see, as a warning; the server failing is logged by its kind.
    if (f.kind === 'client') e.door.log.warn({ code: f.code, user: found.username }, 'seed 003 TCP login could not join the room');
    else logFailure(e.door.log, err, f, 'seed 003 TCP login could not join the room');
    e.abort();
  } finally {
    loggingIn.delete(found.id);
  }
  if (admitted) e.entered();
}

/** The account for `<id>/<password>`, or undefined (wrong password, unknown id, the server failing). */
async function verify(e: Entrant, id: string, password: string): Promise<User | undefined> {
  try {
    return await e.door.core.accounts.verifyCredentials(id, password, e.ctx);
  } catch (err) {
    const registered = err instanceof AppError && err.code === 'INVALID_CREDENTIALS' ? await register(e, id, password) : undefined;
    if (!registered) logFailure(e.door.log, err, describeFailure(err), 'seed 003 TCP login failed');
    return registered;
  }
}

async function register(e: Entrant, id: string, password: string): Promise<User | undefined> {
  if (!e.door.settings.autoRegister) return undefined;
  try {
    const input = id.includes('@') ? { email: id, password } : { username: id, password };
    return await e.door.core.accounts.register(input, e.ctx);
  } catch (err) {
    logFailure(e.door.log, err, describeFailure(err), 'seed 003 TCP auto-registration failed');
    return undefined;
  }
}
