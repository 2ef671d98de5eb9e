// What the app receives from Plaza's JSON API. Chat shapes come from the server's own schemas
// (types only: web/ never imports server code at run time).
export type { ChatMessage, PresenceEvent, PresenceState, RoomInfo } from '../../src/chat/model.js';

export type { Role, User } from '../../src/accounts/model.js';
import type { User } from '../../src/accounts/model.js';

export interface Me {
  user: User;
  via: 'cookie' | 'bearer' | 'connection';
  sessionId: string;
  accessKey: { active: boolean; expiresAt: number | null };
}

export type Category = 'images' | 'documents' | 'files';

export interface FileItem {
  id: string;
  ownerId: number;
  name: string;
  category: Category;
  size: number;
  sha256: string;
  mime: string;
  createdAt: number;
  updatedAt: number;
  downloadUrl: string;
}

export interface Usage {
  usedBytes: number;
  quotaBytes: number;
  maxUploadBytes: number;
}

export type { ShareInfo as Share } from '../../src/files/shares.service.js';

export interface SessionInfo {
  id: string;
  kind: 'cookie' | 'api';
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

export interface Member {
  id: number;
  username: string;
  role: 'admin' | 'member';
  joinedAt: number;
  presence?: 'online' | 'disconnected' | 'offline';
}
