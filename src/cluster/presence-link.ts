import type { PresenceWire } from '../chat/hub/cluster-presence.js';
import type { ChatService } from '../chat/chat.service.js';
import type { ClusterSignals } from './redis-bus.js';
import type { RedisLink } from './redis-link.js';

/** How often an instance says it is alive, and how long that lasts without a renewal. */
const BEAT_MS = 1000;
const ALIVE_MS = 3500;

/** The presence wire over the cluster's signals (hub/cluster-presence.ts). */
export function presenceWire(signals: ClusterSignals): PresenceWire {
  return { publish: (update) => signals.publish({ kind: 'presence', update }) };
}

/**
 * Keeps cluster presence true: updates from the others go to the hub; this instance renews its
 * `alive` key every second (it expires 3.5 s after the last renewal, so a killed instance is noticed
 * within ~4.5 s) and checks the keys of every instance that holds someone; when Redis returns,
 * every instance announces where everyone stands on it and asks the others. Returns the stop
 * function.
 */
export function linkPresence(link: RedisLink, signals: ClusterSignals, instanceId: string, chat: ChatService): () => void {
  const cluster = chat.clusterPresence;
  if (!cluster) return () => {};
  signals.on((s) => {
    if (s.kind === 'presence') cluster.receive(s.update);
  });
  const alive = (id: string) => `${link.prefix}alive:${id}`;
  const beat = async () => {
    await link.cmd.set(alive(instanceId), '1', 'PX', ALIVE_MS);
    const peers = [...cluster.peers()];
    if (peers.length === 0) return;
    const found = await link.cmd.exists(...peers.map(alive)).catch(() => -1);
    if (found === peers.length || found < 0) return;
    for (const peer of peers) if ((await link.cmd.exists(alive(peer))) === 0) cluster.instanceGone(peer);
  };
  const timer = setInterval(() => void beat().catch(() => {}), BEAT_MS);
  timer.unref();
  link.onChange((state) => {
    // A moment after both connections are back, so the subscription is in place for the answers.
    if (state === 'up') setTimeout(() => void beat().catch(() => {}).finally(() => cluster.resync()), 200).unref();
  });
  void beat()
    .catch(() => {})
    .finally(() => cluster.resync());
  return () => {
    clearInterval(timer);
    void link.cmd.del(alive(instanceId)).catch(() => {});
  };
}
