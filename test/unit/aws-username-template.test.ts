// Username templates in Vault's syntax, and the names Lessor makes with and without them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TemplateError, UsernameTemplate } from "../../src/engines/aws/username-template.js";
import { checkTemplate, defaultFederationName, makeName, NameError, templateData } from "../../src/engines/aws/usernames.js";

/** Vault's own default username template for the AWS engine. */
const VAULT_DEFAULT =
  '{{ if (eq .Type "STS") }}{{ printf "vault-%s-%s"  (unix_time) (random 20) | truncate 32 }}{{ else }}{{ printf "vault-%s-%s-%s" (printf "%s-%s" (.DisplayName) (.PolicyName) | truncate 42) (unix_time) (random 20) | truncate 64 }}{{ end }}';
const NOW = Date.UTC(2026, 0, 2, 15, 4, 5, 678);
const render = (src: string, data: Record<string, string> = templateData("iam_user", "token-ci", "deploy")) =>
  UsernameTemplate.parse(src).render(data, NOW);

test("Vault's default template renders as in Vault, for IAM users and STS names", () => {
  assert.match(render(VAULT_DEFAULT), /^vault-token-ci-deploy-1767366245-[0-9A-Za-z]{20}$/);
  const sts = render(VAULT_DEFAULT, templateData("federation", "token-ci", "deploy"));
  assert.equal(sts.length, 32);
  assert.match(sts, /^vault-1767366245-[0-9A-Za-z]{15}$/);
  const long = render(VAULT_DEFAULT, templateData("iam_user", "d".repeat(80), "r".repeat(64)));
  assert.equal(long.length, 64);
});

test("the functions Vault documents, and Go's built-ins", () => {
  const cases: Array<[string, string | RegExp]> = [
    ["{{ .DisplayName | uppercase }}", "TOKEN-CI"],
    ['{{ "ABC" | lowercase }}', "abc"],
    ['{{ .DisplayName | replace "-" "_" }}', "token_ci"],
    ["{{ .PolicyName | truncate 3 }}", "dep"],
    ['{{ "abcdefghijklmnop" | truncate_sha256 12 }}', /^abcd[0-9a-f]{8}$/],
    ['{{ "x" | sha256 }}', "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"],
    ['{{ "hi" | base64 }}', "aGk="],
    ["{{ unix_time }}", "1767366245"],
    ["{{ unix_time_millis }}", "1767366245678"],
    ['{{ timestamp "2006-01-02T15:04:05.000Z07:00" }}', "2026-01-02T15:04:05.678Z"],
    ['{{ timestamp "Jan _2 3:04PM" }}', "Jan  2 3:04PM"],
    ["{{ uuid }}", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/],
    ["{{ random 12 }}", /^[0-9A-Za-z]{12}$/],
    ['{{ printf "%s/%d/%q/%%" .Type 42 "q" }}', 'IAM/42/"q"/%'],
    ["{{ len .PolicyName }}", "6"],
    ['{{ if and (eq .Type "IAM") (ne .PolicyName "x") }}yes{{ end }}', "yes"],
    ['{{ if eq .Type "STS" }}sts{{ else if eq .Type "IAM" }}iam{{ else }}other{{ end }}', "iam"],
    ['{{ if not (eq .PolicyName "deploy") }}a{{ else }}b{{ end }}', "b"],
    ['{{ or "" "fallback" }}', "fallback"],
    ["a  {{- .Type -}}  b", "aIAMb"],
    ["{{/* a comment */}}x{{- /* another */ -}} y", "xy"],
    ["{{ `raw\\n` }}", "raw\\n"],
    ["{{ (.RoleName) }}", "deploy"],
  ];
  for (const [src, want] of cases) {
    const got = render(src);
    if (typeof want === "string") assert.equal(got, want, src);
    else assert.match(got, want, src);
  }
});

