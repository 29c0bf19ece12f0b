/**
 * The explorable page's stylesheet (inlined by tools/teach/bundle.ts). Colour only repeats
 * what the text already says: every state has a word or a symbol (PENDING, dirty, W, ✗).
 */
export const PAGE_CSS = `
:root { --bg:#fbfbf8; --fg:#1d1d1b; --mut:#66645e; --line:#d9d6cc; --pend:#fff2c2; --clone:#dff1f7; --bad:#ffe0de; --ok:#e6f4e1; --acc:#2458a6; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { padding:8px 14px; border-bottom:1px solid var(--line); display:flex; flex-wrap:wrap; gap:8px 16px; align-items:center; }
header h1 { font-size:16px; margin:0 12px 0 0; }
label { font-size:13px; color:var(--mut); }
select, input, textarea, button { font: inherit; }
button { border:1px solid #8a877d; background:#fff; border-radius:4px; padding:3px 9px; cursor:pointer; }
button:focus-visible, select:focus-visible, input:focus-visible, textarea:focus-visible, summary:focus-visible { outline:3px solid var(--acc); outline-offset:1px; }
button[aria-pressed="true"] { background:#dfe8f7; border-color:var(--acc); }
#timeline { padding:8px 14px; display:flex; flex-wrap:wrap; gap:8px; align-items:center; border-bottom:1px solid var(--line); }
#scrub { flex:1 1 300px; }
#pos { font-variant-numeric: tabular-nums; min-width: 10em; }
#narration { padding:10px 14px; border-bottom:1px solid var(--line); min-height:74px; }
#narration .title { font-weight:600; }
#narration .why { color:var(--mut); margin-top:3px; }
#narration .meta { font-size:12px; color:var(--mut); }
main { display:grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap:10px; padding:10px 14px; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 10px; overflow:auto; max-height:460px; }
section h2 { font-size:14px; margin:0 0 6px; }
table { border-collapse:collapse; width:100%; font-size:12.5px; }
th, td { text-align:left; padding:2px 6px; border-bottom:1px solid #eeebe3; vertical-align:top; }
th { color:var(--mut); font-weight:600; }
td.mono, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size:12px; }
tr.pending { background:var(--pend); }
tr.cloned { background:var(--clone); }
tr.buffered td, tr.written td { color:#5b5952; }
.bad { background:var(--bad); }
.ok { background:var(--ok); }
.tag { display:inline-block; border:1px solid #aaa59a; border-radius:3px; padding:0 4px; font-size:11px; margin-right:3px; }
.hex { word-break:break-all; }
#ops { width:100%; min-height:70px; font-family: ui-monospace, monospace; font-size:12px; }
details { margin:4px 0; }
#predict { position:fixed; right:16px; bottom:16px; max-width:460px; background:#fff; border:2px solid var(--acc); border-radius:8px; padding:12px; box-shadow:0 4px 18px rgba(0,0,0,.18); }
#predict[hidden] { display:none; }
#predict fieldset { border:0; padding:0; margin:6px 0; }
.note { color:var(--mut); font-size:12px; }
#error { background:var(--bad); padding:6px 14px; }
#error:empty { display:none; }
.sr { position:absolute; left:-9999px; }
`;
