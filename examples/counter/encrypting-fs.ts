/**
 * A FileSystemAdaptor that encrypts every file with AES-256-CTR, as a user keeping snapshots
 * encrypted at rest would write one (the counter server's `--snapshot_key`; tsraft's tests use
 * it too). Each file starts with its own random 16-byte IV; the rest
 * is the ciphertext, byte for byte at the plaintext's offset, so reads and writes at any offset
 * need no re-encryption of their neighbours (CTR is a stream cipher: the keystream at byte `o`
 * is block `IV + floor(o / 16)` of it, skipped by `o % 16`). Paths and names are not hidden.
 * The inner file system holds the bytes: the real one by default.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import {
  defaultFileSystem,
  type FileAdaptor,
  type FileSystemAdaptor,
  type SnapshotFileMeta,
} from "../../src/index.js";

const IV_BYTES = 16;
const BLOCK = 16;

/** XORs `data` with the keystream of `key`/`iv` starting at byte `offset`. */
function crypt(key: Uint8Array, iv: Uint8Array, offset: number, data: Uint8Array): Uint8Array {
  const counter =
    (BigInt(`0x${Buffer.from(iv).toString("hex")}`) + BigInt(Math.floor(offset / BLOCK))) % 2n ** 128n;
  const block = Buffer.from(counter.toString(16).padStart(32, "0"), "hex");
  const cipher = createCipheriv("aes-256-ctr", key, block);
  cipher.update(Buffer.alloc(offset % BLOCK));
  return cipher.update(data);
}

class EncryptedFile implements FileAdaptor {
  constructor(
    private readonly inner: FileAdaptor,
    private readonly key: Uint8Array,
    private readonly iv: Uint8Array,
  ) {}

  async write(data: Uint8Array, offset: number): Promise<number> {
    await this.inner.write(crypt(this.key, this.iv, offset, data), IV_BYTES + offset);
    return data.length;
  }

  async read(offset: number, size: number): Promise<Uint8Array> {
    return crypt(this.key, this.iv, offset, await this.inner.read(IV_BYTES + offset, size));
  }

  async size(): Promise<number> {
    return Math.max(0, (await this.inner.size()) - IV_BYTES);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Encrypts file contents with `key` (32 bytes) over `inner`. */
export class EncryptingFileSystem implements FileSystemAdaptor {
  /** Files opened, for tests that check the adaptor was used. */
  opens = 0;

  constructor(
    private readonly key: Uint8Array,
    private readonly inner: FileSystemAdaptor = defaultFileSystem(),
  ) {
    if (key.length !== 32) throw new Error("AES-256 needs a 32-byte key");
  }

  async open(path: string, flags: number, fileMeta?: SnapshotFileMeta): Promise<FileAdaptor> {
    this.opens++;
    const file = await this.inner.open(path, flags, fileMeta);
    try {
      const writing = (flags & (fsConstants.O_WRONLY | fsConstants.O_RDWR)) !== 0;
      let iv: Uint8Array;
      if (writing && ((flags & fsConstants.O_TRUNC) !== 0 || (await file.size()) === 0)) {
        iv = randomBytes(IV_BYTES);
        await file.write(iv, 0);
      } else {
        iv = await file.read(0, IV_BYTES);
        if (iv.length !== IV_BYTES && (await file.size()) !== 0) throw new Error(`${path}: no IV header`);
      }
      return new EncryptedFile(file, this.key, iv);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  deleteFile(path: string, recursive: boolean): Promise<void> {
    return this.inner.deleteFile(path, recursive);
  }
  rename(oldPath: string, newPath: string): Promise<void> {
    return this.inner.rename(oldPath, newPath);
  }
  link(oldPath: string, newPath: string): Promise<void> {
    return this.inner.link(oldPath, newPath);
  }
  createDirectory(path: string, createParentDirectories: boolean): Promise<void> {
    return this.inner.createDirectory(path, createParentDirectories);
  }
  pathExists(path: string): Promise<boolean> {
    return this.inner.pathExists(path);
  }
  directoryExists(path: string): Promise<boolean> {
    return this.inner.directoryExists(path);
  }
  directoryReader(path: string): AsyncIterable<string> {
    return this.inner.directoryReader(path);
  }
  syncDirectory(path: string): Promise<void> {
    return this.inner.syncDirectory?.(path) ?? Promise.resolve();
  }
  realPath(path: string): Promise<string> {
    return this.inner.realPath?.(path) ?? Promise.resolve(path);
  }
}
