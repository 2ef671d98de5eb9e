import { Type } from 'typebox';

export const UserSchema = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    role: Type.Union([Type.Literal('admin'), Type.Literal('user')]),
    disabled: Type.Boolean(),
    createdAt: Type.Integer({ description: 'ms since epoch' }),
    updatedAt: Type.Integer({ description: 'ms since epoch' }),
  },
  { $id: 'User' },
);
export const UserRef = Type.Unsafe<import('./model.js').User>(Type.Ref('User'));

const Username = Type.String({ minLength: 1, maxLength: 64, description: '3–32 of a–z 0–9 _ . -' });
const Email = Type.String({ minLength: 3, maxLength: 320 });
const Password = Type.String({ minLength: 1, maxLength: 4096 });

export const RegisterBody = Type.Object(
  { username: Type.Optional(Username), email: Type.Optional(Email), password: Password },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    identifier: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'username or email' })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    password: Password,
    session: Type.Optional(
      Type.Union([Type.Literal('token'), Type.Literal('cookie')], {
        description: '"token" (default): bearer + refresh token; "cookie": browser session cookie',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TokenPair = Type.Object({
  user: UserRef,
  tokenType: Type.Literal('Bearer'),
  accessToken: Type.String(),
  expiresIn: Type.Integer({ description: 'seconds' }),
  accessTokenExpiresAt: Type.Integer(),
  refreshToken: Type.String(),
  refreshTokenExpiresAt: Type.Integer(),
});

export const CookieLoginReply = Type.Object({ user: UserRef, sessionExpiresAt: Type.Integer() });

export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const SessionSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('cookie'), Type.Literal('api')]),
  createdAt: Type.Integer(),
  lastSeenAt: Type.Integer(),
  expiresAt: Type.Integer(),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

export const MeReply = Type.Object({
  user: UserRef,
  via: Type.Union([Type.Literal('cookie'), Type.Literal('bearer'), Type.Literal('connection')]),
  sessionId: Type.String(),
  accessKey: Type.Object({ active: Type.Boolean(), expiresAt: Type.Union([Type.Integer(), Type.Null()]) }),
});

export const ElevateReply = Type.Object({
  key: Type.String({ description: '64 hex characters; valid for one hour' }),
  expiresAt: Type.Integer(),
});

export const ElevationStatus = Type.Object({
  valid: Type.Boolean(),
  expiresAt: Type.Union([Type.Integer(), Type.Null()]),
  userId: Type.Union([Type.Integer(), Type.Null()]),
});

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });
export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
  },
  { additionalProperties: false },
);

export const ProfilePatchBody = Type.Object(
  {
    email: Type.Optional(Type.Union([Email, Type.Null()])),
    password: Type.Optional(Password),
    currentPassword: Type.Optional(Password),
  },
  { additionalProperties: false },
);

export const AdminPatchBody = Type.Object(
  {
    role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('user')])),
    disabled: Type.Optional(Type.Boolean()),
    email: Type.Optional(Type.Union([Email, Type.Null()])),
  },
  { additionalProperties: false },
);

export const CreateUserBody = Type.Object(
  {
    username: Type.Optional(Username),
    email: Type.Optional(Email),
    password: Password,
    role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('user')])),
  },
  { additionalProperties: false },
);

export const SetupBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200 }),
    username: Username,
    email: Type.Optional(Email),
    password: Password,
  },
  { additionalProperties: false },
);