test("templates that cannot work are refused when parsed, saying what is wrong", () => {
  const cases: Array<[string, RegExp]> = [
    ["{{ nosuch .DisplayName }}", /function "nosuch" not defined/],
    ["{{ .DisplayName ", /unclosed action/],
    ["{{ if .DisplayName }}x", /no \{\{end\}\}/],
    ["x{{ end }}", /unexpected \{\{end\}\}/],
    ["{{ else }}", /unexpected \{\{else\}\}/],
    ["{{ $x := 1 }}", /variables/],
    ["{{ range .X }}{{ end }}", /not supported/],
    ['{{ "unterminated }}', /unterminated string/],
    ["{{ (printf \"x\" }}", /unclosed "\("/],
    ['{{ "a" "b" }}', /non-function/],
    ["{{ printf random }}", /needs arguments/],
    ["{{ }}", /empty action/],
    ["   ", /is empty/],
  ];
  for (const [src, want] of cases) {
    assert.throws(() => UsernameTemplate.parse(src), (err: unknown) => err instanceof TemplateError && want.test(err.message), src);
  }
  // Errors only the data or the arguments reveal show when rendering.
  assert.throws(() => render("{{ .Nope }}"), /can't evaluate field Nope/);
  assert.throws(() => render("{{ truncate 0 .Type }}"), /max length must be > 0/);
  assert.throws(() => render("{{ random }}"), /wrong number of args for random/);
  assert.throws(() => render('{{ truncate "x" .Type }}'), /expected a whole number/);
});

test("a template is checked at write time for the names it will make", () => {
  assert.equal(checkTemplate(VAULT_DEFAULT, ["iam_user", "session", "federation"], "deploy"), undefined);
  assert.match(checkTemplate("{{ .DisplayName }}-{{ .PolicyName }}", ["iam_user"], "deploy") ?? "", /renders the same name twice.*random/);
  // Session and federation names need not be unique.
  assert.equal(checkTemplate("{{ .PolicyName }}-session", ["session"], "deploy"), undefined);
  assert.match(checkTemplate('{{ printf "%s-%s" (.DisplayName) (random 60) }}', ["iam_user"], "deploy") ?? "", /AWS allows 1 to 64.*truncate/);
  assert.match(checkTemplate('{{ printf "app-%s" (random 40) }}', ["federation"], "deploy") ?? "", /AWS allows 2 to 32/);
  assert.match(checkTemplate("app name {{ random 10 }}", ["iam_user"], "deploy") ?? "", /characters AWS does not allow/);
  assert.match(checkTemplate("{{ nosuch }}", ["iam_user"], "deploy") ?? "", /not a valid template: function "nosuch"/);
  assert.match(checkTemplate("{{ .Nope }}{{ random 4 }}", ["iam_user"], "deploy") ?? "", /fails to render: can't evaluate field Nope/);
});

test("names are made from the template, or the default, and never cut short", () => {
  assert.match(makeName("iam_user", undefined, "root", "deploy", NOW), /^lessor-root-deploy-1767366245-[a-z0-9]{10}$/);
  assert.match(makeName("session", undefined, "root", "deploy", NOW), /^lessor-root-deploy-1767366245-[a-z0-9]{10}$/);
  const fed = defaultFederationName("a-rather-long-role-name-for-federation");
  assert.ok(fed.length <= 32 && fed.length >= 2, fed);
  assert.match(fed, /^lessor-[\w+=,.@-]+-[a-z0-9]{10}$/);
  assert.match(makeName("federation", undefined, "root", "x", NOW), /^lessor-x-[a-z0-9]{10}$/);
  assert.match(makeName("iam_user", '{{ printf "app-%s-%s" .PolicyName (random 8) }}', "root", "de ploy", NOW), /^app-de_ploy-[0-9A-Za-z]{8}$/);
  // A display name too long for the template's author: refused, not truncated.
  assert.throws(
    () => makeName("iam_user", "{{ .DisplayName }}{{ random 4 }}", "x".repeat(70), "r", NOW),
    (err: unknown) => err instanceof NameError && /has 74 characters; AWS allows 1 to 64/.test(err.message),
  );
});
