// `lessor version` (and `lessor --version`, `-version`, `-v`): "Lessor v0.1.0",
// as Vault prints its own, from the package's manifest.
import { lessorVersion } from "../../util/version.js";
import { defineCommand, processIo as io } from "../context.js";

export const versionCommand = defineCommand({
  command: "version",
  describe: "Print Lessor's version",
  builder: (y) => y,
  handler: () => io.out(`Lessor v${lessorVersion()}`),
});
