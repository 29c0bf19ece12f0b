/**
 * The small part of the browser's DOM the page uses, typed locally. The project compiles with
 * the ES library only (the engine must not lean on browser or DOM globals), so the page reads
 * the browser through this one typed view of globalThis instead of the global DOM types.
 */

/** An element (the fields of input, select, textarea and button elements included). */
export interface El {
  id: string;
  innerHTML: string;
  textContent: string | null;
  hidden: boolean;
  value: string;
  checked: boolean;
  max: string;
  disabled: boolean;
  dataset: Record<string, string | undefined>;
  onclick: ((e: Ev) => void) | null;
  onchange: ((e: Ev) => void) | null;
  oninput: ((e: Ev) => void) | null;
  focus(): void;
  setAttribute(name: string, value: string): void;
  closest(selector: string): El | null;
  querySelector(selector: string): El | null;
}

/** An event (the fields of a keyboard event included). */
export interface Ev {
  target: El | null;
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  preventDefault(): void;
}

/** What the page uses of window. */
export interface BrowserWindow {
  document: {
    body: El;
    getElementById(id: string): El | null;
    addEventListener(type: 'keydown', listener: (e: Ev) => void): void;
  };
  location: { hash: string; href: string };
  history: { replaceState(state: null, title: string, url: string): void };
  navigator: { clipboard?: { writeText(text: string): Promise<void> } };
  setInterval(f: () => void, ms: number): number;
  clearInterval(handle: number): void;
  setTimeout(f: () => void, ms: number): number;
  addEventListener(type: 'hashchange', listener: () => void): void;
}

/** The browser window, typed as above. */
export const browser = globalThis as unknown as BrowserWindow;
