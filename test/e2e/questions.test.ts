import { promises as fs } from 'fs';
import path from 'path';

import { collectFromSandbox } from '../helpers/collect';
import { Sandbox, startSandbox } from '../sandbox';

const QUESTIONS = path.resolve(__dirname, '..', '..', 'jupiterone', 'questions', 'questions.yaml');

/** Each `query: |` block of the questions file, as J1QL text. */
function queriesOf(yaml: string): string[] {
  const queries: string[] = [];
  const lines = yaml.split('\n');
  lines.forEach((line, i) => {
    const head = /^(\s*)(?:- )?query: \|\s*$/.exec(line);
    if (!head) return;
    const body: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const indent = /^\s*/.exec(lines[j])![0].length;
      if (lines[j].trim() !== '' && indent <= head[1].length) break;
      body.push(lines[j]);
    }
    queries.push(body.join('\n').trim());
  });
  return queries;
}

/**
 * The properties a query names, each with the `_type` it is read from: those compared in a
 * `WITH` clause belong to the entity that clause follows, `alias.property` to the alias's.
 */
export function propertiesNamed(query: string): Array<{ type: string; property: string }> {
  const named: Array<{ type: string; property: string }> = [];
  const aliases = new Map<string, string>();
  // The query split where each entity starts: FIND <type> ... and THAT [!]HAS <type> ...
  const parts = query.split(/\b(?=FIND\s|THAT\s)/);
  for (const part of parts) {
    const head = /^(?:FIND|THAT\s+!?\w+)\s+(\w+)/.exec(part);
    if (!head) continue;
    const type = head[1];
    const alias = /\bAS\s+(\w+)\s*$/.exec(part.split(/\bRETURN\b/)[0].trim());
    if (alias) aliases.set(alias[1], type);
    const withClause = /\bWITH\b([\s\S]*?)(?:\bAS\s+\w+|\bRETURN\b|$)/.exec(part);
    if (withClause) {
      for (const m of withClause[1].matchAll(/\b([A-Za-z_]\w*)\s*(?:!=|=|<|>)/g)) {
        named.push({ type, property: m[1] });
      }
    }
  }
  for (const m of query.matchAll(/\b(\w+)\.([A-Za-z_]\w*)/g)) {
    const type = aliases.get(m[1]);
    if (type) named.push({ type, property: m[2] });
  }
  return named;
}

describe('the managed questions (jupiterone/questions/questions.yaml)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 1500, servers: 6, seed: 3 });
  });
  afterAll(() => sandbox?.stop());

  it('reads the queries and the properties they name', () => {
    expect(
      propertiesNamed(
        "FIND t_a WITH x = 'A' AND y != undefined AS a THAT HAS t_b AS b RETURN a.z, b.w, count(a)",
      ),
    ).toEqual([
      { type: 't_a', property: 'x' },
      { type: 't_a', property: 'y' },
      { type: 't_a', property: 'z' },
      { type: 't_b', property: 'w' },
    ]);
  });

  it('name only types and properties the collector writes', async () => {
    const yaml = await fs.readFile(QUESTIONS, 'utf8');
    const queries = queriesOf(yaml);
    expect(queries).toHaveLength(yaml.match(/\bquery:/g)!.length);

    // With the released-device lookup on, so that releasedFromOrgOn is written too.
    const graph = await collectFromSandbox(sandbox, { env: { CHECK_RELEASED_DEVICES: 'true' } });
    const written = new Map<string, Set<string>>();
    for (const entity of graph.entities) {
      const properties = written.get(entity._type) ?? new Set<string>();
      for (const key of Object.keys(entity)) properties.add(key);
      written.set(entity._type, properties);
    }

    const unknown: string[] = [];
    let checked = 0;
    for (const query of queries) {
      const types = [...query.matchAll(/\b(?:FIND|HAS)\s+(\w+)/g)].map((m) => m[1]);
      for (const type of types) if (!written.has(type)) unknown.push(`${type} in: ${query}`);
      for (const { type, property } of propertiesNamed(query)) {
        checked += 1;
        if (!written.get(type)?.has(property)) unknown.push(`${type}.${property} in: ${query}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(25);
  });
});
