// Small parsers and checks for the Dockerfile, the Jenkinsfile and sonar-project.properties.

// ---- Dockerfile ---------------------------------------------------------------------------------

export interface Instruction {
  op: string;
  args: string;
  line: number;
}
export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending && line.trim().startsWith('#')) return; // comment inside a continuation
    if (!pending) startLine = i + 1;
    pending += `${line.replace(/\\$/, '')} `;
    if (line.endsWith('\\')) return;
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(pending.trim());
    if (m) instructions.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: startLine });
    pending = '';
  });
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: m?.[1] ?? '', name: m?.[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length === 0) {
      if (ins.op === 'ARG') {
        const [k, v] = ins.args.split('=');
        if (k) globalArgs[k] = v ?? '';
      }
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** The checks that matter for our images; `targets` are the stages we build and ship. */
export function dockerfileViolations(text: string, targets: string[] = ['service', 'migrate']): string[] {
  const v: string[] = [];
  const { globalArgs, stages } = parseDockerfile(text);
  const byName = new Map(stages.map((s) => [s.name, s]));
  for (const s of stages) {
    const image = s.from.replace(/\$\{?(\w+)\}?/g, (_, k: string) => globalArgs[k] ?? '');
    if (byName.has(image)) continue;
    const [, tag] = /^[^@]+?(?::([^:/@]+))?(?:@sha256:[a-f0-9]{64})?$/.exec(image) ?? [];
    if (!image.includes('@sha256:') && (!tag || tag === 'latest' || !/\d+\.\d+\.\d+/.test(tag))) {
      v.push(`stage ${s.name}: base image ${image || s.from} is not pinned to a full version`);
    }
    if (image.startsWith('node:') && !/^node:24\.\d+\.\d+-bookworm-slim$/.test(image)) {
      v.push(`stage ${s.name}: Node base must be node:24.x.y-bookworm-slim, got ${image}`);
    }
  }
  for (const s of stages) {
    for (const ins of s.instructions) {
      if (ins.op === 'ADD')
        v.push(`line ${ins.line}: use COPY (ADD ${/https?:\/\//.test(ins.args) ? 'of a URL ' : ''}is not allowed)`);
      if (
        (ins.op === 'ENV' || ins.op === 'ARG') &&
        /(PASSWORD|TOKEN|SECRET|_KEY)\b/i.test(ins.args.split('=')[0] ?? '')
      ) {
        v.push(`line ${ins.line}: secrets must not be baked into ${ins.op}`);
      }
    }
  }
  for (const name of targets) {
    const s = byName.get(name);
    if (!s) {
      v.push(`target ${name} missing`);
      continue;
    }
    const last = (op: string) => s.instructions.filter((i) => i.op === op).at(-1);
    const user = last('USER')?.args;
    if (!user || !/^[1-9]\d*(?::\d+)?$/.test(user))
      v.push(`target ${name}: must end with a numeric non-root USER (got ${user ?? 'none'})`);
    const entrypoint = last('ENTRYPOINT')?.args ?? '';
    let exec = false;
    try {
      const parsed: unknown = JSON.parse(entrypoint);
      exec = Array.isArray(parsed) && parsed.length > 0 && parsed.every((x) => typeof x === 'string');
    } catch {
      exec = false;
    }
    if (!exec) v.push(`target ${name}: ENTRYPOINT must be exec form (JSON array)`);
    const labels = s.instructions
      .filter((i) => i.op === 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const key of ['title', 'source', 'version', 'revision', 'created', 'licenses']) {
      if (!labels.includes(`org.opencontainers.image.${key}=`))
        v.push(`target ${name}: OCI label org.opencontainers.image.${key} missing`);
    }
    if (s.instructions.some((i) => i.op === 'HEALTHCHECK'))
      v.push(`target ${name}: HEALTHCHECK is unused on Kubernetes (use probes)`);
  }
  // The service image takes node_modules only from a stage that dropped devDependencies.
  const service = byName.get('service');
  const nm = service?.instructions.find((i) => i.op === 'COPY' && /\/node_modules\s/.test(`${i.args} `));
  const from = /--from=(\S+)/.exec(nm?.args ?? '')?.[1];
  const source = from ? byName.get(from) : undefined;
  if (!source?.instructions.some((i) => i.op === 'RUN' && /--omit=dev/.test(i.args))) {
    v.push('target service: node_modules must come from a stage that ran npm ci/prune --omit=dev');
  }
  if (service && !service.instructions.some((i) => i.op === 'ARG' && /^SERVICE\b/.test(i.args)))
    v.push('target service: needs ARG SERVICE');
  return v;
}

// ---- Jenkinsfile --------------------------------------------------------------------------------

export interface Block {
  head: string;
  body: string;
  children: Block[];
}

/** Builds the tree of `{ ... }` blocks of a Groovy file, skipping strings and comments. */
export function parseGroovyBlocks(src: string): Block {
  const root: Block = { head: '<root>', body: '', children: [] };
  const stack: { block: Block; start: number }[] = [{ block: root, start: 0 }];
  let headStart = 0;
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i, i + 3);
    if (rest.startsWith('//')) {
      i = src.indexOf('\n', i);
      if (i < 0) break;
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 2;
      continue;
    }
    if (rest === "'''" || rest === '"""') {
      const end = src.indexOf(rest, i + 3);
      if (end < 0) throw new Error(`unterminated ${rest} string`);
      i = end + 3;
      continue;
    }
    const ch = src[i] as string;
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== ch) {
        if (src[j] === '\\') j++;
        if (src[j] === '\n') throw new Error(`unterminated string at ${i}`);
        j++;
      }
      i = j + 1;
      continue;
    }
    if (ch === '{') {
      const block: Block = { head: src.slice(headStart, i).trim(), body: '', children: [] };
      stack.at(-1)?.block.children.push(block);
      stack.push({ block, start: i + 1 });
      headStart = i + 1;
    } else if (ch === '}') {
      const top = stack.pop();
      if (!top || stack.length === 0) throw new Error(`unbalanced } at ${i}`);
      top.block.body = src.slice(top.start, i);
      headStart = i + 1;
    } else if (ch === '\n' || ch === ';') {
      headStart = i + 1;
    }
    i++;
  }
  if (stack.length !== 1) throw new Error(`unbalanced braces: ${stack.length - 1} block(s) left open`);
  return root;
}

