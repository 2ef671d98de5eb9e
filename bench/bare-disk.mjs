// The ceiling for uploads and downloads: a bare Node HTTP server that streams a request body to a
// file and streams a file back, with nothing else.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
let n = 0;
const server = http.createServer(async (req, res) => {
  if (req.method === 'POST') {
    const file = path.join(dir, `bare-${n++}`);
    await pipeline(req, createWriteStream(file));
    // `POST /?fsync=1`: the same, made durable (for context only; the ceiling is the plain write).
    if (req.url.includes('fsync=1')) {
      const fh = await open(file, 'r+');
      await fh.sync();
      await fh.close();
    }
    res.writeHead(201, { 'content-type': 'text/plain' }).end(file);
    return;
  }
  const file = decodeURIComponent(req.url.slice(1));
  res.writeHead(200, { 'content-length': statSync(file).size });
  // The same read size as Plaza's downloads (Node's default, 64 KiB, is slower from a cold cache).
  await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), res);
});
server.listen(0, '127.0.0.1', () => console.log(`bare-disk listening on ${server.address().port}`));
// Exit cleanly on SIGTERM so `--cpu-prof` writes its profile.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
