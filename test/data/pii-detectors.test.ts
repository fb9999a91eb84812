// One block per PII detector (activities/clean/pii/*, ipAddresses.ts): true positives of each
// rule and the false-positive rules that keep values. redact.test.ts covers findPii/redactPii.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findIpAddresses } from '../../activities/clean/ipAddresses.js';
import { findEmails } from '../../activities/clean/pii/emails.js';
import { looksRandomSecret, shannonEntropy, wordFraction } from '../../activities/clean/pii/entropy.js';
import { findPasswords } from '../../activities/clean/pii/passwords.js';
import { findKeys } from '../../activities/clean/pii/secrets.js';
import type { PiiEntity } from '../../activities/clean/pii/types.js';

type Detector = (text: string, out: PiiEntity[]) => void;

/** The strings a detector finds in `text` (two rules finding the same span count once). */
function found(detect: Detector, text: string): string[] {
  const out: PiiEntity[] = [];
  detect(text, out);
  return [...new Set(out.map((e) => `${e.start}:${e.end}`))].map((span) => text.slice(...(span.split(':').map(Number) as [number, number])));
}

describe('emails.ts', () => {
  it('finds addresses in comments, strings and package metadata', () => {
    assert.deepEqual(found(findEmails, '# Author: Maria Garcia <maria.garcia@acme-widgets.com>'), ['maria.garcia@acme-widgets.com']);
    assert.deepEqual(found(findEmails, 'authors = ["Tokio Contributors <team@tokio.rs>"]'), ['team@tokio.rs']);
    assert.deepEqual(found(findEmails, 'mailto:j.kowalski@poczta.pl'), ['j.kowalski@poczta.pl']);
    assert.deepEqual(found(findEmails, 'Contact: help@acme-widgets.com: we answer in a day'), ['help@acme-widgets.com']);
  });

  it('keeps the userinfo of URLs, which is no mailbox', () => {
    for (const text of ['https://user:hunter2@example.com/x.tgz', 'git+https://isaacs@github.com/npm/cli.git', 'ssh://git@example.com/foo/bar.git']) {
      assert.deepEqual(found(findEmails, text), [], text);
    }
  });

  it('keeps file names, SSH remotes and package specs', () => {
    for (const text of ['logo@2x.png', 'git@github.com:owner/repo.git', 'user@gitlab.com:foo/bar#v1.0', 'lodash@4.17.21', '@Override']) {
      assert.deepEqual(found(findEmails, text), [], text);
    }
  });
});

describe('ipAddresses.ts', () => {
  it('finds public addresses below a license header that says "Version 2.0"', () => {
    const text = '// Licensed under the Apache License, Version 2.0\n// the old box at 52.79.43.179 still answers\n';
    assert.deepEqual(found(findIpAddresses, text), ['52.79.43.179']);
  });

  it('keeps four-part versions on a version line, after v or @, or next to x.y.z versions', () => {
    for (const text of ['Release 2.13.4.2 is out', 'tag v5.1.20.3', 'pkg@4.17.21.2', 'upgrade from 4.17.2 to 4.17.21.2', '__version__ = "3.5.0.1"', 'see RFC 5280 (Section 4.2.1.12)']) {
      assert.deepEqual(found(findIpAddresses, text), [], text);
    }
  });

  it('takes a quad on a line that talks networks for an address, even next to versions', () => {
    assert.deepEqual(found(findIpAddresses, 'version 1.2.3: server at 93.184.216.34'), ['93.184.216.34']);
  });

  it('keeps private, loopback and well-known DNS addresses (BigCode)', () => {
    assert.deepEqual(found(findIpAddresses, 'a=10.2.3.4 b=172.20.1.1 c=192.168.0.9 d=127.0.0.1 e=8.8.4.4 f=9.9.9.9 g=::1 h=fe80::1'), []);
  });

  it('finds IPv6 addresses next to many colons of other kinds', () => {
    const text = 'a: 1\nb::c\nhost: "2a01:4f8:c17:3b5::1"\nx: y';
    assert.deepEqual(found(findIpAddresses, text), ['2a01:4f8:c17:3b5::1']);
  });
});

