// The named policies: stored as written, compiled into the ACL when loaded
// or written. `root` is built in and immutable; `default` is seeded on the
// first start and may be edited but not deleted, as in Vault.
import { LessorError } from "../errors.js";
import type { PolicyStore } from "../store/types.js";
import type { Acl } from "./acl.js";
import { DEFAULT_POLICY_TEXT, parsePolicy, policyName, ROOT_POLICY_TEXT } from "./policy.js";

export class PolicyBook {
  constructor(
    private readonly store: PolicyStore,
    private readonly acl: Acl,
  ) {}

  /** Compiles every stored policy into the ACL; seeds `default` on the first start. */
  async load(now: number): Promise<void> {
    if (!(await this.store.get("default"))) await this.store.put({ name: "default", text: DEFAULT_POLICY_TEXT, updatedAt: now });
    await this.reload();
  }

  /** Re-reads every policy (another replica changed one). */
  async reload(): Promise<void> {
    const policies = await this.store.list();
    this.acl.replacePolicies(new Map(policies.map((p) => [p.name, parsePolicy(p.text)])));
  }

  async write(rawName: string, text: string, now: number): Promise<string> {
    const name = policyName(rawName);
    if (name === "root") throw immutableRoot("changed");
    const rules = parsePolicy(text);
    await this.store.put({ name, text, updatedAt: now });
    this.acl.setPolicy(name, rules);
    return name;
  }

  async read(rawName: string): Promise<{ name: string; text: string }> {
    const name = policyName(rawName);
    if (name === "root") return { name, text: ROOT_POLICY_TEXT };
    const policy = await this.store.get(name);
    if (!policy) throw LessorError.notFound(`no policy named "${name}"`, "POLICY_NOT_FOUND", { name });
    return { name, text: policy.text };
  }

  async list(): Promise<string[]> {
    return [...(await this.store.list()).map((p) => p.name), "root"].sort();
  }

  async delete(rawName: string): Promise<void> {
    const name = policyName(rawName);
    if (name === "root") throw immutableRoot("deleted");
    if (name === "default") {
      throw LessorError.invalidField("name", 'the "default" policy cannot be deleted (it may be rewritten)');
    }
    await this.store.delete(name);
    this.acl.removePolicy(name);
  }
}

function immutableRoot(what: string): LessorError {
  return LessorError.invalidField("name", `the "root" policy is built in and cannot be ${what}`);
}
