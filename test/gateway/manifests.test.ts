// docker-compose.yml against the Compose Specification's JSON schema (compose-go's
// compose-spec.json, the one `docker compose` validates with, checked here by ajv), and deploy/k8s/*.yaml against the
// Kubernetes API schemas (kubernetes-models' validators). `docker compose config` and
// `kubectl apply --dry-run=server` need a Docker engine and a cluster, which CI does not have.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { validateRoutes } from '../../gateway/routing.js';
import { repoRoot } from '../../lib/workdirs.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- YAML trees

/** compose-spec.json as compose-go ships it (scripts/bootstrap.sh --test leaves it in Go's module cache). */
function composeSchemaPath(): string {
  const stampFile = join(repoRoot, '.kiln/stamps/compose-go');
  const version = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : undefined;
  const cache = version ? execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim() : '';
  const path = join(cache, `github.com/compose-spec/compose-go/v2@${version}`, 'schema/compose-spec.json');
  if (!version || !existsSync(path)) throw new Error('No Compose schema: run ./scripts/bootstrap.sh --test (it downloads compose-go\'s compose-spec.json).');
  return path;
}

function composeValidator() {
  const schema = JSON.parse(readFileSync(composeSchemaPath(), 'utf8')) as Obj;
  // strict: false: the schema has vendor `x-` keys and annotations that ajv's strict mode refuses.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(schema);
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as Obj;

  it('is valid against the Compose Specification schema (and the schema catches a broken file)', () => {
    const validate = composeValidator();
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
    const broken = structuredClone(compose);
    broken.services.gateway.deploy = { resources: { reservations: { devices: [{ capabilities: 'gpu' }] } } };
    broken.services.engine.restart = 42;
    assert.equal(validate(broken), false);
  });

  it('runs the gateway and a GPU engine that the gateway waits for', () => {
    const { engine, gateway } = compose.services;
    assert.deepEqual(engine.deploy.resources.reservations.devices[0], { driver: 'nvidia', count: 1, capabilities: ['gpu'] });
    assert.match(JSON.stringify(engine.healthcheck.test), /\/health/);
    assert.equal(gateway.depends_on.engine.condition, 'service_healthy');
    assert.ok(gateway.command.includes('gateway'));
    assert.equal(gateway.environment.KILN_GATEWAY_KEYS_FILE, '/run/secrets/gateway_keys');
    assert.match(gateway.environment.KILN_GATEWAY_ADMIN_KEY, /^\$\{KILN_GATEWAY_ADMIN_KEY:\?/, 'the admin key comes from the environment, never the file');
    const routes = validateRoutes(JSON.parse(compose.configs.gateway_routes.content.replace(/\$\{KILN_MODEL_VERSION:-v1\}/g, 'v1')));
    assert.equal(routes[0]!.url, 'http://engine:8000');
    assert.equal(routes[0]!.fimPrompt, true, 'vLLM takes no suffix');
  });
});

describe('deploy/k8s', () => {
  const dir = join(repoRoot, 'deploy/k8s');
  const docs: Obj[] = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Obj));
  const byKind = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
  const MODELS: Record<string, new (o: Obj) => { validate(): void }> = {
    'apps/v1 Deployment': Deployment as never,
    'v1 Service': Service as never,
    'v1 ConfigMap': ConfigMap as never,
  };

  it('every manifest is valid against its Kubernetes schema (and the validator catches a broken one)', () => {
    assert.ok(docs.length >= 5);
    for (const d of docs) {
      const Model = MODELS[`${d.apiVersion} ${d.kind}`];
      assert.ok(Model, `no schema for ${d.apiVersion} ${d.kind}`);
      new Model(d).validate();
    }
    const broken = structuredClone(byKind('Deployment', 'kiln-engine-v1'));
    broken.spec.template.spec.containers[0].readinessProbe.httpGet.port = { name: 'http' };
    assert.throws(() => new Deployment(broken).validate(), /readinessProbe/);
  });

  it('the engine asks for a GPU, is ready on /health, rolls one pod at a time, and has a Service', () => {
    const engine = byKind('Deployment', 'kiln-engine-v1');
    const c = engine.spec.template.spec.containers[0];
    assert.equal(c.resources.limits['nvidia.com/gpu'], 1);
    assert.equal(c.readinessProbe.httpGet.path, '/health');
    assert.equal(engine.spec.strategy.type, 'RollingUpdate');
    const svc = byKind('Service', 'kiln-engine-v1');
    assert.deepEqual(svc.spec.selector, engine.spec.selector.matchLabels);
  });

  it('the gateway takes its keys from the Secret, routes to the engine Service, and rolls without downtime', () => {
    const gw = byKind('Deployment', 'kiln-gateway');
    const c = gw.spec.template.spec.containers[0];
    assert.deepEqual(c.env.find((e: Obj) => e.name === 'KILN_GATEWAY_ADMIN_KEY').valueFrom.secretKeyRef, { name: 'kiln-gateway', key: 'admin-key' });
    assert.equal(gw.spec.template.spec.volumes.find((v: Obj) => v.name === 'keys').secret.secretName, 'kiln-gateway');
    assert.equal(c.readinessProbe.httpGet.path, '/health');
    assert.deepEqual(gw.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    const routes = validateRoutes(JSON.parse(byKind('ConfigMap', 'kiln-gateway-routes').data['routes.json']));
    const engineSvc = byKind('Service', 'kiln-engine-v1');
    assert.equal(routes[0]!.url, `http://${engineSvc.metadata.name}:${engineSvc.spec.ports[0].port}`);
    assert.deepEqual(byKind('Service', 'kiln-gateway').spec.selector, gw.spec.selector.matchLabels);
  });
});
