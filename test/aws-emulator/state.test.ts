import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SortedNames } from '../../tools/aws-emulator/state.js';
import { globMatch, parsePolicy, evaluate } from '../../tools/aws-emulator/policy.js';

/** A small deterministic PRNG so a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('SortedNames matches a plain sorted array under random inserts, removals and seeks', () => {
  const rand = lcg(42);
  const index = new SortedNames();
  const model = new Set<string>();
  const name = (): string => `u${Math.floor(rand() * 5000)}`;
  for (let i = 0; i < 3000; i++) {
    const n = name();
    if (!model.has(n)) {
      index.addBulk(n);
      model.add(n);
    }
  }
  for (let step = 0; step < 20_000; step++) {
    const n = name();
    if (rand() < 0.5) {
      if (!model.has(n)) {
        index.add(n);
        model.add(n);
      }
    } else if (model.has(n)) {
      index.remove(n);
      model.delete(n);
    } else {
      index.remove(n); // removing an absent name is a no-op
    }
    if (step % 2000 === 0) {
      const sorted = [...model].sort();
      assert.deepEqual([...index.after(undefined)], sorted);
      const pivot = name();
      assert.deepEqual([...index.after(pivot)], sorted.filter((s) => s > pivot));
    }
  }
  assert.deepEqual([...index.after(undefined)], [...model].sort());
});

test('globMatch handles *, ? and backtracking', () => {
  assert.equal(globMatch('iam:create*', 'iam:createuser'), true);
  assert.equal(globMatch('iam:*user', 'iam:createuser'), true);
  assert.equal(globMatch('iam:*user', 'iam:createusers'), false);
  assert.equal(globMatch('a*b*c', 'aXbYbZc'), true);
  assert.equal(globMatch('a?c', 'abc'), true);
  assert.equal(globMatch('a?c', 'ac'), false);
  assert.equal(globMatch('*', ''), true);
});

test('conditions: StringEquals, negated operators on absent keys, IfExists, ForAllValues', () => {
  const policy = parsePolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'iam:A', Resource: '*', Condition: { StringEquals: { 'aws:username': 'alice' } } },
        { Effect: 'Allow', Action: 'iam:B', Resource: '*', Condition: { StringNotEquals: { 'aws:username': 'alice' } } },
        { Effect: 'Allow', Action: 'iam:C', Resource: '*', Condition: { StringEqualsIfExists: { 'sts:ExternalId': 'x' } } },
        { Effect: 'Allow', Action: 'iam:D', Resource: '*', Condition: { 'ForAllValues:StringLike': { 'aws:TagKeys': ['team-*'] } } },
        { Effect: 'Allow', Action: 'iam:E', Resource: '*', Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': 3600 } } },
      ],
    }),
    'identity',
  );
  const ctx = (entries: Array<[string, string | string[]]>): Map<string, string | readonly string[]> => new Map(entries);
  const decide = (action: string, context: Map<string, string | readonly string[]>): string =>
    evaluate([policy], { action, resource: 'arn:aws:iam::123456789012:user/x', context });
  assert.equal(decide('iam:a', ctx([['aws:username', 'alice']])), 'Allow');
  assert.equal(decide('iam:a', ctx([['aws:username', 'bob']])), 'None');
  assert.equal(decide('iam:b', ctx([])), 'Allow', 'negated operators match when the key is absent');
  assert.equal(decide('iam:c', ctx([])), 'Allow');
  assert.equal(decide('iam:c', ctx([['sts:externalid', 'y']])), 'None');
  assert.equal(decide('iam:d', ctx([['aws:tagkeys', ['team-a', 'team-b']]])), 'Allow');
  assert.equal(decide('iam:d', ctx([['aws:tagkeys', ['team-a', 'cost']]])), 'None');
  assert.equal(decide('iam:e', ctx([['aws:multifactorauthage', '60']])), 'Allow');
  assert.equal(decide('iam:e', ctx([])), 'None');
});
