// docker-compose.yml as a whole (the gateway and engine parts: test/gateway/manifests.test.ts):
// the Compose Specification's schema, Temporal's set-up order, the workers' metrics and logs,
// Prometheus finding every worker replica, Grafana's provisioning and the dashboard's metric
// names. Files only: there is no Docker engine in CI.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../../lib/workdirs.js';
import { composeValidator, loadCompose, type Obj } from './manifests.js';
import { KILN_METRICS, metricFamily, metricsInPromQL } from './metricNames.js';

const compose = loadCompose();
const services = compose.services as Record<string, Obj>;
const prometheus = parse(readFileSync(join(repoRoot, 'deploy/prometheus/prometheus.yml'), 'utf8')) as Obj;
const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy/grafana/dashboards/kiln.json'), 'utf8')) as Obj;
const bootstrap = readFileSync(join(repoRoot, 'scripts/bootstrap.sh'), 'utf8');

/** The services that run a kiln worker entry point (workers/<name>.ts). */
const workerServices = Object.entries(services).filter(([, s]) => /workers\/\w+Worker\.ts/.test([s.command].flat().join(' ')));
/** A bind mount's host side and container side, for `./host:/container[:ro]`. */
const binds = (s: Obj) => ((s.volumes ?? []) as string[]).filter((v) => v.startsWith('./')).map((v) => ({ host: v.split(':')[0]!, target: v.split(':')[1]! }));
const pinned = (name: string) => new RegExp(`^${name}=v?([0-9.]+)`, 'm').exec(bootstrap)?.[1];

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema (and the schema catches a broken file)', () => {
    const validate = composeValidator();
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
    const broken = structuredClone(compose);
    broken.services['temporal-schema'].depends_on.postgresql.condition = 'service_finished';
    broken.services.prometheus.comand = broken.services.prometheus.command; // a typo: the schema allows no unknown keys
    assert.equal(validate(broken), false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath).join(' ');
    assert.match(paths, /temporal-schema\/depends_on/);
    assert.match(JSON.stringify(validate.errors), /"unevaluatedProperty":"comand"/);
  });

  it('sets up Temporal as the tests run it: the schema one-shot, then the server, then the namespace, at the pinned versions', () => {
    const { 'temporal-schema': schema, temporal, 'temporal-namespace': namespace, 'temporal-ui': ui } = services;
    const server = pinned('TEMPORAL_SERVER_VERSION');
    assert.ok(server && pinned('TEMPORAL_UI_VERSION'), 'scripts/bootstrap.sh pins the server and the UI');
    assert.equal(temporal!.image, `temporalio/server:${server}`);
    assert.equal(schema!.image, `temporalio/admin-tools:${server}`, 'temporal-sql-tool must carry the server\'s own schemas');
    assert.equal(namespace!.image, schema!.image);
    assert.equal(ui!.image, `temporalio/ui:${pinned('TEMPORAL_UI_VERSION')}`);
    assert.equal(schema!.depends_on.postgresql.condition, 'service_healthy');
    assert.equal(temporal!.depends_on['temporal-schema'].condition, 'service_completed_successfully');
    assert.equal(namespace!.depends_on.temporal.condition, 'service_healthy');
    for (const s of [schema!, namespace!]) {
      // The one-shot runs a script of deploy/temporal/, mounted read-only.
      const script = s.entrypoint.at(-1) as string;
      const mount = binds(s).find((b) => script.startsWith(b.target + '/'))!;
      assert.ok(mount, `${script} is not on a bind mount`);
      assert.ok(existsSync(join(repoRoot, mount.host, script.slice(mount.target.length))), `${script} does not exist in ${mount.host}`);
    }
    // The server's dynamic config file is the one deploy/temporal/dynamicconfig holds.
    const dc = binds(temporal!).find((b) => temporal!.environment.DYNAMIC_CONFIG_FILE_PATH.startsWith(b.target))!;
    assert.ok(existsSync(join(repoRoot, dc.host, temporal!.environment.DYNAMIC_CONFIG_FILE_PATH.slice(dc.target.length))));
    assert.equal(schema!.environment.SQL_PASSWORD, temporal!.environment.POSTGRES_PWD);
  });

  it('runs every worker entry point with metrics on KILN_METRICS_PORT and JSON logs, after the namespace exists', () => {
    const entryPoints = readdirSync(join(repoRoot, 'workers')).filter((f) => /Worker\.ts$/.test(f));
    assert.deepEqual(workerServices.map(([, s]) => [s.command].flat().join(' ').match(/workers\/(\w+\.ts)/)![1]).sort(), entryPoints.sort());
    for (const [name, s] of workerServices) {
      assert.equal(String(s.environment.KILN_METRICS_PORT), '9464', name);
      assert.equal(s.environment.KILN_LOG_FORMAT, 'json', name);
      assert.ok(s.expose.map(String).includes('9464'), `${name} exposes its metrics port`);
      assert.equal(s.ports, undefined, `${name}: a host port would clash between scaled replicas`);
      assert.equal(s.depends_on['temporal-namespace'].condition, 'service_completed_successfully', name);
    }
    // Each GPU worker gives its own address to its gang (the service name would resolve to any replica).
    assert.match([services['gpu-worker']!.command].flat().join(' '), /KILN_NODE_ADDR=\$\$\(hostname -i\) exec node/);
    assert.equal(services['gpu-worker']!.environment.KILN_NODE_ADDR, undefined);
  });

  it('serves the codec server to the UI only when asked, on the host\'s loopback, for the UI\'s origin', () => {
    const { 'codec-server': codec, 'temporal-ui': ui } = services;
    const args = [codec!.command].flat() as string[];
    const arg = (flag: string) => args[args.indexOf(flag) + 1];
    assert.ok(args.includes('codec-server'), 'runs `kiln codec-server`');
    assert.ok(existsSync(join(repoRoot, 'cli/commands/codec-server.ts')));
    assert.deepEqual(codec!.profiles, ['codec'], 'off unless `--profile codec`: without keys it has nothing to decrypt');
    assert.equal(codec!.environment.KILN_CODEC_KEYS, services['data-worker']!.environment.KILN_CODEC_KEYS, 'the workers\' keys');
    // Published on 127.0.0.1 only, at the port it listens on.
    assert.deepEqual(codec!.ports, [`127.0.0.1:${arg('--port')}:${arg('--port')}`]);
    // The browser that calls it has the UI's published origin.
    assert.equal(arg('--origin'), `http://localhost:${(ui!.ports[0] as string).split(':')[0]}`);
    assert.match(ui!.environment.TEMPORAL_CODEC_ENDPOINT, /^\$\{KILN_UI_CODEC_ENDPOINT:-\}$/);
  });

  it('deploy/compose.env.example lists every variable the file reads, with placeholders for the secrets', () => {
    const text = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
    const read = new Set([...text.matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]!));
    const example = Object.fromEntries(readFileSync(join(repoRoot, 'deploy/compose.env.example'), 'utf8').split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=', 2) as [string, string]));
    assert.deepEqual(Object.keys(example).sort(), [...read].sort());
    for (const [name, value] of Object.entries(example)) {
      if (/PASSWORD|_KEY$|_USER$/.test(name)) assert.match(value, /^CHANGE-ME-[a-z-]+$/, `${name} must be an obvious placeholder`);
    }
  });

  it('writes no secret into the file: every credential comes from the environment', () => {
    const secretish = /PASSWORD|SECRET|TOKEN|_KEY$|_KEYS$|ACCESS_KEY/;
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries((s.environment ?? {}) as Obj)) {
        if (secretish.test(key)) assert.match(String(value), /^\$\{[A-Z_]+(:?[?-][^}]*)?\}$/, `${name}.${key} must be \${VAR}`);
      }
    }
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  const jobs = prometheus.scrape_configs as Obj[];

  it('scrapes every replica of every worker service on its KILN_METRICS_PORT, by DNS', () => {
    assert.equal(new Set(jobs.map((j) => j.job_name)).size, jobs.length, 'job names are unique');
    for (const [name, s] of workerServices) {
      const job = jobs.find((j) => j.dns_sd_configs?.some((d: Obj) => d.names.includes(name)));
      assert.ok(job, `no job discovers ${name}`);
      const sd = job.dns_sd_configs.find((d: Obj) => d.names.includes(name));
      assert.equal(sd.type, 'A');
      assert.equal(String(sd.port), String(s.environment.KILN_METRICS_PORT));
    }
  });

  it('scrapes the Temporal server on its PROMETHEUS_ENDPOINT, the gateway, the engine and MinIO; every target is a service', () => {
    const targets = jobs.flatMap((j) => (j.static_configs ?? []).flatMap((c: Obj) => c.targets as string[]));
    for (const t of targets.filter((t) => !t.startsWith('localhost:'))) assert.ok(services[t.split(':')[0]!], `${t} is not a compose service`);
    assert.ok(targets.includes(`temporal:${services.temporal!.environment.PROMETHEUS_ENDPOINT.split(':')[1]}`));
    assert.ok(targets.includes('gateway:8400'));
    assert.ok(targets.includes('engine:8000'));
    assert.equal(jobs.find((j) => j.job_name === 'minio')!.metrics_path, '/minio/v2/metrics/cluster');
    assert.equal(services.minio!.environment.MINIO_PROMETHEUS_AUTH_TYPE, 'public');
    const mount = binds(services.prometheus!).find((b) => b.host === './deploy/prometheus/prometheus.yml');
    assert.ok(services.prometheus!.command.includes(`--config.file=${mount!.target}`));
  });
});

