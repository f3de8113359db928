// operator generate-root (offline), rotate-key, key-status, prune-keys.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { columns } from "../output.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient } from "../context.js";
import { NO_COMMAND } from "../usage.js";

interface GenerateRootArgs {
  "data-dir": string;
  "key-file"?: string;
  "storage-url"?: string;
  "storage-ca-file"?: string;
}

/** Opens the store with the key (which proves the caller holds it) and makes a root token. */
async function generateRoot(argv: GenerateRootArgs): Promise<void> {
  const dataDir = resolve(argv["data-dir"]);
  const dbPath = join(dataDir, "lessor.db");
  const keyFile = argv["key-file"] ?? join(dataDir, "lessor.key");
  const sealKey = process.env.LESSOR_SEAL_KEY;
  const storageUrl = argv["storage-url"] ?? (process.env.LESSOR_STORAGE_URL || undefined);
  const storageCaFile = argv["storage-ca-file"] ?? (process.env.LESSOR_STORAGE_CA_FILE || undefined);
  if (storageUrl === undefined && !existsSync(dbPath)) {
    io.err(`Error generating root token: no Lessor database at ${dbPath}`);
    process.exitCode = 1;
    return;
  }
  if (!sealKey && !existsSync(keyFile)) {
    io.err(`Error generating root token: no key file at ${keyFile} (give -key-file or LESSOR_SEAL_KEY)`);
    process.exitCode = 1;
    return;
  }
  const { Keyring } = await import("../../store/encryption.js");
  const { openStore } = await import("../../store/open.js");
  const { TokenAuthority } = await import("../../auth/tokens.js");
  try {
    // Opening verifies the key sealed this database: only its holder gets a root token.
    const keyring = sealKey ? Keyring.fromBase64(sealKey) : Keyring.loadOrCreate(keyFile);
    const store = await openStore({ dataDir, storageUrl, storageCaFile, keyring });
    try {
      const token = await new TokenAuthority(store).createRoot(Date.now());
      io.out(
        [
          "Success! A new root token was made. It is shown once and never again; Lessor keeps only its hash.",
          "",
          `Root Token: ${token}`,
          "",
          "Revoke it (lessor token revoke -self) once the work that needed it is done.",
        ].join("\n"),
      );
    } finally {
      await store.close();
    }
  } catch (err) {
    io.err(`Error generating root token: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}

const generateRootCommand = defineCommand({
  command: "generate-root",
  describe: "Make a new root token, offline, with the data directory and its key (works while the server runs)",
  builder: (y) =>
    y
      .option("data-dir", { type: "string", demandOption: true, describe: "The server's data directory" })
      .option("key-file", { type: "string", describe: "Key file (default <data-dir>/lessor.key; LESSOR_SEAL_KEY also works)" })
      .option("storage-url", { type: "string", describe: "The server's PostgreSQL URL, when it uses one (env LESSOR_STORAGE_URL)" })
      .option("storage-ca-file", { type: "string", describe: "CA bundle (PEM) for the PostgreSQL server's certificate (env LESSOR_STORAGE_CA_FILE)" }),
  handler: (argv) => generateRoot(argv),
});

const rotateKeyCommand = defineCommand({
  command: ["rotate-key", "rotate"],
  describe: "Add a new encryption key; older values are re-encrypted in the background",
  builder: (y) => y,
  handler: (argv) =>
    withClient(argv, "rotating the encryption key", async (c) => {
      const id = await c.sys.rotateKey();
      io.out(`Success! Rotated key: new writes are sealed with key ${id}; older values are re-encrypted in the background.`);
    }),
});

const keyStatusCommand = defineCommand({
  command: "key-status",
  describe: "Show the encryption keys and how many values each still seals",
  builder: (y) => y.option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "reading key status", async (c) => {
      const status = await c.sys.keyStatus();
      if (asFormat(argv.format) === "json") {
        io.out(JSON.stringify(status, null, 2));
        return;
      }
      io.out(columns(["Key ID", "Active", "Sealed Values"], status.keys.map((k) => [String(k.id), String(k.active), String(k.sealedValues)])));
      io.out(`\nKey source: ${status.keySource}\nRe-encrypting: ${status.reencrypting}`);
    }),
});

const pruneKeysCommand = defineCommand({
  command: "prune-keys",
  describe: "Drop old encryption keys no value uses any more",
  builder: (y) => y,
  handler: (argv) =>
    withClient(argv, "pruning keys", async (c) => {
      const dropped = await c.sys.pruneKeys();
      io.out(dropped.length === 0 ? "No key was dropped: every old key still seals some value (see operator key-status)." : `Success! Dropped keys: ${dropped.join(", ")}`);
    }),
});

export const operatorCommand = defineCommand({
  command: "operator",
  describe: "Operator functions: root tokens and encryption keys",
  builder: (y) =>
    y.command(generateRootCommand).command(rotateKeyCommand).command(keyStatusCommand).command(pruneKeysCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
