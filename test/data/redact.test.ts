import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findPii, isGlobalIPv4, isGlobalIPv6, looksRandomSecret, redactPii, type PiiType } from '../../activities/clean/redact.js';

/** The redacted text (the quickest way to see what was found where). */
function redacted(text: string): string {
  return redactPii(text).text;
}

function types(text: string): PiiType[] {
  return findPii(text).map((e) => e.type);
}

describe('e-mail addresses', () => {
  it('redacts an address in a license header', () => {
    const text = '# Copyright 2010 Pallets, Armin Ronacher <armin.ronacher@active-4.com>\n# SPDX: BSD-3-Clause\n';
    assert.equal(redacted(text), '# Copyright 2010 Pallets, Armin Ronacher <<EMAIL>>\n# SPDX: BSD-3-Clause\n');
  });

  it('redacts plus-addressing, subdomains and underscores', () => {
    assert.equal(redacted('mail first_last+tag@mail.corp.example.co.uk.'), 'mail <EMAIL>.');
  });

  it('ignores retina image names and other file-extension "domains"', () => {
    for (const text of ['<img src="logo@2x.png">', 'url(icon@3x.webp)', 'import x from "./a@b.min.js"']) {
      assert.deepEqual(findPii(text), [], text);
    }
  });

  it('ignores package@version, decorators, handles without a domain', () => {
    for (const text of ['npm i lodash@4.17.21', 'python@2.7', '@app.route("/")\ndef index(): ...', 'ping @octocat', 'user@localhost']) {
      assert.deepEqual(findPii(text), [], text);
    }
  });

  it('keeps git@host:owner/repo SSH remotes', () => {
    assert.deepEqual(findPii('git clone git@github.com:pallets/flask.git'), []);
  });

  it('gives UTF-16 offsets after non-BMP characters', () => {
    const text = '𝒳😀 — contact: bob@example.org!';
    const [e] = findPii(text);
    assert.ok(e);
    assert.equal(e.type, 'EMAIL');
    assert.equal(e.start, text.indexOf('bob'));
    assert.equal(text.slice(e.start, e.end), 'bob@example.org');
    assert.equal(redacted(text), '𝒳😀 — contact: <EMAIL>!');
  });
});

describe('IP addresses', () => {
  it('redacts a public IPv4 address, also with a port or in a URL', () => {
    assert.equal(redacted('connect("93.184.216.34", 80)'), 'connect("<IP_ADDRESS>", 80)');
    assert.equal(redacted('url = "http://93.184.216.34:8080/x"'), 'url = "http://<IP_ADDRESS>:8080/x"');
  });

  it('keeps private, loopback, link-local, CGNAT, documentation and multicast ranges', () => {
    for (const ip of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', '192.0.2.10', '198.51.100.7', '203.0.113.5', '224.0.0.1', '0.0.0.0', '255.255.255.255']) {
      assert.deepEqual(findPii(`host = "${ip}"`), [], ip);
      assert.equal(isGlobalIPv4(ip), false, ip);
    }
  });

  it('keeps well-known public DNS resolvers', () => {
    assert.deepEqual(findPii('nameserver 8.8.8.8\nnameserver 1.1.1.1\nnameserver 2001:4860:4860::8888'), []);
  });

  it('takes single-digit dotted quads for versions unless the context is about networks', () => {
    assert.deepEqual(findPii('version = "1.2.3.4"'), []);
    assert.deepEqual(types('server_ip = "1.2.3.4"'), ['IP_ADDRESS']);
  });

  it('ignores version pins, product tokens, section numbers, release notes and number lists', () => {
    for (const text of [
      "'types-pyyaml==6.0.12.12',",
      'Mozilla/5.0 AppleWebKit/537.36 Chrome/126.0.0.0 Safari/537.36',
      'see §13.2.4.2 of the spec',
      '2.13.4.2 (13-Oct-2022)\n\nNo changes since 2.13.2.1; see 2.13.4 notes',
      '<path d="M314.13,878.55l1.76-1.76c1-.4,2-.68,2.35.8.41,1.64,2.27"/>',
      'rfc5280#section-4.2.1.12',
      'octets 300.1.2.3 and 1.2.3.4.5',
    ]) {
      assert.deepEqual(findPii(text), [], text);
    }
  });

  it('redacts public IPv6 addresses and keeps non-global ones', () => {
    assert.equal(redacted('addr = "2606:2800:220:1:248:1893:25c8:1946"'), 'addr = "<IP_ADDRESS>"');
    assert.equal(redacted('dial("[2a00:1450:4001:82b::200e]:443")'), 'dial("[<IP_ADDRESS>]:443")');
    for (const ip of ['::1', 'fe80::1', 'fd00::1', '2001:db8::1', '::ffff:192.168.0.1']) {
      assert.deepEqual(findPii(`addr = "${ip}"`), [], ip);
      assert.equal(isGlobalIPv6(ip), false, ip);
    }
  });

  it('does not take C++/Rust paths, times or MAC addresses for IPv6', () => {
    for (const text of ['std::vector<int> v; a::b::c(); f64::EPSILON', 'at 12:30:45 today', 'mac 00:1a:2b:3c:4d:5e', 'x = arr[1::2]', 'Abc::def()']) {
      assert.deepEqual(findPii(text), [], text);
    }
  });
});

