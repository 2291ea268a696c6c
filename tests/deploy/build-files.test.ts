import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import {
  dockerfileViolations,
  jenkinsfileViolations,
  jenkinsStages,
  parseDockerfile,
  parseProperties,
} from './build-files.js';
import { environments, overlaysDir, repoRoot, serviceNames } from './render.js';

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const dockerfile = read('Dockerfile');
const jenkinsfile = read('Jenkinsfile');

describe('Dockerfile', () => {
  test('passes the checks that matter', () => {
    expect(dockerfileViolations(dockerfile)).toEqual([]);
  });

  test('builds generated code and Prisma clients via npm run build, and a migrate target with tools/prisma', () => {
    const { stages } = parseDockerfile(dockerfile);
    const build = stages.find((s) => s.name === 'build');
    expect(build?.instructions.map((i) => `${i.op} ${i.args}`)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^RUN .*npm ci/), 'RUN npm run build']),
    );
    const migrate = stages.find((s) => s.name === 'migrate');
    expect(migrate?.instructions.some((i) => i.op === 'COPY' && i.args.includes('tools/prisma'))).toBe(true);
    expect(migrate?.instructions.some((i) => i.op === 'ENTRYPOINT' && i.args.includes('tools/prisma/prisma.mjs'))).toBe(
      true,
    );
  });

  test.each([
    [
      'root user',
      (d: string) => d.replace(/USER 1000:1000\nEXPOSE/, 'USER root\nEXPOSE'),
      /target service: must end with a numeric non-root USER \(got root\)/,
    ],
    [
      'shell-form ENTRYPOINT',
      (d: string) =>
        d.replace(
          'ENTRYPOINT ["node", "--enable-source-maps", "--import", "@ordermesh/runtime/telemetry/register", "dist/main.js"]',
          'ENTRYPOINT node dist/main.js',
        ),
      /target service: ENTRYPOINT must be exec form/,
    ],
    [
      'unpinned base',
      (d: string) => d.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node:latest'),
      /stage base: base image node:latest is not pinned/,
    ],
    [
      'ADD of a URL',
      (d: string) => d.replace('WORKDIR /app\n', 'WORKDIR /app\nADD https://example.com/x.tgz /tmp/\n'),
      /ADD of a URL is not allowed/,
    ],
    [
      'dev dependencies in the runtime',
      (d: string) => d.replace('COPY --from=prod-tree /app/node_modules', 'COPY --from=build /app/node_modules'),
      /node_modules must come from a stage that ran/,
    ],
  ])('flags %s', (_, mutate, expected) => {
    const broken = mutate(dockerfile);
    expect(broken).not.toBe(dockerfile);
    expect(dockerfileViolations(broken).join('\n')).toMatch(expected);
  });

  test('.dockerignore keeps node_modules, build output, VCS and deploy files out of the context', () => {
    const lines = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of [
      '.git',
      '**/node_modules',
      '**/dist',
      'coverage',
      'proto/gen',
      'services/*/src/generated',
      'kustomize',
      '**/.env',
    ]) {
      expect(lines).toContain(entry);
    }
  });
});

describe('Jenkinsfile', () => {
  test('declarative pipeline on Kubernetes agents with every required step, in order', () => {
    expect(jenkinsfileViolations(jenkinsfile)).toEqual([]);
    expect(jenkinsStages(jenkinsfile).length).toBeGreaterThanOrEqual(10);
  });

  test('builds and pushes one image per service plus the migrate image', () => {
    const images = jenkinsStages(jenkinsfile).find((s) => s.name === 'Build & push images')?.body ?? '';
    expect(images).toContain('--target=service');
    expect(images).toContain('--target=migrate');
    expect(jenkinsfile).toContain(`def services = [${serviceNames.map((s) => `'${s}'`).join(', ')}]`);
  });

  test('flags a missing quality gate, a reordered smoke test and unbalanced braces', () => {
    expect(
      jenkinsfileViolations(jenkinsfile.replace('waitForQualityGate abortPipeline: true', "echo 'skipped'")),
    ).toEqual(['no stage runs quality gate']);
    const stages = jenkinsStages(jenkinsfile);
    const smoke = stages.find((s) => s.name.startsWith('k6'))?.body ?? '';
    const swapped = jenkinsfile
      .replace(smoke, "\n      steps { sh 'true' }\n    ")
      .replace("sh 'npm ci'", `sh 'npm ci'\n        sh 'k6 run smoke.js'`);
    expect(jenkinsfileViolations(swapped)).toEqual(['k6 smoke gate (stage "Install") runs too early']);
    expect(jenkinsfileViolations(jenkinsfile.replace('stages {', 'stages {{'))).toEqual([
      expect.stringMatching(/unbalanced/),
    ]);
  });
});

describe('sonar-project.properties', () => {
  const props = parseProperties(read('sonar-project.properties'));
  test("analyses every service's src and tests, reads coverage/lcov.info", () => {
    const sources = props['sonar.sources']?.split(',') ?? [];
    for (const svc of serviceNames) expect(sources).toContain(`services/${svc}/src`);
    // Every package of the kit, as found on disk, so a new one cannot be left out; the tests'
    // own package counts as tests.
    const kitPackages = readdirSync(join(repoRoot, 'services/kit')).filter((name) =>
      existsSync(join(repoRoot, 'services/kit', name, 'src')),
    );
    expect(kitPackages).toContain('testing');
    for (const pkg of kitPackages.filter((name) => name !== 'testing')) {
      expect(sources).toContain(`services/kit/${pkg}/src`);
    }
    expect(props['sonar.tests']?.split(',')).toEqual(['tests', 'services/kit/testing/src']);
    expect(props['sonar.javascript.lcov.reportPaths']).toBe('coverage/lcov.info');
  });
  test('excludes generated code from analysis, coverage and duplication', () => {
    for (const key of ['sonar.exclusions', 'sonar.coverage.exclusions', 'sonar.cpd.exclusions']) {
      expect(props[key]?.split(',')).toEqual(expect.arrayContaining(['proto/gen/**', 'services/*/src/generated/**']));
    }
  });
});

describe('overlay plumbing', () => {
  test('every overlay carries the same namespace replacements', () => {
    const files = environments.map((env) => readFileSync(join(overlaysDir, env, 'namespace-refs.yaml'), 'utf8'));
    expect(new Set(files).size).toBe(1);
  });
});
