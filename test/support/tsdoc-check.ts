/**
 * Reads the public API from the root export with the TypeScript compiler API, for the TSDoc
 * test. A declaration counts as documented when a JSDoc block attached to it (for a variable,
 * to its statement) has non-empty text or a tag with text; a bare `/** *\/` or a line comment
 * does not count.
 */
import { relative } from 'node:path';
import ts from 'typescript';

/** One name exported by the root module, resolved through re-exports to its declarations. */
export interface ApiExport {
  name: string;
  /** file:line of the first declaration, relative to the repository root. */
  where: string;
  declarations: ts.Node[];
}

/** The exports of src/index.ts and the program they were read from. */
export interface PublicApi {
  exports: ApiExport[];
  program: ts.Program;
}

function where(n: ts.Node, root?: string): string {
  const sf = n.getSourceFile();
  const file = root === undefined ? sf.fileName : relative(root, sf.fileName);
  return `${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
}

function jsDocs(n: ts.Node): ts.JSDoc[] {
  return ts.getJSDocCommentsAndTags(n).filter((d): d is ts.JSDoc => ts.isJSDoc(d));
}

function hasText(c: string | ts.NodeArray<ts.JSDocComment> | undefined): boolean {
  if (c === undefined) return false;
  return typeof c === 'string' ? c.trim() !== '' : c.length > 0;
}

export function hasDocComment(n: ts.Node): boolean {
  return jsDocs(n).some((d) => hasText(d.comment) || (d.tags ?? []).some((t) => hasText(t.comment)));
}

export function isInternal(n: ts.Node): boolean {
  return jsDocs(n).some((d) => (d.tags ?? []).some((t) => t.tagName.text === 'internal'));
}

export function publicApi(root: string): PublicApi {
  const config = ts.getParsedCommandLineOfConfigFile(`${root}/tsconfig.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (config === undefined) throw new Error('tsconfig.json could not be read');
  const entry = `${root}/src/index.ts`;
  const program = ts.createProgram([entry], config.options);
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(entry);
  const mod = sf === undefined ? undefined : checker.getSymbolAtLocation(sf);
  if (mod === undefined) throw new Error(`${entry} is not a module`);
  const exports = checker.getExportsOfModule(mod).map((sym): ApiExport => {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const declarations = target.declarations ?? [];
    return { name: sym.name, where: declarations[0] === undefined ? '?' : where(declarations[0], root), declarations };
  });
  return { exports, program };
}

/** True for a declaration hidden from the reference (`@hidden`): typedoc leaves it out. */
export function isHidden(n: ts.Node): boolean {
  return jsDocs(n).some((d) => (d.tags ?? []).some((t) => t.tagName.text === 'hidden'));
}

/**
 * A class member without its own comment that implements or overrides a documented member of
 * an interface or base class shows that member's comment (in editors and in typedoc), so it
 * counts as documented.
 */
function inheritsDoc(m: ts.Node, checker: ts.TypeChecker | undefined): boolean {
  if (checker === undefined || !ts.isClassElement(m) || m.name === undefined) return false;
  const sym = checker.getSymbolAtLocation(m.name);
  return sym !== undefined && ts.displayPartsToString(sym.getDocumentationComment(checker)).trim() !== '';
}

/**
 * The public members of a class, interface or enum declaration that have no TSDoc (as
 * `Name.member (file:line)`): private, protected, #private and `@internal` members, index
 * signatures and static blocks are not API; a get/set pair is documented when either is. With
 * a checker, a member that inherits a comment counts as documented; with interfaceMethodsOnly,
 * the properties of interfaces are not checked (their methods and every class member are).
 */
export function undocumentedMembers(e: ApiExport, root?: string, opts: { checker?: ts.TypeChecker; interfaceMethodsOnly?: boolean } = {}): string[] {
  const missing: string[] = [];
  for (const d of e.declarations) {
    if (!(ts.isClassDeclaration(d) || ts.isInterfaceDeclaration(d) || ts.isEnumDeclaration(d))) continue;
    const members: readonly ts.Node[] = d.members;
    const documented = new Set<string>();
    for (const m of members) {
      const name = (m as { name?: ts.Node }).name;
      if ((ts.isGetAccessor(m) || ts.isSetAccessor(m)) && name !== undefined && (hasDocComment(m) || isInternal(m))) documented.add(name.getText());
    }
    for (const m of members) {
      if (ts.isClassStaticBlockDeclaration(m) || ts.isIndexSignatureDeclaration(m) || ts.isSemicolonClassElement(m)) continue;
      const mods = ts.canHaveModifiers(m) ? ts.getModifiers(m) ?? [] : [];
      if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
      const name = (m as { name?: ts.Node }).name;
      if (name !== undefined && ts.isPrivateIdentifier(name)) continue;
      if (isInternal(m) || hasDocComment(m)) continue;
      if (opts.interfaceMethodsOnly === true && ts.isInterfaceDeclaration(d) && !ts.isMethodSignature(m)) continue;
      if (inheritsDoc(m, opts.checker)) continue;
      if ((ts.isGetAccessor(m) || ts.isSetAccessor(m)) && name !== undefined && documented.has(name.getText())) continue;
      missing.push(`${e.name}.${ts.isConstructorDeclaration(m) ? 'constructor' : name?.getText() ?? '?'} (${where(m, root)})`);
    }
  }
  return missing;
}
