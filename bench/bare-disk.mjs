// The ceiling for uploads and downloads: a bare Node HTTP server that streams a request body to a
// file and streams a file back, with nothing else.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
let n = 0;
const server = http.createServer(async (req, res) => {
  if (req.method === 'POST') {
    const file = path.join(dir, `bare-${n++}`);
    await pipeline(req, createWriteStream(file));
    res.writeHead(201, { 'content-type': 'text/plain' }).end(file);
    return;
  }
  const file = decodeURIComponent(req.url.slice(1));
  res.writeHead(200, { 'content-length': statSync(file).size });
  await pipeline(createReadStream(file), res);
});
server.listen(0, '127.0.0.1', () => console.log(`bare-disk listening on ${server.address().port}`));
