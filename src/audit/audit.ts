// Audit devices: every request and response, one pino JSON line each, to a
// file or standard output. Every string value in a record is replaced by
// `hmac-sha256:<hex>` under a per-install key (sealed in the store), so a
// record never holds a secret yet an operator can find a known value with
// `lessor audit hash`. If any enabled device cannot write, the request fails:
// nothing is served unaudited.
import { createHmac, randomBytes } from "node:crypto";
import { appendFileSync, writeSync } from "node:fs";
import { isAbsolute } from "node:path";
import pino, { type Logger } from "pino";
import { LessorError, describeError } from "../errors.js";
import type { AuditDeviceRecord, AuditDeviceStore, SealedSettingStore } from "../store/types.js";

export const AUDIT_DEVICE_TYPES = ["file", "stdout"] as const;
const DEVICE_PATH = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\/$/;
const MAX_DEPTH = 64;

interface Device {
  record: AuditDeviceRecord;
  logger: Logger;
}

/** Where a device's lines go: synchronous, so a failure reaches the request. */
function sink(record: AuditDeviceRecord): { write(line: string): void } {
  const target = record.type === "stdout" ? "stdout" : (record.options.file_path as string);
  if (target === "stdout") return { write: (line) => void writeSync(1, line) };
  const mode = parseInt(record.options.mode ?? "600", 8);
  return { write: (line) => appendFileSync(target, line, { mode }) };
}

function loggerFor(record: AuditDeviceRecord): Logger {
  return pino(
    // No level (an audit line is not a log line); the time comes first. With the
    // level formatted away, pino expects the timestamp without its leading comma.
    { base: null, timestamp: () => `"time":"${new Date().toISOString()}"`, formatters: { level: () => ({}) }, messageKey: "__message" },
    sink(record),
  );
}

export class AuditBroker {
  private readonly devices = new Map<string, Device>();

  private constructor(
    private readonly store: AuditDeviceStore,
    private readonly hmacKey: Buffer,
  ) {}

  /** Loads the devices and the HMAC key (made on the first start). */
  static async open(store: AuditDeviceStore, settings: SealedSettingStore): Promise<AuditBroker> {
    const key = (await settings.get("audit-hmac-key")) ?? (await settings.putIfAbsent("audit-hmac-key", randomBytes(32)));
    const broker = new AuditBroker(store, key);
    await broker.reload();
    return broker;
  }

  /** Makes the devices match the store (another replica enabled or disabled one). */
  async reload(): Promise<void> {
    const stored = await this.store.list();
    const paths = new Set(stored.map((r) => r.path));
    for (const path of [...this.devices.keys()]) if (!paths.has(path)) this.devices.delete(path);
    for (const record of stored) if (!this.devices.has(record.path)) this.devices.set(record.path, { record, logger: loggerFor(record) });
  }

  get enabled(): boolean {
    return this.devices.size > 0;
  }

  /** The digest an audit record holds in place of `value`. */
  hash(value: string): string {
    return `hmac-sha256:${createHmac("sha256", this.hmacKey).update(value, "utf8").digest("hex")}`;
  }

  list(): AuditDeviceRecord[] {
    return [...this.devices.values()].map((d) => d.record).sort((a, b) => a.path.localeCompare(b.path));
  }

  async enable(input: { path: string; type: string; description: string; options: Record<string, string> }): Promise<AuditDeviceRecord> {
    if (!(AUDIT_DEVICE_TYPES as readonly string[]).includes(input.type)) {
      throw LessorError.invalidField("type", `unknown audit device type "${input.type.slice(0, 64)}"; use ${AUDIT_DEVICE_TYPES.join(" or ")}`);
    }
    const path = auditDevicePath(input.path === "" ? input.type : input.path);
    if (this.devices.has(path)) throw LessorError.alreadyExists(`an audit device is already enabled at ${path}`, "AUDIT_DEVICE_EXISTS", { path });
    if (input.description.length > 256) throw LessorError.invalidField("description", "is longer than 256 characters");
    const allowed = input.type === "file" ? ["file_path", "mode"] : [];
    for (const k of Object.keys(input.options)) {
      if (!allowed.includes(k)) {
        throw LessorError.invalidField(`options.${k.slice(0, 64)}`, `unknown option for a ${input.type} device${allowed.length ? `; it takes ${allowed.join(", ")}` : ""}`);
      }
    }
    const options = { ...input.options };
    if (input.type === "file") {
      const file = options.file_path ?? "";
      if (file === "") throw LessorError.invalidField("options.file_path", "is required for a file device");
      if (file !== "stdout" && (!isAbsolute(file) || file.length > 4096 || /[\u0000-\u001f]/.test(file))) {
        throw LessorError.invalidField("options.file_path", "must be an absolute path (or \"stdout\")");
      }
      if (options.mode !== undefined && !/^0?[0-7]{3}$/.test(options.mode)) {
        throw LessorError.invalidField("options.mode", 'must be an octal file mode such as "0600"');
      }
    }
    const record: AuditDeviceRecord = { path, type: input.type, description: input.description, options };
    const device = { record, logger: loggerFor(record) };
    try {
      // Proves the device can write before it is relied on.
      device.logger.info({ type: "enabled", device: path });
    } catch (err) {
      throw LessorError.failedPrecondition(`the audit device cannot write: ${errorCode(err)}`, "AUDIT_DEVICE_UNWRITABLE", { path });
    }
    await this.store.insert(record);
    this.devices.set(path, device);
    return record;
  }

  async disable(rawPath: string): Promise<void> {
    const path = auditDevicePath(rawPath);
    await this.store.delete(path);
    this.devices.delete(path);
  }

  /** Writes one record to every device; UNAVAILABLE when any of them cannot. */
  record(entry: Record<string, unknown>): void {
    for (const device of this.devices.values()) {
      try {
        device.logger.info(entry);
      } catch (err) {
        throw LessorError.unavailable(
          `the request was refused because audit device ${device.record.path} could not record it (${errorCode(err)}); requests are served again as soon as it can write (restore its file's directory or permissions)`,
          "AUDIT_FAILED",
          { device: device.record.path },
          err,
        );
      }
    }
  }

  /** A copy of `value` with every string replaced by its digest (keys are kept). */
  redact(value: unknown, depth = 0): unknown {
    if (typeof value === "string") return this.hash(value);
    if (value === null || typeof value !== "object") return value;
    if (depth > MAX_DEPTH) return "<nested too deeply>";
    if (value instanceof Date) return value.toISOString();
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return this.hash(Buffer.from(value).toString("base64"));
    if (Array.isArray(value)) return value.map((v) => this.redact(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = this.redact(v, depth + 1);
    return out;
  }
}

export function auditDevicePath(raw: string): string {
  const path = raw.replace(/^\/+/, "").replace(/\/?$/, "/");
  if (!DEVICE_PATH.test(path)) throw LessorError.invalidField("path", "must be letters, digits, '_', '.' or '-' (at most 64)");
  return path;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : describeError(err).slice(0, 120);
}
