import { randomBytes } from 'node:crypto';
import { resolveRoom, type Message } from '../client/chat-api.js';
import { type ClientContext, usage } from '../client/context.js';
import { printable } from '../client/format.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `plaza send <room|@user> [text…]`: the words given, or stdin when there are none (or "-"). */
export async function sendCommand(ctx: ClientContext, target: string, words: string[]) {
  const fromStdin = words.length === 0 || (words.length === 1 && words[0] === '-');
  if (fromStdin && process.stdin.isTTY) throw usage('Give the message text, or pipe it in on stdin.');
  const text = fromStdin ? await readStdin() : words.join(' ');
  if (text.trim() === '') throw usage('The message is empty.');
  const room = await resolveRoom(ctx.api, target);
  // A client-chosen id: a retried send is stored once.
  const clientId = `cli-${randomBytes(8).toString('hex')}`;
  const sent = await ctx.api.request<{ message: Message; duplicate: boolean; delivered: number }>('POST', `/api/chat/rooms/${room.id}/messages`, {
    body: { body: text, clientId },
  });
  const where = room.kind === 'dm' ? target : `#${printable(room.name)}`;
  ctx.result({ room: { id: room.id, name: room.name, kind: room.kind }, message: sent.message, delivered: sent.delivered }, () =>
    `Sent to ${where} (message ${sent.message.seq}, delivered to ${sent.delivered} connection${sent.delivered === 1 ? '' : 's'}).`,
  );
}
