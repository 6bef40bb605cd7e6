/**
 * Checks the Kubernetes manifests without a cluster: every document parses, validates against the
 * Kubernetes OpenAPI schemas (kubernetes-models), and the pieces fit together — probes on every
 * container, PDB and Service selectors that match a Deployment's pod labels, HPAs that target
 * existing Deployments, secret and config keys that exist, one image for every process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job, type IJob } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import {
  HorizontalPodAutoscaler,
  type IHorizontalPodAutoscaler,
} from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { EndpointSlice } from 'kubernetes-models/discovery.k8s.io/v1/EndpointSlice';
import type { IIoK8sApiCoreV1PodSpec as PodSpec } from 'kubernetes-models/v1/PodSpec';

const K8S_DIR = import.meta.dirname;
const SECRET_TEMPLATE = 'secret.template.yaml';

interface Manifest {
  file: string;
  doc: { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } };
}

/** apiVersion/kind → the schema-validating model class. A kind not listed here fails the test. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'discovery.k8s.io/v1/EndpointSlice': EndpointSlice,
};

function loadManifests(file: string): Manifest[] {
  const text = readFileSync(join(K8S_DIR, file), 'utf8');
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  const out: Manifest[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    if (d.warnings.length > 0) throw new Error(`${file}: ${d.warnings.map((e) => e.message).join('; ')}`);
    const doc: unknown = d.toJS();
    if (doc === null || doc === undefined) continue; // an empty document between `---`
    out.push({ file, doc: doc as Manifest['doc'] });
  }
  return out;
}

const yamlFiles = readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml')).sort();
const kustomization = loadManifests('kustomization.yaml')[0]?.doc as unknown as {
  resources: string[];
  images: { name: string; newName: string; newTag: string }[];
  namespace: string;
};
const resources = kustomization.resources.flatMap(loadManifests);
const secretTemplate = loadManifests(SECRET_TEMPLATE).map((m) => m.doc as unknown as ISecret);
const all = [...resources, ...secretTemplate.map((doc) => ({ file: SECRET_TEMPLATE, doc: doc as unknown as Manifest['doc'] }))];

const ofKind = <T>(kind: string): T[] => resources.filter((m) => m.doc.kind === kind).map((m) => m.doc as unknown as T);
const deployments = ofKind<IDeployment>('Deployment');
const jobs = ofKind<IJob>('Job');
const pdbs = ofKind<IPodDisruptionBudget>('PodDisruptionBudget');
const hpas = ofKind<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
const services = ofKind<IService>('Service');
const configMaps = ofKind<IConfigMap>('ConfigMap');
const ingresses = ofKind<IIngress>('Ingress');

/** True when every selector label is on the pod template (what the API server matches). */
function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

const podLabels = (d: IDeployment): Record<string, string> => d.spec?.template.metadata?.labels ?? {};
const podSpecs = (): { owner: string; spec: PodSpec }[] => [
  ...deployments.map((d) => ({ owner: `Deployment/${d.metadata?.name}`, spec: d.spec!.template.spec! })),
  ...jobs.map((j) => ({ owner: `Job/${j.metadata?.name}`, spec: j.spec!.template.spec! })),
];