describe('secret keys', () => {
  it('redacts provider-format keys embedded in strings', () => {
    const cases = [
      'AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE"',
      'const gh = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5";',
      'slack("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx")',
      'stripe.api_key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"',
      'fetch("https://maps.googleapis.com/api?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&q=1")',
    ];
    for (const text of cases) assert.deepEqual(types(text), ['KEY'], text);
    assert.equal(redacted(cases[4]!), 'fetch("https://maps.googleapis.com/api?key=<KEY>&q=1")');
  });

  it('redacts the value of an AWS secret access key', () => {
    const text = 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n';
    assert.equal(redacted(text), 'aws_secret_access_key = <KEY>\n');
  });

  it('redacts a whole private key block, also split into string pieces', () => {
    const body = 'MIIEowIBAAKCAQEAq12HPT64ItfDlxJiez2tT9eJ8VKlv/HbhYN2ubvZL+9v0E9i\nwBK2I/Xjxu7KWvVI642LyxMBmaVUMMikhXAwt9/6jaspgOJyf1+NutP==';
    const pem = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`;
    assert.equal(redacted(`key = \`${pem}\`\n`), 'key = `<KEY>`\n');
    const pieces = `"-----BEGIN PRIVATE KEY-----\\n" +\n  "${body.replace('\n', '\\n" +\n  "')}\\n" +\n  "-----END PRIVATE KEY-----"`;
    assert.deepEqual(types(pieces), ['KEY']);
  });

  it('leaves PEM header constants around code alone', () => {
    const code = 'const header = "-----BEGIN PRIVATE KEY-----"\nfunc parse(b []byte) (Key, error) { return decode(b) }\nconst footer = "-----END PRIVATE KEY-----"\n';
    assert.deepEqual(findPii(code), []);
  });

  it('redacts random-looking values assigned to key/secret/token names', () => {
    assert.equal(redacted('API_KEY = "Zx8Q2mN4vB7kL1pR9sT3"'), 'API_KEY = "<KEY>"');
    assert.equal(redacted('{"client_secret": "9f86d081884c7d659a2feaa0c55ad015"}'), '{"client_secret": "<KEY>"}');
    assert.equal(redacted("app.config['SECRET_KEY'] = 'k3J9#x!2qL$8z@4w'"), "app.config['SECRET_KEY'] = '<KEY>'");
    assert.equal(redacted('headers["x-apikey"] = "Zx8Q2mN4vB7kL1pR9sT3"'), 'headers["x-apikey"] = "<KEY>"');
    assert.equal(redacted('const accessToken = `Zx8Q2mN4vB7kL1pR9sT3`;'), 'const accessToken = `<KEY>`;');
  });

  it('keeps non-secret values next to key/secret/token names', () => {
    for (const text of [
      'SECRET_KEY = "dev"',
      'primary_key = "Zx8Q2mN4vB7kL1pR9sT3"',
      'cache_key = "users:list:page:1:sorted"',
      'tokenizer_name = "bigcode/starcoder-tokenizer"',
      'api_key = "your-api-key-goes-here-12345"',
      'protobuf_key:"bytes,1,opt,name=key"',
      'rekeyRecordProtocolName = "ALTSRP_GCM_AES128_REKEY"',
      'keyFile = "/etc/ssl/private/server-2024.key"',
      'monkey = "Zx8Q2mN4vB7kL1pR9sT3"',
    ]) {
      assert.deepEqual(findPii(text), [], text);
    }
    assert.equal(looksRandomSecret('aaaaaaaaaaaaaaaaaaaa1'), false);
  });
});

describe('passwords', () => {
  it('redacts quoted password literals in the usual syntaxes', () => {
    assert.equal(redacted('password = "hunter2"'), 'password = "<PASSWORD>"');
    assert.equal(redacted("DB_PASSWORD: 's3cr3t!'"), "DB_PASSWORD: '<PASSWORD>'");
    assert.equal(redacted('{"password": "pa55word"}'), '{"password": "<PASSWORD>"}');
    assert.equal(redacted('user.Password := "g0ph3r"'), 'user.Password := "<PASSWORD>"');
  });

  it('keeps empty values, templates, variables, labels and versions', () => {
    for (const text of [
      'password = ""',
      'password = "${DB_PASSWORD}"',
      'password = os.environ["DB_PASSWORD"]',
      'password: str = field()',
      '<input type="password" name="password">',
      'FlagPassword = "password"',
      '"pbkdf2-password": "1.2.1",',
      'password = "Enter your password"',
      'password = "****"',
    ]) {
      assert.deepEqual(findPii(text), [], text);
    }
  });
});

describe('findPii and redactPii', () => {
  it('returns sorted, non-overlapping spans and counts per type', () => {
    const text = [
      '# Author: Jane <jane@corp-mail.com>',
      'HOST = "93.184.216.34"',
      'password = "hunter2"',
      'token = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"',
      'password = "me@corp-mail.com"',
    ].join('\n');
    const entities = findPii(text);
    for (let i = 1; i < entities.length; i++) assert.ok(entities[i]!.start >= entities[i - 1]!.end);
    assert.deepEqual(entities.map((e) => e.type), ['EMAIL', 'IP_ADDRESS', 'PASSWORD', 'KEY', 'PASSWORD']);
    const { text: out, counts } = redactPii(text);
    assert.deepEqual(counts, { EMAIL: 1, IP_ADDRESS: 1, KEY: 1, PASSWORD: 2 });
    assert.equal(
      out,
      '# Author: Jane <<EMAIL>>\nHOST = "<IP_ADDRESS>"\npassword = "<PASSWORD>"\ntoken = "<KEY>"\npassword = "<PASSWORD>"',
    );
  });

  it('returns the text unchanged when there is nothing to redact', () => {
    const text = 'def add(a, b):\n    return a + b\n';
    assert.deepEqual(redactPii(text), { text, counts: { EMAIL: 0, IP_ADDRESS: 0, KEY: 0, PASSWORD: 0 } });
  });
});
