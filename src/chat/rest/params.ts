import { Type } from 'typebox';
import { MAX_CLIENT_ID_CHARS, MAX_NAME_CHARS } from '../chat.schemas.js';

/** Path and body pieces the /api/chat REST groups share. */

export const RoomParams = Type.Object({ room: Type.Integer({ minimum: 1 }) });
export const UserParams = Type.Object({ user: Type.Integer({ minimum: 1 }) });
/** A user id or a username. */
export const UserRef = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1, maxLength: MAX_NAME_CHARS })]);
export const ClientId = Type.String({ pattern: `^[A-Za-z0-9_.:-]{1,${MAX_CLIENT_ID_CHARS}}$` });
export const strict = { additionalProperties: false } as const;
export const tags = ['chat'];
