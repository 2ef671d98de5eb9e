import { type ChatBus, createLocalBus } from '../chat/bus.js';
import type { PresenceUpdate } from '../chat/hub/cluster-presence.js';
import type { HubEvent } from '../chat/model.js';
import type { RedisLink } from './redis-link.js';

/** What one instance tells the others that is not a chat event (see `ClusterSignals`). */
export type ClusterSignal =
  | { kind: 'session-ended'; sessionId: string }
  | { kind: 'user-changed'; userId: number }
  | { kind: 'presence'; update: PresenceUpdate };

/** Instance-to-instance notices: sent to every other instance, never back to the sender. */
export interface ClusterSignals {
  publish(signal: ClusterSignal): void;
  on(handler: (signal: ClusterSignal) => void): void;
}

interface Envelope {
  from: string;
  channel?: string;
  event?: HubEvent;
  signal?: ClusterSignal;
}

/**
 * The chat bus over Redis pub/sub (the `bus.ts` contract): an event reaches this instance's
 * connections at once, through the in-process bus, and every other instance's through one Redis
 * channel per cluster. One channel keeps the order a publisher sent in (Redis delivers one
 * connection's publishes in order), so a room's messages from one instance arrive in sequence;
 * interleavings between instances are put back in order by the hub (hub/sequencer.ts), which
 * also fills from history what a Redis restart lost. Delivery counts are this instance's.
 */
export function createRedisBus(link: RedisLink, instanceId: string): { bus: ChatBus; signals: ClusterSignals } {
  const local = createLocalBus();
  const wire = `${link.prefix}bus`;
  const signalHandlers: Array<(s: ClusterSignal) => void> = [];
  const send = (envelope: Envelope) => {
    // No offline queue: while Redis is away this fails at once and the others catch up from history.
    link.cmd.publish(wire, JSON.stringify(envelope)).catch(() => {});
  };
  const onMessage = (channel: string, payload: string) => {
    if (channel !== wire) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return;
    }
    if (envelope.from === instanceId) return;
    if (envelope.channel && envelope.event) void local.publish(envelope.channel, envelope.event);
    else if (envelope.signal) for (const h of signalHandlers) h(envelope.signal);
  };
  link.sub.on('message', onMessage);
  void link.sub.subscribe(wire).catch(() => {});
  const bus: ChatBus = {
    publish(channel, event) {
      const delivered = local.publish(channel, event);
      send({ from: instanceId, channel, event });
      return delivered;
    },
    subscribe: (channel, handler) => local.subscribe(channel, handler),
    async close() {
      link.sub.off('message', onMessage);
      await local.close();
    },
  };
  const signals: ClusterSignals = {
    publish: (signal) => send({ from: instanceId, signal }),
    on: (handler) => void signalHandlers.push(handler),
  };
  return { bus, signals };
}
