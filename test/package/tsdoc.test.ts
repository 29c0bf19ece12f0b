/**
 * The public API is documented: every declaration reachable from the root export
 * (src/index.ts) carries a TSDoc comment, nothing marked `@internal` is reachable from it, and
 * the public members of the exported classes, the methods of the exported interfaces and every
 * member of the types a user of the engine works with are documented too. `make docs` enforces the same with typedoc's notDocumented validation, but
 * typedoc is slow, so this check (the TypeScript compiler API over the same entry point) is the
 * one `make test` runs.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasDocComment, isHidden, isInternal, publicApi, undocumentedMembers, type PublicApi } from '../support/tsdoc-check.js';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The engine's user-facing types: besides their own TSDoc, every public member of these must be
 * documented (the other exported classes are documented as a whole).
 */
const MEMBER_DOCUMENTED = ['Env', 'Dictionary', 'Txn', 'TxnCursor', 'EnvOptions', 'EnvStatus', 'RecoveryReport', 'TokusimLevel', 'TokusimError', 'X1764'];

describe('TSDoc on the public API', () => {
  let api: PublicApi;
  beforeAll(() => {
    api = publicApi(ROOT);
  });

  // Scenario: a reader of the API reference finds a description for every export of the package.
  it('every export of src/index.ts has a TSDoc comment', () => {
    expect(api.exports.length).toBeGreaterThan(100);
    const missing = api.exports.filter((e) => !e.declarations.some(hasDocComment)).map((e) => `${e.name} (${e.where})`);
    expect(missing).toEqual([]);
  });

  // Scenario: a helper marked @internal must not leak through the root export.
  it('no export of src/index.ts is marked @internal', () => {
    const leaked = api.exports.filter((e) => e.declarations.some(isInternal)).map((e) => `${e.name} (${e.where})`);
    expect(leaked).toEqual([]);
  });

  // Scenario: the classes and interfaces a user of Env works with document each public member.
  it('the public members of the engine types are documented', () => {
    for (const name of MEMBER_DOCUMENTED) expect(api.exports.some((e) => e.name === name), name).toBe(true);
    const missing = api.exports.filter((e) => MEMBER_DOCUMENTED.includes(e.name)).flatMap((e) => undocumentedMembers(e, ROOT));
    expect(missing).toEqual([]);
  });

  // Scenario: every public member (constructor, property, accessor, method) of an exported class
  // and every method of an exported interface has a comment, its own or the one it implements
  // (typedoc's notDocumented validation in make docs asks for the methods).
  it('the public class members and interface methods of the exports are documented', () => {
    const checker = api.program.getTypeChecker();
    const missing = api.exports.filter((e) => !e.declarations.some(isHidden)).flatMap((e) => undocumentedMembers(e, ROOT, { checker, interfaceMethodsOnly: true }));
    expect(missing).toEqual([]);
  });

  // Scenario: the check itself notices a missing comment (so a green run means something).
  it('the check reports a declaration whose comment is missing or empty', () => {
    const src = ts.createSourceFile('x.ts', '/** Documented. */\nexport const a = 1;\nexport const b = 2;\n/** */\nexport function c() {}\n// line comment\nexport class D {\n  /** Documented. */\n  m(): void {}\n  n(): void {}\n  private p = 1;\n}\n', ts.ScriptTarget.ES2022, true);
    const byName = new Map<string, ts.Node>();
    const visit = (n: ts.Node): void => {
      if ((ts.isVariableDeclaration(n) || ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n)) && n.name && ts.isIdentifier(n.name)) byName.set(n.name.text, n);
      ts.forEachChild(n, visit);
    };
    visit(src);
    expect([...byName.keys()].map((k) => [k, hasDocComment(byName.get(k)!)])).toEqual([['a', true], ['b', false], ['c', false], ['D', false]]);
    expect(undocumentedMembers({ name: 'D', where: 'x.ts:7', declarations: [byName.get('D')!] })).toEqual(['D.n (x.ts:10)']);
  });
});