describe('secrets.ts', () => {
  const keys = (text: string): string[] => found(findKeys, text);

  it('finds each provider format', () => {
    const cases: Record<string, string> = {
      aws: 'AKIAZ3MQ7XKJ4RTYB2WD',
      gcp: 'AIzaSyB8m2Xq9Lk3Jd7Vn4Hp1Tr6Wz0Cy5Fe8Ga',
      githubClassic: 'ghs_Xk29LmQp4Rt7Vz1Bn8Cd3Fg6Hj0Kl5Mn2Pq7',
      githubFineGrained: 'github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd',
      slack: 'xoxp-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      slackWebhook: 'https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEFGH2/Xy9Zk2Lm4Np6Qr8St0Uv2Wx4',
      stripeRestricted: 'rk_live_51Hx9Zk2Lm4Np6Qr8St0Uv2Wx4',
      npm: 'npm_Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5',
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      sendgrid: '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',
      openai: 'sk-proj-Ab3Cd5Ef7Gh9Ij1Kl3MnT3BlbkFJOp7Qr9St1Uv3Wx5Yz7Ab',
      mailchimp: '0123456789abcdef0123456789abcdef-us12',
      mailchimpOneDigit: 'fedcba9876543210fedcba9876543210-us6',
    };
    for (const [name, key] of Object.entries(cases)) assert.deepEqual(keys(`const ${name} = "${key}";`), [key], name);
  });

  it('finds the 40-character AWS secret next to an AWS name, not a random 40-character string alone', () => {
    const secret = 'Zx8Q2mN4vB7kL1pR9sT3yU6wE0aD5fG8hJ2kL4mN';
    assert.deepEqual(keys(`AWS_SECRET_ACCESS_KEY=${secret}`), [secret]);
    assert.deepEqual(keys(`aws.secretKey: "${secret}"`), [secret]);
    assert.deepEqual(keys(`checksum = "${secret}"`), []);
  });

  it('finds the key of an Azure storage connection string', () => {
    const key = 'Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7Ab9C'.repeat(2) + '==';
    assert.equal(key.length, 88);
    assert.deepEqual(keys(`conn = "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${key};EndpointSuffix=core.windows.net"`), [key]);
  });

  it('finds random values after key-like names: quoted, unquoted (.env, YAML), #define, Bearer', () => {
    assert.deepEqual(keys('STRIPE_WEBHOOK_SECRET=whsec9Xk2Lm4Np6Qr8St0Uv2Wx4Yz\n'), ['whsec9Xk2Lm4Np6Qr8St0Uv2Wx4Yz']);
    assert.deepEqual(keys('  auth_token: q7Rk2Lm4Np6Xz8St0Uv2Wx4Yb\n'), ['q7Rk2Lm4Np6Xz8St0Uv2Wx4Yb']);
    assert.deepEqual(keys('#define APP_SECRET "8b7b5cc2126c453989c0abe7655cefa1aef33ae0"'), ['8b7b5cc2126c453989c0abe7655cefa1aef33ae0']);
    assert.deepEqual(keys("headers = {'Authorization': 'Bearer q7Rk2Lm4Np6Xz8St0Uv2Wx4Yb'}"), ['q7Rk2Lm4Np6Xz8St0Uv2Wx4Yb']);
    assert.deepEqual(keys('const credentials = "UK4kOCEZYuLju6oRzDfhbfKNUS9";'), ['UK4kOCEZYuLju6oRzDfhbfKNUS9']);
  });

  it('keeps identifiers, expressions, hashes under non-secret names and placeholders', () => {
    for (const text of [
      'api_key = someVariableName2Long\n',
      'TOKEN = TEST_TOKEN_VALUE_12345\n',
      'token_type = "BearerTokenType2024Value"',
      'api_key: ${API_KEY_FROM_THE_ENVIRONMENT}\n',
      'secret = "your-secret-key-goes-here-1234"',
      'sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
      'keyboardLayout = "Zx8Q2mN4vB7kL1pR9sT3"',
      'author = "Zx8Q2mN4vB7kL1pR9sT3"',
    ]) {
      assert.deepEqual(keys(text), [], text);
    }
  });
});

describe('entropy.ts', () => {
  it('computes Shannon entropy in bits per character', () => {
    assert.equal(shannonEntropy('aaaa'), 0);
    assert.equal(shannonEntropy('abcd'), 2);
  });

  it('scores identifiers as wordy and random strings as not', () => {
    assert.ok(wordFraction('someVariableName') > 0.9);
    assert.ok(wordFraction('TEST_TOKEN_VALUE') > 0.8);
    assert.ok(wordFraction('UK4kOCEZYuLju6oRzDfhbfKNUS9') < 0.5);
  });

  it('needs length, mixed classes and entropy', () => {
    assert.equal(looksRandomSecret('Zx8Q2mN4vB7kL1pR9sT3'), true);
    assert.equal(looksRandomSecret('Zx8Q2mN4vB7k', { minLength: 20 }), false);
    assert.equal(looksRandomSecret('abcdefghijklmnopqrstuvwxyz'), false); // one class
    assert.equal(looksRandomSecret('aA1aA1aA1aA1aA1aA1aA1'), false); // 3 symbols: entropy < 3
  });
});

describe('passwords.ts', () => {
  const passwords = (text: string): string[] => found(findPasswords, text);

  it('finds quoted literals, .env/YAML values, #define and URL passwords', () => {
    assert.deepEqual(passwords('db.password = "S3cure!pass"'), ['S3cure!pass']);
    assert.deepEqual(passwords('MYSQL_ROOT_PASSWORD=Welcome_x\n'), ['Welcome_x']);
    assert.deepEqual(passwords('  smtp_password: summer2023\n'), ['summer2023']);
    assert.deepEqual(passwords('adminPassword=!%SL7HhomFtm\n'), ['!%SL7HhomFtm']);
    assert.deepEqual(passwords('#define ADMINPASSWORD "S@uoCab8344jV"'), ['S@uoCab8344jV']);
    assert.deepEqual(passwords('DATABASE_URL = "postgres://app:orange5805#@db-5.example.net:5432/app"'), ['orange5805#']);
    assert.deepEqual(passwords('DB_PASS=hunter22\n'), ['hunter22']);
  });

  it('keeps code, templates, placeholders and words that only contain "pass"', () => {
    for (const text of [
      'password = user_password\n',
      'pass = !isStrict;\n',
      'print(f"password={password!r}")\n',
      "'allPass': 'overEvery',",
      'bypass = "Zx8Q2mN4vB7kL1pR9sT3"',
      'password: string\n',
      'https://user:password@example.com/x',
      'https://{}:x-oauth-basic@github.com',
      'password = "${DB_PASSWORD}"',
    ]) {
      assert.deepEqual(passwords(text), [], text);
    }
  });
});
