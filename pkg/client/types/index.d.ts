// Type declarations of @edgeauth/client.

/** The decoded claims of an access token. Display only: not verified. */
export interface Session {
  sub: string;
  sid: string;
  exp: number;
  iat: number;
  iss?: string;
  aud?: string | string[];
  roles?: string[];
  perms?: string[];
  tid?: string;
  amr?: string[];
  [claim: string]: unknown;
}

export type AuthEvent = 'signed_in' | 'token_refreshed' | 'signed_out';

/** The user object of `POST /auth/register`. */
export interface User {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  perms: string[];
  created_at: string;
  [field: string]: unknown;
}

/** A subset of the Web Locks API (`navigator.locks`). */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { signal?: AbortSignal; steal?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

/** A subset of `BroadcastChannel`. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: any }) => void) | null;
}

export interface AuthClientOptions {
  /** The edgeauth server's base URL, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /**
   * `bearer` (default): the access token is held in memory and sent as
   * `Authorization: Bearer`. `cookie`: the access cookie carries it and
   * `fetch` sends credentials.
   */
  mode?: 'bearer' | 'cookie';
  /** Try to restore a session from the refresh cookie at creation (default true). */
  restore?: boolean;
  /** How long to wait for another tab's refresh before taking the lock from it, ms (default 5000). */
  lockTimeout?: number;
  /** How many times a 503 with `Retry-After` is waited out (default 3). */
  maxRetries?: number;
  /** The longest single `Retry-After` wait, ms (default 30000). */
  maxRetryWait?: number;
  /** Replaces `globalThis.fetch` (tests, instrumentation). */
  fetch?: typeof fetch;
  /** Replaces `navigator.locks`; `null` turns cross-tab locking off. */
  locks?: LockManagerLike | null;
  /** Replaces the BroadcastChannel; `null` turns cross-tab sharing off. */
  channel?: ChannelLike | null;
  /** The clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Waits `ms` milliseconds (default `setTimeout`). */
  sleep?: (ms: number) => Promise<void>;
}

export interface AuthClient {
  /** The decoded claims of the current access token, or null when signed out. */
  readonly session: Session | null;
  /** Settles once the session restore started at creation is done. */
  readonly ready: Promise<unknown>;
  /** Registers a user (`POST /auth/register`); does not sign in. */
  signUp(credentials: { email: string; password: string; name?: string }): Promise<User>;
  /** Signs in (`POST /auth/token`); resolves to the new session. */
  signIn(credentials: { email: string; password: string }): Promise<Session>;
  /** Revokes the session at the server and signs every tab out. */
  signOut(): Promise<void>;
  /**
   * `fetch` with the access token: refreshes ahead of expiry and once on a
   * 401 `expired`, then retries the request once (not when its body is a
   * stream: then the 401 is returned).
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Calls `listener` on every change; returns a function that unsubscribes. */
  onAuthStateChange(listener: (event: AuthEvent, session: Session | null) => void): () => void;
}

/** A failed call of the auth server, with its problem+json `code`. */
export class AuthError extends Error {
  readonly status: number;
  readonly code: string | null;
}

export function createAuthClient(options: AuthClientOptions): AuthClient;

/** Decodes a JWT's claims without verifying anything; null if it is not one. */
export function decodeClaims(token: string): Session | null;
