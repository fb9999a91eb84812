// What the deploy tests share: the Compose file and its schema, a kustomize renderer for the
// subset of kustomize that deploy/ uses, and the Kubernetes schema validators. Neither
// `docker compose config` nor `kubectl kustomize` runs here (no Docker engine, no kubectl in CI),
// so the renderer refuses any kustomization field it does not implement rather than skip it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from '../../lib/workdirs.js';

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- YAML trees

export const deployDir = join(repoRoot, 'deploy');

export function loadCompose(): Obj {
  return parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as Obj;
}

/** compose-spec.json as compose-go ships it (scripts/bootstrap.sh --test leaves it in Go's module cache). */
function composeSchemaPath(): string {
  const stampFile = join(repoRoot, '.kiln/stamps/compose-go');
  const version = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : undefined;
  const cache = version ? execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim() : '';
  const path = join(cache, `github.com/compose-spec/compose-go/v2@${version}`, 'schema/compose-spec.json');
  if (!version || !existsSync(path)) throw new Error('No Compose schema: run ./scripts/bootstrap.sh --test (it downloads compose-go\'s compose-spec.json).');
  return path;
}

export function composeValidator() {
  const schema = JSON.parse(readFileSync(composeSchemaPath(), 'utf8')) as Obj;
  // strict: false: the schema has vendor `x-` keys and annotations that ajv's strict mode refuses.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(schema);
}

/** The Kubernetes API schema of every kind deploy/ uses (kubernetes-models checks types and required fields). */
const MODELS: Record<string, new (o: Obj) => { validate(): void }> = {
  'v1 Namespace': Namespace as never,
  'v1 ConfigMap': ConfigMap as never,
  'v1 Secret': Secret as never,
  'v1 Service': Service as never,
  'v1 ServiceAccount': ServiceAccount as never,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim as never,
  'apps/v1 Deployment': Deployment as never,
  'apps/v1 StatefulSet': StatefulSet as never,
  'apps/v1 DaemonSet': DaemonSet as never,
  'batch/v1 Job': Job as never,
  'rbac.authorization.k8s.io/v1 Role': Role as never,
  'rbac.authorization.k8s.io/v1 RoleBinding': RoleBinding as never,
};

/** Throws with the object's name when it breaks its kind's schema, or when the kind is unknown here. */
export function validateK8s(doc: Obj): void {
  const Model = MODELS[`${doc.apiVersion} ${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind} (${doc.metadata?.name})`);
  try {
    new Model(doc).validate();
  } catch (err) {
    throw new Error(`${doc.kind} ${doc.metadata?.name}: ${(err as Error).message}`, { cause: err });
  }
}

export function yamlDocs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${relative(repoRoot, file)}: ${d.errors[0]!.message}`);
    return d.toJS() as Obj;
  }).filter((d) => d !== null);
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass']);
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'generatorOptions', 'configMapGenerator']);

/** `kubectl kustomize <dir>` for the fields deploy/ uses: resources (files, folders), namespace, configMapGenerator. */
export function renderKustomization(dir: string): Obj[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  const unknown = Object.keys(k).filter((f) => !KUSTOMIZATION_FIELDS.has(f));
  if (unknown.length) throw new Error(`${relative(repoRoot, dir)}/kustomization.yaml: this renderer does not implement ${unknown.join(', ')}`);
  const within = (p: string) => {
    const full = join(dir, p);
    if (relative(dir, full).startsWith('..')) throw new Error(`${p}: kustomize reads nothing outside its root ${relative(repoRoot, dir)}/`);
    if (!existsSync(full)) throw new Error(`${relative(repoRoot, dir)}/kustomization.yaml names ${p}, which does not exist`);
    return full;
  };
  const docs: Obj[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const full = within(r);
    docs.push(...(statSync(full).isDirectory() ? renderKustomization(full) : yamlDocs(full)));
  }
  const opts = (k.generatorOptions ?? {}) as Obj;
  if (!opts.disableNameSuffixHash && k.configMapGenerator) throw new Error('name hashes are not implemented here: keep generatorOptions.disableNameSuffixHash');
  for (const g of (k.configMapGenerator ?? []) as Obj[]) {
    const data: Record<string, string> = {};
    for (const entry of g.files as string[]) {
      const [key, path] = entry.includes('=') ? entry.split('=', 2) as [string, string] : [basename(entry), entry];
      data[key] = readFileSync(within(path), 'utf8');
    }
    docs.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, labels: { ...opts.labels } }, data });
  }
  for (const d of docs) {
    if (k.namespace && !CLUSTER_SCOPED.has(d.kind)) d.metadata.namespace = k.namespace;
  }
  const seen = new Set<string>();
  for (const d of docs) {
    const id = `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;
    if (seen.has(id)) throw new Error(`${relative(repoRoot, dir)}: ${id} is declared twice (kustomize refuses that)`);
    seen.add(id);
  }
  return docs;
}

/** The pod spec of a workload (Deployment, StatefulSet, DaemonSet, Job), else undefined. */
export const podSpec = (d: Obj): Obj | undefined => d.spec?.template?.spec;

/** Every container of a pod spec, init containers included. */
export const containersOf = (spec: Obj): Obj[] => [...(spec.initContainers ?? []), ...spec.containers];