export const child = (b: Block | undefined, head: RegExp): Block | undefined =>
  b?.children.find((c) => head.test(c.head));

/** Stage names in order, with their bodies, from pipeline { stages { stage('x') { ... } } }. */
export function jenkinsStages(src: string): { name: string; body: string }[] {
  const pipeline = child(parseGroovyBlocks(src), /^pipeline$/);
  if (!pipeline) throw new Error('no declarative pipeline block');
  const stages = child(pipeline, /^stages$/);
  if (!stages) throw new Error('pipeline has no stages block');
  return stages.children.map((c) => {
    const m = /^stage\(\s*['"](.+)['"]\s*\)$/.exec(c.head);
    if (!m) throw new Error(`unexpected block in stages: ${c.head}`);
    return { name: m[1] as string, body: c.body };
  });
}

/** The steps the pipeline must run, in this order (each matched against one stage body). */
export const requiredSteps: { what: string; pattern: RegExp }[] = [
  { what: 'install', pattern: /npm ci\b/ },
  { what: 'buf lint', pattern: /buf lint/ },
  {
    what: 'buf breaking against main',
    pattern: /buf breaking[\s\S]*--against[\s\S]*main|main[\s\S]*buf breaking[\s\S]*--against/,
  },
  { what: 'typecheck', pattern: /npm run typecheck/ },
  { what: 'lint', pattern: /npm run lint/ },
  { what: 'tests with coverage', pattern: /npm (run )?test[\s\S]*--coverage/ },
  { what: 'SonarQube analysis', pattern: /withSonarQubeEnv/ },
  { what: 'quality gate', pattern: /waitForQualityGate\s+abortPipeline:\s*true/ },
  { what: 'manifest validation', pattern: /npm run validate:deploy/ },
  {
    what: 'image build & push tagged with the commit',
    pattern: /kaniko\/executor[\s\S]*--destination=[^\s"]*:\$\{env\.IMAGE_TAG\}/,
  },
  { what: 'tag bump in the dev overlay', pattern: /bumpOverlay\('dev'/ },
  { what: 'k6 smoke gate', pattern: /k6 run/ },
  { what: 'promotion after the smoke test', pattern: /bumpOverlay\('staging'/ },
];

export function jenkinsfileViolations(src: string): string[] {
  const v: string[] = [];
  let stages: { name: string; body: string }[];
  try {
    stages = jenkinsStages(src);
  } catch (err) {
    return [(err as Error).message];
  }
  const pipeline = child(parseGroovyBlocks(src), /^pipeline$/);
  if (!child(child(pipeline, /^agent$/), /^kubernetes$/)) v.push('pipeline agent must be kubernetes { ... }');
  if (!/IMAGE_TAG\s*=\s*"\$\{env\.GIT_COMMIT\}"/.test(pipeline?.body ?? ''))
    v.push('IMAGE_TAG must be the commit (GIT_COMMIT)');
  let previous = -1;
  for (const step of requiredSteps) {
    const index = stages.findIndex((s) => step.pattern.test(s.body));
    if (index < 0) v.push(`no stage runs ${step.what}`);
    else if (index < previous) v.push(`${step.what} (stage "${stages[index]?.name}") runs too early`);
    else previous = index;
  }
  return v;
}

// ---- sonar-project.properties -------------------------------------------------------------------

export function parseProperties(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
  );
}
