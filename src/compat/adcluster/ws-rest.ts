import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { MAX_BODY_CHARS } from '../../chat/messages.service.js';
import { ROOM_NAME } from '../../chat/rooms.service.js';
import { requireAdmin, requireUser } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import { groupMembers, visibleGroups } from './groups.js';
import { sendToClient } from './send-to.js';
import { words } from './words.js';

/** Seed 004's REST under `/api/ws` and `/ws`: clients, groups, members, send_to, broadcast_to_group. */

/** A REST path that is also the socket path of the client named like its segment: the upgrade's options. */
export type SocketToo = (clientId: string) => Pick<RouteOptions, 'preValidation' | 'wsHandler'>;

const Name = Type.String({ minLength: 1, maxLength: 64 });
const Body = Type.Object({ message: Type.String({ minLength: 1, maxLength: MAX_BODY_CHARS }) }, { additionalProperties: false });

/**
 * Seed 004's REST under `{prefix}/ws`: `/api/ws/...` (documented) and the short `/ws/...` its test
 * scripts call (the same routes, hidden from the OpenAPI document). `GET …/clients` and
 * `…/groups[/{g}]` share their paths with the sockets of clients named "clients" and "groups":
 * a plain GET is the REST answer, an upgrade that client's socket.
 */
export function adclusterRestRoutes(app: FastifyInstance, core: Core, prefix: string, socketToo: SocketToo) {
  const { chat } = core;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['chat'];
  const hide = prefix === '';
  const base = `${prefix}/ws`;

  r.route({
    method: 'GET',
    url: `${base}/clients`,
    schema: {
      tags,
      hide,
      summary: 'Seed 004: client ids (usernames and guests) with a live chat connection (on any instance) that share a room with you (admins: all)',
      response: { 200: Type.Object({ clients: Type.Array(Type.String()), count: Type.Integer() }), ...errors(401) },
    },
    ...socketToo('clients'),
    handler: async (request) => {
      const clients = (await chat.visibleOnline(requireUser(request).user)).map((p) => p.name).sort();
      return { clients, count: clients.length };
    },
  });

  r.route({
    method: 'GET',
    url: `${base}/groups`,
    schema: {
      tags,
      hide,
      summary: 'Seed 004: the groups (rooms) you may see, with member counts (and online counts for your own groups)',
      response: {
        200: Type.Object({
          groups: Type.Array(Type.Object({ name: Type.String(), members: Type.Integer(), online: Type.Optional(Type.Integer()) })),
          count: Type.Integer(),
        }),
        ...errors(401),
      },
    },
    ...socketToo('groups'),
    handler: async (request) => {
      const groups = await visibleGroups(core, requireUser(request).user);
      return { groups, count: groups.length };
    },
  });

  r.route({
    method: 'GET',
    url: `${base}/groups/:group`,
    schema: {
      tags,
      hide,
      summary: "Seed 004: a group's members (and guests present)",
      params: Type.Object({ group: Name }),
      response: {
        200: Type.Object({ group: Type.String(), members: Type.Array(Type.String()), count: Type.Integer() }),
        ...errors(401, 404),
      },
    },
    ...socketToo('groups'),
    handler: async (request) => {
      const members = await groupMembers(core, requireUser(request).user, request.params.group);
      return { group: request.params.group, members, count: members.length };
    },
  });

  adclusterSendRoutes(app, core, prefix);
}

/** Seed 004's server-side sends under `{prefix}/ws` (see {@link adclusterRestRoutes}). */
function adclusterSendRoutes(app: FastifyInstance, core: Core, prefix: string) {
  const { chat } = core;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['chat'];
  const hide = prefix === '';
  const base = `${prefix}/ws`;

  r.post(`${base}/send_to/:client_id`, {
    schema: {
      tags,
      hide,
      summary: "Seed 004: push a private message to a client's live connections (admins; anyone to themself)",
      params: Type.Object({ client_id: Name }),
      body: Body,
      response: {
        200: Type.Object({ client_id: Type.String(), delivered: Type.Integer(), success: Type.Boolean(), detail: Type.String() }),
        ...errors(400, 401, 403, 404, 415),
      },
    },
  }, async (request) => {
    const me = requireUser(request).user;
    const target = request.params.client_id;
    if (target !== me.username) requireAdmin(request);
    const delivered = await sendToClient(core, { participant: chat.participantOf(me), user: me, followed: [] }, target, request.body.message);
    if (delivered === undefined) throw new AppError('NOT_FOUND', `No client '${target}'`);
    return {
      client_id: target,
      delivered,
      success: delivered > 0,
      detail: delivered > 0 ? words.sent(target) : words.sendFailed(target),
    };
  });

  r.post(`${base}/broadcast_to_group/:group`, {
    schema: {
      tags,
      hide,
      summary: 'Seed 004: post a message to a group (members; site admins post a system message)',
      params: Type.Object({ group: Name }),
      body: Body,
      response: {
        200: Type.Object({
          group: Type.String(),
          delivered: Type.Integer(),
          id: Type.String(),
          seq: Type.Integer(),
          detail: Type.String(),
        }),
        ...errors(400, 401, 403, 404, 415),
      },
    },
  }, async (request) => {
    const me = requireUser(request).user;
    const name = request.params.group;
    const room = ROOM_NAME.test(name) ? await chat.rooms.findByName(name) : undefined;
    if (!room || room.kind !== 'room') throw new AppError('NOT_FOUND', `No group '${name}'`);
    const sent = await chat.sendToRoom(me, room.id, request.body.message);
    return {
      group: name,
      delivered: sent.delivered,
      id: sent.message.id,
      seq: sent.message.seq,
      detail: `Message broadcast to group '${name}'`,
    };
  });
}
