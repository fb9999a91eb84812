// deploy/kustomization.yaml (the whole stack) and deploy/k8s/kustomization.yaml (kiln's own parts),
// rendered here as `kubectl kustomize` would and checked against the Kubernetes API schemas, then
// for what the schemas cannot see: GPU requests, every Secret and ConfigMap reference resolved,
// no secret value in the manifests, Services that select pods, Prometheus finding the workers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { containersOf, deployDir, loadCompose, podSpec, renderKustomization, validateK8s, yamlDocs, type Obj } from './manifests.js';

const stack = renderKustomization(deployDir);
const own = renderKustomization(join(deployDir, 'k8s'));
const secretsExample = yamlDocs(join(deployDir, 'k8s/secrets.example.yaml'));
const find = (docs: Obj[], kind: string, name: string) => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d, `${kind} ${name} is not rendered`);
  return d;
};
const workloads = (docs: Obj[]) => docs.filter((d) => podSpec(d));
const envOf = (docs: Obj[], c: Obj): Record<string, string | Obj> => {
  const env: Record<string, string | Obj> = {};
  for (const from of c.envFrom ?? []) Object.assign(env, find(docs, 'ConfigMap', from.configMapRef.name).data);
  for (const e of c.env ?? []) env[e.name] = e.value ?? e.valueFrom;
  return env;
};

