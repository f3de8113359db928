// The three reference walkthroughs, as data: each step is the shell command
// exactly as the walkthrough writes it (with `lessor` for `vault`) and the
// output it must print. The demo runs and shows them; the end-to-end tests
// run the same steps and hold the output to these expectations.
//
// In expected output, {uuid}, {akid}, {secret} and {any} stand for values
// that differ on every run; everything else must match exactly.

export interface Step {
  /** Shell command, run with bash (so heredocs work as written). */
  command: string;
  /** A line of narration the demo prints before the step. */
  note?: string;
  /** Expected exit status. */
  status: number;
  /** Expected standard output, line by line. */
  stdout?: string;
  /** Text the standard error must contain (for error steps). */
  stderr?: string[];
  /** Files to create in the working directory first. */
  files?: Record<string, string>;
  /** Pull variables out of stdout for later steps ($NAME in commands). */
  capture?: Record<string, RegExp>;
}

export interface Walkthrough {
  name: string;
  seed: string;
  steps: Step[];
}

/** Root keys the walkthroughs type in; the demo's IAM emulator is started with them. */
export const SEED_ROOT_ACCESS_KEY = "AKIAI4SGLQPBX6CSENIQ";
export const SEED_ROOT_SECRET_KEY = "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";

const EC2_POLICY = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Stmt1426528957000",
      "Effect": "Allow",
      "Action": [
        "ec2:*"
      ],
      "Resource": [
        "*"
      ]
    }
  ]
}`;

const CREDS_TABLE = (role: string) => `Key                Value
---                -----
lease_id           aws/creds/${role}/{uuid}
lease_duration     768h
lease_renewable    true
access_key         {akid}
secret_key         {secret}
security_token     <nil>`;

const LEASE_ID = (role: string) => ({ LEASE_ID: new RegExp(`^lease_id\\s+(aws/creds/${role}/\\S+)$`, "m") });

export const WALKTHROUGHS: Walkthrough[] = [
  {
    name: "AWS dynamic secrets (current CLI)",
    seed: "walkthrough-current-cli.md",
    steps: [
      { command: "lessor secrets enable -path=aws aws", status: 0, stdout: "Success! Enabled the aws secrets engine at: aws/" },
      {
        note: "The walkthrough exports the root keys and writes them to aws/config/root.",
        command: `export AWS_ACCESS_KEY_ID=${SEED_ROOT_ACCESS_KEY}
export AWS_SECRET_ACCESS_KEY=${SEED_ROOT_SECRET_KEY}
lessor write aws/config/root \\
    access_key=$AWS_ACCESS_KEY_ID \\
    secret_key=$AWS_SECRET_ACCESS_KEY \\
    region=us-east-1`,
        status: 0,
        stdout: "Success! Data written to: aws/config/root",
      },
      {
        note: 'The walkthrough\'s policy has "Version": "2023-11-12", which AWS rejects; Lessor says so now, before any AWS call.',
        command: `lessor write aws/roles/my-role \\
        credential_type=iam_user \\
        policy_document=-<<EOF
{
  "Version": "2023-11-12",
  "Statement": [
    {
      "Sid": "Stmt1426528957000",
      "Effect": "Allow",
      "Action": [
        "ec2:*"
      ],
      "Resource": [
        "*"
      ]
    }
  ]
}
EOF`,
        status: 2,
        stderr: ["Error writing to aws/roles/my-role", "Code: INVALID_ARGUMENT", '* policy_document: has "Version": "2023-11-12"', '"2012-10-17"'],
      },
      {
        note: "The fix: the IAM policy language version 2012-10-17.",
        command: `lessor write aws/roles/my-role \\
        credential_type=iam_user \\
        policy_document=-<<EOF
