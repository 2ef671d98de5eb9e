import { randomToken } from '../../shared/ids.js';

/**
 * One seed 004 send to several groups is one message per room (each room keeps its own copy), but
 * a text client shows no room names, so each recipient connection shows it once. The copies carry
 * client ids `s4.<fan id>.<room id>` (client ids are unique per sender, hence the room id): a
 * connection that already showed a fan id drops the other copies.
 */
const FANOUT = /^s4\.([A-Za-z0-9_-]{16})\.\d+$/;

export function newFanout(): string {
  return randomToken(12);
}

export function fanoutClientId(fan: string, roomId: number): string {
  return `s4.${fan}.${roomId}`;
}

/** Seen fan ids, per connection: enough to cover copies arriving close together. */
const REMEMBERED = 256;

export function createFanoutFilter() {
  const seen = new Set<string>();
  /** False for a copy this connection has already shown. */
  return function firstCopy(senderKey: string, clientId: string | undefined): boolean {
    const fan = clientId === undefined ? undefined : FANOUT.exec(clientId)?.[1];
    if (fan === undefined) return true;
    const key = `${senderKey} ${fan}`;
    if (seen.has(key)) return false;
    if (seen.size >= REMEMBERED) seen.delete(seen.values().next().value as string);
    seen.add(key);
    return true;
  };
}
