// The serving parts of docker-compose.yml (the gateway and the vLLM engine) and of deploy/k8s.
// The files as a whole (the Compose schema, the rendered kustomizations against the Kubernetes API
// schemas, Temporal, workers, Prometheus, Grafana) are checked by test/deploy/.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { validateRoutes } from '../../gateway/routing.js';
import { deployDir, loadCompose, renderKustomization, validateK8s, type Obj } from '../deploy/manifests.js';

describe('docker-compose.yml', () => {
  const compose = loadCompose();

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
  const docs = renderKustomization(join(deployDir, 'k8s'));
  const byKind = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;

  it('the serving manifests are valid against their Kubernetes schemas (and the validator catches a broken one)', () => {
    for (const d of docs.filter((x) => /kiln-(gateway|engine)/.test(x.metadata.name))) validateK8s(d);
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
