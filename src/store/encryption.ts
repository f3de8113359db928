// Encryption at rest: every secret value in the store is sealed with
// AES-256-GCM under a key that lives outside the database file. The row a value
// belongs to is its additional authenticated data, so a sealed value copied to
// another row fails to open.
import { createCipheriv, createDecipheriv, randomBytes, createHash } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { LessorError, Code } from "../errors.js";
import { pooledRandomBytes } from "../util/random.js";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + 4 + IV_BYTES + TAG_BYTES;

export interface KeyringFile {
  /** Key id used for new writes. */
  active: number;
  /** Key id → base64 of 32 random bytes. Old keys stay until nothing uses them. */
  keys: Record<string, string>;
}

export class Keyring {
  private readonly keys = new Map<number, Buffer>();
  private active: number;

  /** Key id used for new writes. */
  get activeId(): number {
    return this.active;
  }

  constructor(file: KeyringFile) {
    for (const [id, b64] of Object.entries(file.keys)) {
      const key = Buffer.from(b64, "base64");
      if (key.length !== 32) throw new Error(`key ${id} is not 32 bytes of base64`);
      this.keys.set(Number(id), key);
    }
    if (!this.keys.has(file.active)) throw new Error(`active key ${file.active} is not in the keyring`);
    this.active = file.active;
  }

  static generate(): Keyring {
    return new Keyring({ active: 1, keys: { "1": randomBytes(32).toString("base64") } });
  }

  /** A single key given as base64 (e.g. from LESSOR_SEAL_KEY). */
  static fromBase64(b64: string): Keyring {
    return new Keyring({ active: 1, keys: { "1": b64.trim() } });
  }

  /** Loads the key file, creating it (owner-only) when it does not exist yet. */
  static loadOrCreate(path: string): Keyring {
    return existsSync(path) ? Keyring.load(path) : Keyring.create(path);
  }

  /** A new random key, written to a new owner-only file (never over an existing one). */
  static create(path: string): Keyring {
    const ring = Keyring.generate();
    writeFileSync(path, JSON.stringify(ring.toFile(), null, 2) + "\n", { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
    return ring;
  }

  /** Loads an existing key file (and makes it owner-only). */
  static load(path: string): Keyring {
    chmodSync(path, 0o600);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      throw new Error(`key file ${path} is not valid JSON`);
    }
    return new Keyring(parsed as KeyringFile);
  }

  toFile(): KeyringFile {
    const keys: Record<string, string> = {};
    for (const [id, key] of this.keys) keys[String(id)] = key.toString("base64");
    return { active: this.activeId, keys };
  }

  /** Identifies the active key without revealing it (first bytes of its SHA-256). */
  fingerprint(): string {
    const key = this.keys.get(this.activeId) as Buffer;
    return createHash("sha256").update(key).digest("hex").slice(0, 16);
  }

  seal(plaintext: Uint8Array, aad: string): Buffer {
    const key = this.keys.get(this.activeId) as Buffer;
    const iv = pooledRandomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(VERSION, 0);
    header.writeUInt32BE(this.activeId, 1);
    iv.copy(header, 5);
    cipher.getAuthTag().copy(header, 5 + IV_BYTES);
    return Buffer.concat([header, body]);
  }

  open(sealed: Uint8Array, aad: string): Buffer {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < HEADER_BYTES || buf.readUInt8(0) !== VERSION) {
      throw new LessorError(Code.DATA_LOSS, "stored value is not in a known sealed format", { reason: "SEAL_FORMAT" });
    }
    const keyId = buf.readUInt32BE(1);
    const key = this.keys.get(keyId);
    if (!key) {
      throw new LessorError(Code.FAILED_PRECONDITION, `stored value is sealed with key ${keyId}, which the keyring does not hold`, {
        reason: "SEAL_KEY_MISSING",
      });
    }
    const decipher = createDecipheriv("aes-256-gcm", key, buf.subarray(5, 5 + IV_BYTES));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(buf.subarray(5 + IV_BYTES, HEADER_BYTES));
    try {
      return Buffer.concat([decipher.update(buf.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      throw new LessorError(Code.DATA_LOSS, "stored value failed authentication (wrong key, or moved between rows)", {
        reason: "SEAL_AUTH_FAILED",
      });
    }
  }

  sealJson(value: unknown, aad: string): Buffer {
    return this.seal(Buffer.from(JSON.stringify(value), "utf8"), aad);
  }

  openJson<T>(sealed: Uint8Array, aad: string): T {
    return JSON.parse(this.open(sealed, aad).toString("utf8")) as T;
  }

  /** Key id a sealed value was written with (for background re-encryption). */
  static keyIdOf(sealed: Uint8Array): number {
    return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).readUInt32BE(1);
  }

  /** Key ids held, oldest first. */
  keyIds(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }

  /**
   * Adds a fresh random key and makes it the one new writes use; returns its id.
   * With a path, the key file is written first: nothing is sealed with a key
   * that is not safely on disk.
   */
  rotate(saveTo?: string): number {
    const id = Math.max(0, ...this.keys.keys()) + 1;
    const key = randomBytes(32);
    if (saveTo !== undefined) {
      const file = this.toFile();
      file.keys[String(id)] = key.toString("base64");
      file.active = id;
      writeKeyFile(saveTo, file);
    }
    this.keys.set(id, key);
    this.active = id;
    return id;
  }

  /** Forgets keys no sealed value uses any more; the active key is never dropped. */
  drop(ids: readonly number[], saveTo?: string): void {
    const file = this.toFile();
    for (const id of ids) if (id !== this.active) delete file.keys[String(id)];
    if (saveTo !== undefined) writeKeyFile(saveTo, file);
    for (const id of ids) if (id !== this.active) this.keys.delete(id);
  }
}

/** Writes a key file owner-only, replacing the old one atomically. */
function writeKeyFile(path: string, file: KeyringFile): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