describe('deploy/ kustomizations', () => {
  it('render, and every object is valid against its Kubernetes schema (the validator catches a broken one)', () => {
    assert.ok(stack.length >= 25, `${stack.length} objects`);
    for (const d of [...stack, ...secretsExample]) validateK8s(d);
    for (const d of own) assert.ok(stack.some((s) => s.kind === d.kind && s.metadata.name === d.metadata.name), `${d.kind} ${d.metadata.name} is in the whole stack too`);
    const broken = structuredClone(find(stack, 'Deployment', 'kiln-gpu-worker'));
    broken.spec.template.spec.containers[0].resources.limits = 'one GPU';
    assert.throws(() => validateK8s(broken), /kiln-gpu-worker.*resources/s);
    const job = structuredClone(find(stack, 'Job', 'temporal-namespace'));
    delete job.spec.template.spec.containers;
    assert.throws(() => validateK8s(job), /containers/);
  });

  it('puts every namespaced object in the kiln Namespace it declares', () => {
    assert.equal(find(stack, 'Namespace', 'kiln').metadata.namespace, undefined);
    for (const d of stack.filter((x) => x.kind !== 'Namespace')) assert.equal(d.metadata.namespace, 'kiln', `${d.kind} ${d.metadata.name}`);
  });

  it('the renderer refuses what it does not implement, and files outside the root, as kustomize does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-kustomize-'));
    try {
      writeFileSync(join(dir, 'kustomization.yaml'), 'resources: []\npatches: [{ path: p.yaml }]\n');
      assert.throws(() => renderKustomization(dir), /does not implement patches/);
      writeFileSync(join(dir, 'kustomization.yaml'), 'generatorOptions: { disableNameSuffixHash: true }\nconfigMapGenerator: [{ name: x, files: [../secret.txt] }]\n');
      assert.throws(() => renderKustomization(dir), /outside its root/);
      writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [missing.yaml]\n');
      assert.throws(() => renderKustomization(dir), /missing\.yaml, which does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kiln workers on Kubernetes', () => {
  const data = find(stack, 'Deployment', 'kiln-data-worker');
  const gpu = find(stack, 'Deployment', 'kiln-gpu-worker');

  it('GPU workers request and tolerate nvidia.com/gpu; data workers take none', () => {
    const c = gpu.spec.template.spec.containers[0];
    assert.ok(c.resources.limits['nvidia.com/gpu'] >= 1);
    assert.equal(c.resources.requests['nvidia.com/gpu'], c.resources.limits['nvidia.com/gpu']);
    assert.ok(gpu.spec.template.spec.tolerations.some((t: Obj) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule'));
    assert.equal(JSON.stringify(data).includes('nvidia.com/gpu'), false);
    for (const w of workloads(stack).filter((x) => JSON.stringify(podSpec(x)!.containers).includes('nvidia.com/gpu'))) {
      assert.ok(podSpec(w)!.tolerations?.some((t: Obj) => t.key === 'nvidia.com/gpu'), `${w.metadata.name} asks for a GPU and must tolerate the GPU nodes' taint`);
    }
  });

  it('each worker serves metrics on KILN_METRICS_PORT, annotated for Prometheus, logs JSON and knows its own name', () => {
    for (const w of [data, gpu]) {
      const c = w.spec.template.spec.containers[0];
      const env = envOf(stack, c);
      const port = String(env.KILN_METRICS_PORT);
      assert.equal(port, '9464', w.metadata.name);
      assert.equal(env.KILN_LOG_FORMAT, 'json');
      assert.deepEqual(env.KILN_WORKER_ID, { fieldRef: { fieldPath: 'metadata.name' } });
      assert.ok(c.ports.some((p: Obj) => String(p.containerPort) === port));
      const a = w.spec.template.metadata.annotations;
      assert.deepEqual([a['prometheus.io/scrape'], a['prometheus.io/port'], a['prometheus.io/path']], ['true', port, '/metrics']);
      assert.match(c.command.join(' '), /workers\/\w+Worker\.ts/);
    }
    assert.deepEqual(envOf(stack, gpu.spec.template.spec.containers[0]).KILN_NODE_ADDR, { fieldRef: { fieldPath: 'status.podIP' } });
    // The pod outlives the worker's own grace for the trainer's checkpoint.
    const grace = Number(envOf(stack, gpu.spec.template.spec.containers[0]).KILN_SHUTDOWN_GRACE_SECONDS);
    assert.ok(gpu.spec.template.spec.terminationGracePeriodSeconds > grace);
  });

  it('Prometheus discovers annotated pods of its namespace, with a Role that lets it list them', () => {
    const config = parse(find(stack, 'ConfigMap', 'prometheus-config').data['prometheus.yml']) as Obj;
    const job = (config.scrape_configs as Obj[]).find((j) => j.kubernetes_sd_configs)!;
    assert.equal(job.kubernetes_sd_configs[0].role, 'pod');
    assert.equal(job.kubernetes_sd_configs[0].namespaces.own_namespace, true);
    const keep = job.relabel_configs.find((r: Obj) => r.action === 'keep' && r.source_labels[0] === '__meta_kubernetes_pod_annotation_prometheus_io_scrape');
    assert.equal(keep.regex, 'true');
    assert.ok(job.relabel_configs.some((r: Obj) => r.target_label === '__address__' && r.source_labels.includes('__meta_kubernetes_pod_annotation_prometheus_io_port')));
    const prom = find(stack, 'Deployment', 'prometheus');
    const role = find(stack, 'Role', 'prometheus');
    assert.ok(role.rules.some((r: Obj) => r.resources.includes('pods') && ['list', 'watch'].every((v) => r.verbs.includes(v))));
    const binding = find(stack, 'RoleBinding', 'prometheus');
    assert.equal(binding.roleRef.name, role.metadata.name);
    assert.deepEqual(binding.subjects.map((s: Obj) => s.name), [prom.spec.template.spec.serviceAccountName]);
    // Every component that serves metrics is annotated: workers, gateway, engine, Temporal, MinIO.
    const scraped = workloads(stack).filter((w) => w.spec.template.metadata.annotations?.['prometheus.io/scrape'] === 'true').map((w) => w.metadata.name);
    assert.deepEqual(scraped.sort(), ['kiln-data-worker', 'kiln-engine-v1', 'kiln-gateway', 'kiln-gpu-worker', 'minio', 'temporal']);
  });
});

describe('Secrets, ConfigMaps and volumes', () => {
  const refs = (docs: Obj[]) => workloads(docs).flatMap((w) => {
    const spec = podSpec(w)!;
    const out: { from: string; secret?: string; key?: string; configMap?: string; claim?: string; optional?: boolean }[] = [];
    for (const c of containersOf(spec)) {
      for (const e of c.env ?? []) {
        if (e.valueFrom?.secretKeyRef) out.push({ from: `${w.metadata.name}/${e.name}`, secret: e.valueFrom.secretKeyRef.name, key: e.valueFrom.secretKeyRef.key, optional: e.valueFrom.secretKeyRef.optional });
        if (e.valueFrom?.configMapKeyRef) out.push({ from: `${w.metadata.name}/${e.name}`, configMap: e.valueFrom.configMapKeyRef.name });
      }
      for (const f of c.envFrom ?? []) out.push(f.secretRef ? { from: w.metadata.name, secret: f.secretRef.name } : { from: w.metadata.name, configMap: f.configMapRef.name });
    }
    for (const v of spec.volumes ?? []) {
      if (v.secret) for (const item of v.secret.items ?? [{}]) out.push({ from: `${w.metadata.name}/${v.name}`, secret: v.secret.secretName, key: item.key });
      if (v.configMap) out.push({ from: `${w.metadata.name}/${v.name}`, configMap: v.configMap.name });
      if (v.persistentVolumeClaim) out.push({ from: `${w.metadata.name}/${v.name}`, claim: v.persistentVolumeClaim.claimName });
    }
    return out;
  });

  it('no Secret is rendered: the manifests only refer to Secrets, each declared with its key in secrets.example.yaml', () => {
    assert.deepEqual(stack.filter((d) => d.kind === 'Secret'), []);
    const secretRefs = refs(stack).filter((r) => r.secret);
    assert.ok(secretRefs.length >= 8);
    for (const r of secretRefs) {
      const s = secretsExample.find((d) => d.kind === 'Secret' && d.metadata.name === r.secret);
      assert.ok(s, `${r.from} reads Secret ${r.secret}, which secrets.example.yaml does not declare`);
      if (r.key) assert.ok(r.key in s.stringData, `${r.from} reads key ${r.key} of ${r.secret}, which the example does not have`);
    }
    // Every example Secret is used (no stale ones to create for nothing).
    for (const s of secretsExample) assert.ok(secretRefs.some((r) => r.secret === s.metadata.name), `${s.metadata.name} is never read`);
  });

  it('the example holds only placeholders, and no manifest carries a credential in a plain value', () => {
    for (const s of secretsExample) {
      assert.equal(s.data, undefined, 'placeholders in stringData, readable');
      for (const [key, value] of Object.entries(s.stringData as Record<string, string>)) {
        for (const part of value.trim().split(/[:\n]/)) assert.match(part, /^CHANGE-ME-[a-z0-9-]+$/, `${s.metadata.name}.${key} must be an obvious placeholder`);
      }
    }
    const secretish = /PASSWORD|PWD|SECRET|TOKEN|_KEY$|_KEYS$|ACCESS_KEY/;
    for (const w of workloads([...stack])) {
      for (const c of containersOf(podSpec(w)!)) {
        for (const e of c.env ?? []) if (secretish.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef, `${w.metadata.name}: ${e.name} must come from a Secret`);
      }
    }
    for (const cm of stack.filter((d) => d.kind === 'ConfigMap')) {
      for (const key of Object.keys(cm.data)) assert.doesNotMatch(key, secretish, `ConfigMap ${cm.metadata.name} holds ${key}`);
    }
  });

  it('every ConfigMap and claim a pod uses is rendered (or comes from the StatefulSet\'s templates)', () => {
    for (const r of refs(stack)) {
      if (r.configMap) find(stack, 'ConfigMap', r.configMap);
      if (r.claim) find(stack, 'PersistentVolumeClaim', r.claim);
    }
    for (const s of stack.filter((d) => d.kind === 'StatefulSet')) {
      const templates = s.spec.volumeClaimTemplates.map((t: Obj) => t.metadata.name);
      for (const c of s.spec.template.spec.containers) for (const m of c.volumeMounts ?? []) {
        assert.ok(templates.includes(m.name) || s.spec.template.spec.volumes?.some((v: Obj) => v.name === m.name), `${s.metadata.name}: mount ${m.name}`);
      }
    }
  });

  it('the Temporal init container and Job run scripts that the generated ConfigMap holds; Grafana mounts what its provisioning names', () => {
    const setup = find(stack, 'ConfigMap', 'temporal-setup');
    for (const w of [find(stack, 'Deployment', 'temporal'), find(stack, 'Job', 'temporal-namespace')]) {
      const spec = podSpec(w)!;
      for (const c of containersOf(spec).filter((x) => x.image.startsWith('temporalio/admin-tools:'))) {
        const script = c.command.at(-1) as string;
        const mount = c.volumeMounts.find((m: Obj) => script.startsWith(m.mountPath + '/'));
        assert.equal(spec.volumes.find((v: Obj) => v.name === mount.name).configMap.name, 'temporal-setup');
        assert.ok(script.slice(mount.mountPath.length + 1) in setup.data, `${script} is not in temporal-setup`);
      }
    }
    const server = find(stack, 'Deployment', 'temporal').spec.template.spec.containers[0];
    const dc = server.env.find((e: Obj) => e.name === 'DYNAMIC_CONFIG_FILE_PATH').value as string;
    assert.ok(dc.split('/').at(-1)! in find(stack, 'ConfigMap', 'temporal-dynamicconfig').data);
    const grafana = find(stack, 'Deployment', 'grafana').spec.template.spec.containers[0];
    const provider = (parse(find(stack, 'ConfigMap', 'grafana-dashboard-providers').data['kiln.yml']) as Obj).providers[0];
    assert.equal(grafana.volumeMounts.find((m: Obj) => m.name === 'dashboards').mountPath, provider.options.path);
    assert.ok('kiln.json' in find(stack, 'ConfigMap', 'grafana-dashboards').data);
    const ds = (parse(find(stack, 'ConfigMap', 'grafana-datasources').data['prometheus.yml']) as Obj).datasources[0];
    const promSvc = find(stack, 'Service', 'prometheus');
    assert.equal(ds.url, `http://${promSvc.metadata.name}:${promSvc.spec.ports[0].port}`);
  });
});

describe('Services and images', () => {
  it('every Service selects the pods of one workload, on ports those pods name', () => {
    for (const svc of stack.filter((d) => d.kind === 'Service')) {
      const matching = workloads(stack).filter((w) => Object.entries(svc.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
      assert.equal(matching.length, 1, `Service ${svc.metadata.name} selects ${matching.length} workloads`);
      const ports = podSpec(matching[0]!)!.containers.flatMap((c: Obj) => c.ports ?? []);
      for (const p of svc.spec.ports) {
        assert.ok(ports.some((cp: Obj) => cp.name === p.targetPort || cp.containerPort === p.targetPort), `Service ${svc.metadata.name} port ${p.name}`);
      }
    }
    for (const w of workloads(stack).filter((x) => x.spec.selector)) {
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(w.spec.template.metadata.labels[k], v, `${w.metadata.name} selects its own pods`);
    }
  });

  it('the workers reach the stack by its Service names', () => {
    const env = find(stack, 'ConfigMap', 'kiln-worker-env').data;
    const [host, port] = env.TEMPORAL_ADDRESS.split(':');
    assert.equal(String(find(stack, 'Service', host).spec.ports.find((p: Obj) => p.name === 'grpc').port), port);
    const s3 = new URL(env.KILN_S3_ENDPOINT);
    assert.equal(String(find(stack, 'Service', s3.hostname).spec.ports.find((p: Obj) => p.name === 's3').port), s3.port);
    const postgres = find(stack, 'Deployment', 'temporal').spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'POSTGRES_SEEDS').value;
    find(stack, 'Service', postgres);
  });

  it('every image is pinned, and the cluster runs the same releases as docker-compose', () => {
    const composeImages = Object.values(loadCompose().services as Record<string, Obj>).map((s) => s.image).filter(Boolean) as string[];
    const images = workloads(stack).flatMap((w) => containersOf(podSpec(w)!).map((c) => c.image as string));
    for (const image of images) {
      assert.match(image, /^[\w./-]+:[\w.-]+$/, `${image} has a tag`);
      assert.doesNotMatch(image, /:latest$/);
      const repo = image.split(':')[0]!;
      const inCompose = composeImages.find((i) => i.split(':')[0] === repo);
      if (inCompose) assert.equal(image, inCompose, `${repo}: the cluster and docker-compose differ`);
    }
    for (const repo of ['temporalio/server', 'temporalio/admin-tools', 'temporalio/ui', 'postgres', 'minio/minio', 'prom/prometheus', 'grafana/grafana']) {
      assert.ok(images.some((i) => i.startsWith(repo + ':')), `${repo} runs in the cluster`);
    }
  });
});

describe('deploy/k8s/codec: the codec server, applied on its own', () => {
  const codec = renderKustomization(join(deployDir, 'k8s/codec'));
  const deployment = find(codec, 'Deployment', 'kiln-codec-server');
  const container = deployment.spec.template.spec.containers[0];
  const args = container.command as string[];

  it('renders valid objects in the kiln Namespace, outside both other kustomizations', () => {
    for (const d of codec) {
      validateK8s(d);
      assert.equal(d.metadata.namespace, 'kiln', `${d.kind} ${d.metadata.name}`);
      assert.ok(!stack.some((x) => x.kind === d.kind && x.metadata.name === d.metadata.name), 'without keys it would not start: not in deploy/');
    }
  });

  it('runs `kiln codec-server` on the workers\' image with the workers\' keys, required, and an optional token', () => {
    assert.ok(args.includes('codec-server'));
    assert.equal(args[args.indexOf('--host') + 1], '0.0.0.0', 'reached through its Service');
    const workerImage = find(stack, 'Deployment', 'kiln-data-worker').spec.template.spec.containers[0].image;
    assert.equal(container.image, workerImage);
    const env: Record<string, Obj> = Object.fromEntries((container.env as Obj[]).map((e) => [e.name, e.valueFrom.secretKeyRef]));
    const workerKeys = find(stack, 'Deployment', 'kiln-data-worker').spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'KILN_CODEC_KEYS').valueFrom.secretKeyRef;
    assert.deepEqual({ ...env.KILN_CODEC_KEYS, optional: true }, workerKeys, 'the same Secret and key as the workers');
    assert.equal(env.KILN_CODEC_KEYS.optional, undefined, 'a codec server without keys must not start');
    assert.equal(env.KILN_CODEC_SERVER_TOKEN.optional, true);
    const example = secretsExample.find((d) => d.metadata.name === 'kiln-codec')!;
    for (const ref of Object.values(env)) assert.ok(ref.key in example.stringData, `secrets.example.yaml's kiln-codec lacks ${ref.key}`);
  });

  it('is a ClusterIP Service on the port the server listens on', () => {
    const svc = find(codec, 'Service', 'kiln-codec-server');
    assert.equal(svc.spec.type, 'ClusterIP', 'whoever reaches it can decrypt');
    const port = container.ports.find((p: Obj) => p.name === svc.spec.ports[0].targetPort);
    assert.equal(String(port.containerPort), args[args.indexOf('--port') + 1]);
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(deployment.spec.template.metadata.labels[k], v);
  });
});
