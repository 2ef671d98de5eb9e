import type { WebSocket } from 'ws';
import type { User } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import type { HubConnection } from '../hub.js';
import type { SocketOutput } from './writer.js';

/** One native chat connection, as its frame handlers see it (made once per connection, in connection.ts). */
export interface NativeConnection {
  chat: Core['chat'];
  user: User;
  conn: HubConnection;
  socket: WebSocket;
  out: SocketOutput;
  /** Replays wait here between pages until the socket has drained. */
  pace(): Promise<void>;
  /** Answers a failure with an error frame (and logs it by its kind). */
  replyError(err: unknown, ref?: string, clientId?: string): void;
  /** The client said `bye`: its presence ends as `left`, not `disconnected`. */
  goodbye: boolean;
}