describe('infra/k8s manifests', () => {
  it('lists every manifest file in the kustomization, except the secret template', () => {
    const listed = new Set(kustomization.resources);
    expect(listed.has(SECRET_TEMPLATE)).toBe(false);
    const expected = yamlFiles.filter((f) => f !== 'kustomization.yaml' && f !== SECRET_TEMPLATE);
    expect([...listed].sort()).toEqual(expected);
    expect(kustomization.namespace).toBe('ridetally');
  });

  it('validates every document against the Kubernetes schemas', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const { file, doc } of all) {
      const key = `${doc.apiVersion}/${doc.kind}`;
      const Model = MODELS[key];
      expect(Model, `${file}: unexpected ${key}`).toBeDefined();
      expect(doc.metadata?.name, `${file}: ${key} without a name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(() => new Model!(doc as never).validate(), `${file}: ${key} ${doc.metadata.name}`).not.toThrow();
    }
  });

  it('has no duplicate kind/name pairs', () => {
    const keys = resources.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('deploys every service of the workspace with the one image and the right command', () => {
    const byName = new Map(deployments.map((d) => [d.metadata!.name!, d]));
    expect([...byName.keys()].sort()).toEqual(['aggregator', 'reward', 'rider-app', 'tap-ingest']);
    const image = kustomization.images[0]!;
    expect(kustomization.images).toHaveLength(1);
    for (const { owner, spec } of podSpecs()) {
      for (const c of spec.containers) {
        expect(c.image, owner).toBe(image.name);
        // The entrypoint's first argument picks the process (infra/docker-entrypoint.sh).
        const expected = owner.startsWith('Job/') ? 'migrate' : owner.slice('Deployment/'.length);
        expect(c.args?.[0], owner).toBe(expected);
      }
    }
    const entrypoint = readFileSync(join(K8S_DIR, '..', 'docker-entrypoint.sh'), 'utf8');
    for (const name of byName.keys()) expect(entrypoint, `entrypoint knows ${name}`).toContain(name);
  });

  it('gives every Deployment container liveness (/healthz), readiness (/readyz), resources and a hardened context', () => {
    for (const d of deployments) {
      const spec = d.spec!;
      expect(selects(spec.selector.matchLabels, podLabels(d)), `${d.metadata?.name} selector`).toBe(true);
      for (const c of spec.template.spec!.containers) {
        const where = `${d.metadata?.name}/${c.name}`;
        const portNames = new Set((c.ports ?? []).map((p) => p.name));
        expect(c.livenessProbe?.httpGet?.path, where).toBe('/healthz');
        // HTTP services: ready when their database and Redis answer. The worker has no Service and
        // no /readyz; its readiness only gates rollouts.
        const worker = d.spec?.template.metadata?.labels?.['app.kubernetes.io/component'] === 'worker';
        expect(c.readinessProbe?.httpGet?.path, where).toBe(worker ? '/healthz' : '/readyz');
        for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
          const port = probe?.httpGet?.port;
          if (typeof port === 'string') expect(portNames.has(port), `${where} probe port ${port}`).toBe(true);
        }
        expect(c.resources?.requests?.cpu, where).toBeDefined();
        expect(c.resources?.requests?.memory, where).toBeDefined();
        expect(c.resources?.limits?.memory, where).toBeDefined();
        expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(c.securityContext?.capabilities?.drop, where).toContain('ALL');
      }
      expect(spec.template.spec!.securityContext?.runAsNonRoot, d.metadata?.name).toBe(true);
    }
  });

  it('sizes the heap below the memory limit', () => {
    for (const { owner, spec } of podSpecs()) {
      for (const c of spec.containers) {
        const opts = c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
        if (!opts) continue;
        const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(opts)?.[1]);
        const limit = String(c.resources?.limits?.memory);
        const limitMiB = limit.endsWith('Gi') ? Number(limit.slice(0, -2)) * 1024 : Number(limit.replace(/Mi$/, ''));
        expect(heapMiB, owner).toBeGreaterThan(0);
        expect(heapMiB, owner).toBeLessThanOrEqual(limitMiB * 0.8);
      }
    }
  });

  it('covers every Deployment with exactly one PodDisruptionBudget whose selector matches its pods', () => {
    for (const pdb of pdbs) {
      const matched = deployments.filter((d) => selects(pdb.spec?.selector?.matchLabels, podLabels(d)));
      expect(matched.map((d) => d.metadata?.name), `PDB ${pdb.metadata?.name}`).toHaveLength(1);
      expect(
        (pdb.spec?.minAvailable === undefined) !== (pdb.spec?.maxUnavailable === undefined),
        `PDB ${pdb.metadata?.name}: exactly one of minAvailable/maxUnavailable`,
      ).toBe(true);
    }
    for (const d of deployments) {
      const covering = pdbs.filter((p) => selects(p.spec?.selector?.matchLabels, podLabels(d)));
      expect(covering, `Deployment ${d.metadata?.name}`).toHaveLength(1);
      // A PDB that demands every replica blocks node drains forever.
      const minAvailable = covering[0]!.spec?.minAvailable;
      const hpa = hpas.find((h) => h.spec?.scaleTargetRef.name === d.metadata?.name);
      const replicas = d.spec?.replicas ?? hpa?.spec?.minReplicas ?? 1;
      if (typeof minAvailable === 'number') expect(minAvailable, d.metadata?.name).toBeLessThan(replicas);
    }
  });

  it('autoscales tap-ingest and aggregator on CPU, targeting existing Deployments that do not pin replicas', () => {
    expect(hpas.map((h) => h.spec?.scaleTargetRef.name).sort()).toEqual(['aggregator', 'tap-ingest']);
    for (const h of hpas) {
      const ref = h.spec!.scaleTargetRef;
      const target = deployments.find((d) => d.metadata?.name === ref.name);
      expect(target, `HPA ${h.metadata?.name} → ${ref.kind}/${ref.name}`).toBeDefined();
      expect(ref.kind).toBe('Deployment');
      expect(ref.apiVersion).toBe('apps/v1');
      // An applied spec.replicas would fight the HPA on every deploy.
      expect(target!.spec?.replicas, `${ref.name} pins replicas`).toBeUndefined();
      expect(h.spec!.minReplicas).toBeGreaterThanOrEqual(2);
      expect(h.spec!.maxReplicas).toBeGreaterThan(h.spec!.minReplicas!);
      const cpu = h.spec!.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
      expect(cpu?.resource?.target.averageUtilization, `HPA ${h.metadata?.name} cpu`).toBeGreaterThan(0);
      // Utilization is a share of the request: without one the HPA cannot compute it.
      for (const c of target!.spec!.template.spec!.containers) expect(c.resources?.requests?.cpu).toBeDefined();
    }
  });

  it('routes every Service with a selector to one Deployment and a named container port', () => {
    for (const s of services) {
      const name = s.metadata?.name;
      if (s.spec?.type === 'ExternalName' || !s.spec?.selector) continue;
      const matched = deployments.filter((d) => selects(s.spec?.selector, podLabels(d)));
      expect(matched.map((d) => d.metadata?.name), `Service ${name}`).toHaveLength(1);
      const ports = new Set(matched[0]!.spec!.template.spec!.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)));
      for (const p of s.spec.ports ?? []) expect(ports.has(String(p.targetPort)), `Service ${name} → ${p.targetPort}`).toBe(true);
    }
    // Postgres and Redis are outside the cluster, reached by stable names.
    const external = services.filter((s) => s.spec?.type === 'ExternalName' || !s.spec?.selector).map((s) => s.metadata?.name);
    expect(external.sort()).toEqual(['postgres', 'redis']);
    const slice = resources.find((m) => m.doc.kind === 'EndpointSlice');
    expect(slice?.doc.metadata.labels?.['kubernetes.io/service-name']).toBe('redis');
  });

  it('points every Ingress backend at an existing Service port', () => {
    for (const ing of ingresses) {
      for (const rule of ing.spec?.rules ?? []) {
        for (const p of rule.http?.paths ?? []) {
          const svc = services.find((s) => s.metadata?.name === p.backend.service?.name);
          expect(svc, `${rule.host}${p.path}`).toBeDefined();
          const portNames = (svc!.spec?.ports ?? []).map((sp) => sp.name);
          expect(portNames, `${rule.host}${p.path}`).toContain(p.backend.service?.port?.name);
        }
      }
    }
  });

  it('reads only secret keys the template declares and config maps that exist', () => {
    const template = secretTemplate[0]!;
    const secretKeys = new Set(Object.keys(template.stringData ?? {}));
    expect([...secretKeys].sort()).toEqual(['DATABASE_URL', 'REDIS_URL', 'RIDETALLY_MASTER_KEY', 'RIDETALLY_MASTER_KEY_PREVIOUS']);
    for (const v of Object.values(template.stringData ?? {})) {
      // A template, never a secret: placeholders or empty only.
      expect(v === '' || v.includes('REPLACE_ME')).toBe(true);
    }
    const configNames = new Set(configMaps.map((c) => c.metadata?.name));
    for (const { owner, spec } of podSpecs()) {
      for (const c of spec.containers) {
        const names = new Set<string>();
        for (const e of c.env ?? []) {
          names.add(e.name);
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          expect(ref.name, owner).toBe(template.metadata?.name);
          expect(secretKeys.has(ref.key), `${owner} reads ${ref.key}`).toBe(true);
        }
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef) expect(configNames.has(from.configMapRef.name), owner).toBe(true);
        }
        expect(names.has('DATABASE_URL'), `${owner} DATABASE_URL`).toBe(true);
        expect(names.has('RIDETALLY_MASTER_KEY'), `${owner} RIDETALLY_MASTER_KEY`).toBe(true);
        if (!owner.startsWith('Job/')) expect(names.has('REDIS_URL'), `${owner} REDIS_URL`).toBe(true);
      }
    }
  });

  it('runs the migration as a Job that does not restart forever', () => {
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.spec!.template.spec?.restartPolicy).toBe('Never');
    expect(job.spec!.backoffLimit).toBeLessThanOrEqual(5);
    expect(job.spec!.activeDeadlineSeconds).toBeGreaterThan(0);
  });
});
