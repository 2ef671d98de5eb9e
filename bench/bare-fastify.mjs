// The ceiling: a bare Fastify "hello" route, no plugins, no logger.
import Fastify from 'fastify';

const app = Fastify();
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`bare listening on ${app.server.address().port}`);
