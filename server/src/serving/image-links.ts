// Names of response_format=url images across replicas. Alone, a name is the store's `HEX.EXT`. With a peer key shared
// by the replicas (the operator's per-model Secret) and this replica's address, it is `HEX.OWNER.SIG.EXT`: OWNER is
// base64url("host:port") of the replica holding the image, SIG = HMAC-SHA256(peer key, "HEX.OWNER.EXT") cut to 128
// bits. Any replica can then fetch the image from its owner, and only for names the replicas signed: no client can
// point the forwarding at an address of its choosing. Pure: no I/O.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface ParsedImageName {
  /** The image's id in its owner's store (`HEX.EXT`). */
  local: string;
  /** host:port of the replica holding it; absent for an unsigned (single-replica) name. */
  owner?: string;
}

const LOCAL = /^[0-9a-f]{32}\.(png|jpeg|webp)$/;
const PART = /^[A-Za-z0-9_-]{1,200}$/;

export class ImageLinks {
  /**
   * @param address this replica's address as peers reach it (host:port; a function, as the port may be known only
   *   once listening), or undefined when names are not signed
   * @param peerKey the key every replica shares
   */
  constructor(
    private readonly address: (() => string) | undefined,
    private readonly peerKey: Buffer | undefined,
  ) {}

  get self(): string | undefined {
    return this.address?.();
  }

  get signed(): boolean {
    return this.self !== undefined && this.peerKey !== undefined;
  }

  /** The public name of a stored image. */
  name(local: string): string {
    if (!this.signed) return local;
    const [hex, ext] = local.split('.') as [string, string];
    const owner = Buffer.from(this.self!).toString('base64url');
    return `${hex}.${owner}.${this.sign(hex, owner, ext)}.${ext}`;
  }

  /** Undefined for anything that is not a name this server (or a peer with the same key) made. */
  parse(name: string): ParsedImageName | undefined {
    if (LOCAL.test(name)) return { local: name };
    const parts = name.split('.');
    if (parts.length !== 4 || !this.signed) return undefined;
    const [hex, owner, sig, ext] = parts as [string, string, string, string];
    const local = `${hex}.${ext}`;
    if (!LOCAL.test(local) || !PART.test(owner) || !PART.test(sig)) return undefined;
    const expected = Buffer.from(this.sign(hex, owner, ext));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return { local, owner: Buffer.from(owner, 'base64url').toString() };
  }

  private sign(hex: string, owner: string, ext: string): string {
    return createHmac('sha256', this.peerKey!).update(`${hex}.${owner}.${ext}`).digest().subarray(0, 16).toString('base64url');
  }
}
