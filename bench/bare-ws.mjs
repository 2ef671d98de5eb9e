// The chat ceiling: a plain `ws` broadcast server. Every text frame received goes to every
// connected client (the sender included), as received; no parsing, no auth, no database.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    for (const client of wss.clients) if (client.readyState === 1) client.send(data, { binary: false });
  });
  socket.on('error', () => {});
});
wss.on('listening', () => console.log(`bare-ws listening on ${wss.address().port}`));
// A clean exit, so that `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
