// In-memory store of response_format=url images under unguessable 128-bit ids, each kept for a TTL, oldest evicted
// first past a byte cap.
import { randomBytes } from 'node:crypto';

interface StoredImage {
  data: Buffer;
  mimeType: string;
  expiresAt: number;
}

/**
 * Images of response_format=url, kept for a TTL under unguessable 128-bit ids (the id is the capability, like a
 * pre-signed URL). Bounded in bytes: the oldest images go first when a new one does not fit.
 */
export class ImageStore {
  private readonly images = new Map<string, StoredImage>();
  private bytes = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly ttlMs: number,
    private readonly maxBytes = 512 * 1024 * 1024,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(ttlMs, 60_000));
    this.sweeper.unref();
  }

  put(data: Buffer, mimeType: string, extension: string): string {
    const id = `${randomBytes(16).toString('hex')}.${extension}`;
    while (this.bytes + data.length > this.maxBytes && this.images.size > 0) {
      this.delete(this.images.keys().next().value as string);
    }
    this.images.set(id, { data, mimeType, expiresAt: this.now() + this.ttlMs });
    this.bytes += data.length;
    return id;
  }

  get(id: string): StoredImage | undefined {
    const image = this.images.get(id);
    if (image && image.expiresAt <= this.now()) {
      this.delete(id);
      return undefined;
    }
    return image;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, image] of this.images) if (image.expiresAt <= now) this.delete(id);
  }

  private delete(id: string): void {
    const image = this.images.get(id);
    if (!image) return;
    this.bytes -= image.data.length;
    this.images.delete(id);
  }
}