describe('Grafana: provisioning and the kiln dashboard', () => {
  const grafana = services.grafana!;
  const read = (p: string) => parse(readFileSync(join(repoRoot, p), 'utf8')) as Obj;
  const datasource = read('deploy/grafana/provisioning/datasources/prometheus.yml').datasources[0];
  const provider = read('deploy/grafana/provisioning/dashboards/kiln.yml').providers[0];
  const panels = (dashboard.panels as Obj[]).filter((p) => p.type !== 'row');

  it('provisions Prometheus and the dashboards folder that compose mounts', () => {
    assert.equal(datasource.type, 'prometheus');
    assert.equal(datasource.url, `http://prometheus:${services.prometheus!.ports[0].split(':')[1]}`);
    const mounts = binds(grafana);
    assert.ok(mounts.some((b) => b.host === './deploy/grafana/provisioning' && b.target === '/etc/grafana/provisioning'));
    assert.equal(mounts.find((b) => b.host === './deploy/grafana/dashboards')!.target, provider.options.path);
    assert.equal(grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, `${provider.options.path}/kiln.json`);
    assert.match(grafana.environment.GF_SECURITY_ADMIN_PASSWORD, /^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  });

  it('every panel queries the provisioned Prometheus, and the layout has no overlapping panels', () => {
    assert.ok(panels.length >= 20);
    assert.equal(new Set((dashboard.panels as Obj[]).map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
    for (const p of panels) {
      assert.equal(p.datasource.uid, datasource.uid, p.title);
      assert.ok(p.targets.length > 0 && p.targets.every((t: Obj) => t.datasource.uid === datasource.uid && t.expr), p.title);
    }
    const boxes = (dashboard.panels as Obj[]).map((p) => ({ title: p.title, ...p.gridPos }) as Obj);
    for (const [i, a] of boxes.entries()) {
      assert.ok(a.x >= 0 && a.x + a.w <= 24, `${a.title} fits the 24 columns`);
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!overlap, `${a.title} overlaps ${b.title}`);
      }
    }
  });

  it('queries only metrics that kiln, the Temporal SDK and server, or Prometheus serve, and shows every kiln metric', () => {
    const used = new Set<string>();
    for (const p of panels) {
      for (const t of p.targets as Obj[]) {
        const names = metricsInPromQL(t.expr);
        assert.ok(names.length > 0, `${p.title}: no metric in ${t.expr}`);
        for (const n of names) {
          const family = metricFamily(n);
          assert.ok(family, `${p.title}: unknown metric ${n} in ${t.expr}`);
          used.add(family);
        }
      }
    }
    assert.deepEqual(Object.keys(KILN_METRICS).filter((m) => !used.has(m)), [], 'kiln metrics without a panel');
    for (const m of ['temporal_activity_execution_latency', 'temporal_workflow_task_execution_latency', 'temporal_num_pollers']) assert.ok(used.has(m), m);
    // The reader itself: a misspelt name is caught, labels, strings and windows are not metrics.
    assert.deepEqual(metricsInPromQL('histogram_quantile(0.95, sum by (le, stage) (rate(kiln_stage_duration_secs_bucket{run=~"$run"}[$__rate_interval])))'), ['kiln_stage_duration_secs_bucket']);
    assert.equal(metricFamily('kiln_stage_duration_secs_bucket'), undefined);
    assert.equal(metricFamily('kiln_training_loss_bucket'), undefined, 'a gauge has no buckets');
  });

  it('the run variable lists the runs that report training progress', () => {
    const run = (dashboard.templating.list as Obj[]).find((v) => v.name === 'run')!;
    assert.equal(run.datasource.uid, datasource.uid);
    assert.deepEqual(metricsInPromQL(run.query.query.replace(/^label_values\((\w+),.*$/, '$1')), ['kiln_training_step']);
    assert.ok(panels.filter((p) => p.targets.some((t: Obj) => t.expr.includes('$run'))).length >= 5);
  });
});
