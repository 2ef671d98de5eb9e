import type { HubEvent } from './model.js';

/**
 * How chat events travel between the instances serving one team. Channels are per room
 * (`room:<id>`) and per participant (`user:<key>`). Payloads are plain JSON so that a Redis
 * implementation can carry them unchanged; this in-process bus hands them over directly.
 */
export interface ChatBus {
  /** Resolves with the number of connections the event reached on this instance. */
  publish(channel: string, event: HubEvent): Promise<number>;
  /** `handler` returns how many connections it delivered to. Returns the unsubscribe function. */
  subscribe(channel: string, handler: (event: HubEvent) => number): () => void;
  close(): Promise<void>;
}

export const roomChannel = (roomId: number) => `room:${roomId}`;
export const userChannel = (key: string) => `user:${key}`;

/**
 * The in-process bus. With `roundTrip`, every event is serialised and parsed on the way, as a
 * network bus would: tests use it to prove nothing depends on sharing objects.
 */
export function createLocalBus(options: { roundTrip?: boolean } = {}): ChatBus & { channelCount(): number } {
  const handlers = new Map<string, Set<(event: HubEvent) => number>>();
  return {
    async publish(channel, event) {
      let delivered = 0;
      const set = handlers.get(channel);
      if (!set) return 0;
      for (const h of [...set]) delivered += h(options.roundTrip ? (JSON.parse(JSON.stringify(event)) as HubEvent) : event);
      return delivered;
    },
    subscribe(channel, handler) {
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(handler);
      return () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(channel) === set) handlers.delete(channel);
      };
    },
    async close() {
      handlers.clear();
    },
    /** Channels with a subscriber (the bounds tests check they all go). */
    channelCount: () => handlers.size,
  };
}