${EC2_POLICY}
EOF`,
        status: 0,
        stdout: "Success! Data written to: aws/roles/my-role",
      },
      { command: "lessor read aws/creds/my-role", status: 0, stdout: CREDS_TABLE("my-role"), capture: LEASE_ID("my-role") },
      {
        note: "The walkthrough pastes the lease id one character short; Lessor does not pretend that worked.",
        command: 'lessor lease revoke "${LEASE_ID%?}"',
        status: 2,
        stderr: ["Code: NOT_FOUND", "did you mean aws/creds/my-role/"],
      },
      { command: 'lessor lease revoke "$LEASE_ID"', status: 0, stdout: "Success! Revoked lease: aws/creds/my-role/{uuid}" },
    ],
  },
  {
    name: "Dynamic secrets (legacy CLI)",
    seed: "walkthrough-legacy-cli.md",
    steps: [
      { command: "lessor mount aws", status: 0, stdout: "Successfully mounted 'aws' at 'aws'!" },
      {
        command: `lessor write aws/config/root \\
    access_key=${SEED_ROOT_ACCESS_KEY} \\
    secret_key=${SEED_ROOT_SECRET_KEY}`,
        status: 0,
        stdout: "Success! Data written to: aws/config/root",
      },
      {
        note: "The root configuration cannot be read back.",
        command: "lessor read aws/config/root",
        status: 2,
        stderr: ["Error reading aws/config/root: Error making API request.", "Code: UNIMPLEMENTED. Errors:", "* unsupported operation"],
      },
      {
        command: "lessor write aws/roles/deploy policy=@policy.json",
        files: { "policy.json": `${EC2_POLICY}\n` },
        status: 0,
        stdout: "Success! Data written to: aws/roles/deploy",
        stderr: ['field "policy" is deprecated'],
      },
      { command: "lessor read aws/creds/deploy", status: 0, stdout: CREDS_TABLE("deploy"), capture: LEASE_ID("deploy") },
      { command: 'lessor revoke "$LEASE_ID"', status: 0, stdout: "Key revoked with ID 'aws/creds/deploy/{uuid}'." },
    ],
  },
  {
    name: "AWS dynamic secret, stage by stage",
    seed: "walkthrough-stages.md",
    steps: [
      { command: "lessor secrets enable -path=aws aws", status: 0, stdout: "Success! Enabled the aws secrets engine at: aws/" },
      {
        command: `lessor write aws/config/root \\
    access_key=${SEED_ROOT_ACCESS_KEY} \\
    secret_key=${SEED_ROOT_SECRET_KEY}`,
        status: 0,
        stdout: "Success! Data written to: aws/config/root",
      },
      {
        command: `lessor write aws/roles/my-role policy=-<<EOF
${EC2_POLICY}
EOF`,
        status: 0,
        stdout: "Success! Data written to: aws/roles/my-role",
        stderr: ['field "policy" is deprecated'],
      },
      { command: "lessor read aws/creds/my-role", status: 0, stdout: CREDS_TABLE("my-role"), capture: LEASE_ID("my-role") },
      { command: 'lessor lease revoke "$LEASE_ID"', status: 0, stdout: "Success! Revoked lease: aws/creds/my-role/{uuid}" },
    ],
  },
];

const PLACEHOLDERS: Record<string, string> = {
  "{uuid}": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
  "{akid}": "AKIA[A-Z0-9]{16}",
  "{secret}": "[A-Za-z0-9/+]{40}",
  "{any}": ".*",
};

/** The expected output as one regular expression per line. */
export function expectedLines(text: string): RegExp[] {
  return text.split("\n").map((line) => {
    let source = "";
    for (const part of line.split(/(\{uuid\}|\{akid\}|\{secret\}|\{any\})/)) {
      source += PLACEHOLDERS[part] ?? part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }
    return new RegExp(`^${source}$`);
  });
}

/** Differences between actual output and the expectation; empty when they match. */
export function compareOutput(actual: string, expected: string): string[] {
  const lines = actual.replace(/\n$/, "").split("\n");
  const patterns = expectedLines(expected);
  const problems: string[] = [];
  if (lines.length !== patterns.length) problems.push(`expected ${patterns.length} lines, got ${lines.length}`);
  patterns.forEach((p, i) => {
    if (!p.test(lines[i] ?? "")) problems.push(`line ${i + 1}: ${JSON.stringify(lines[i] ?? "")} does not match ${p}`);
  });
  return problems;
}
