// Awaiting calls that must fail, as the client reports them.
import assert from "node:assert/strict";
import { Code, LessorClientError } from "@lessor/client";

/** Awaits a call that must fail; returns the client's error. */
export async function failure(promise: Promise<unknown>): Promise<LessorClientError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof LessorClientError, `expected a LessorClientError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the call to fail");
}

/** Awaits a call that must fail with `code`, and a message matching `pattern`; returns the error. */
export async function rejects(promise: Promise<unknown>, code: Code, pattern: RegExp): Promise<LessorClientError> {
  const err = await failure(promise);
  assert.equal(err.codeName, Code[code], err.message);
  assert.match(err.message, pattern);
  return err;
}
