import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'dist', 'src', 'index.js');

/** The README's JavaScript examples that import the package (```js blocks). */
function readmeExamples(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((code) => code.includes("from './dist/src/index.js'"));
}

function run(code: string, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(cwd, 'example.mjs');
  writeFileSync(file, code.replaceAll("'./dist/src/index.js'", `'${pathToFileURL(ENTRY).href}'`));
  const r = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('docs: the README examples run as written', () => {
  // Scenario: a reader copies each README example and runs it twice in the same directory (the
  // second run finds the environment the first left): both runs succeed and print the same.
  it('Scenario: every README example runs, and runs again', () => {
    expect(existsSync(ENTRY), 'dist/ is built by make test before the tests run').toBe(true);
    const examples = readmeExamples();
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const code of examples) {
      const dir = mkdtempSync(join(tmpdir(), 'tokusim-readme-'));
      try {
        const first = run(code, dir);
        expect(first.stderr).toBe('');
        expect(first.status).toBe(0);
        const second = run(code, dir);
        expect(second.stderr).toBe('');
        expect(second.status).toBe(0);
        expect(second.stdout).toBe(first.stdout);
        // Run in a clone as README says, what the example leaves behind is not offered to git.
        const left = readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
        expect(left.length).toBeGreaterThan(1);
        for (const name of left) {
          const ignored = spawnSync('git', ['check-ignore', '--no-index', '-q', name], { cwd: ROOT });
          expect(ignored.status, `${name} is not in .gitignore`).toBe(0);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
