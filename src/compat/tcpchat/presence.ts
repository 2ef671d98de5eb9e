import type { HubEvent } from '../../chat/model.js';
import { deactivatedText, joinedText, leftText, rejoinedText } from './words.js';

/** The hub's presence events in seed 003's words: who came, came back, left or dropped. */
export function presenceLine(event: HubEvent & { kind: 'presence' }): string | undefined {
  const name = event.user.name;
  switch (event.event) {
    case 'joined':
      return joinedText(name, event.count);
    case 'rejoined':
      return rejoinedText(name);
    case 'left':
      return leftText(name);
    case 'disconnected':
      return deactivatedText(name);
    default:
      // 'offline' (a grace period ran out) has no words in the seed: nothing is shown.
      return undefined;
  }
}
