import { describe, expect, it } from 'vitest';
import { Model, formatState } from '../../src/sim/model.js';

describe('sim: the reference model', () => {
  // Scenario: the oracle accepts exactly the commit prefixes at least as long as the durable one.
  it('Scenario: settle accepts any prefix from the durable one on, and nothing else', () => {
    const build = () => {
      const m = new Model();
      m.addCommit({ writes: [], creates: [0], label: 'create' });
      m.addCommit({ writes: [{ d: 0, k: 1, v: 10 }], creates: [], label: 'a' });
      m.addCommit({ writes: [{ d: 0, k: 2, v: 20 }, { d: 0, k: 1, v: null }], creates: [], label: 'b' });
      m.markDurable(2);
      return m;
    };
    // all-or-nothing: half of commit b is no allowed state
    expect(build().settle(new Map([[0, new Map([[1, 10], [2, 20]])]]))).toBeNull();
    // the durable prefix and the full history are allowed
    expect(build().settle(new Map([[0, new Map([[1, 10]])]]))).toBe(2);
    expect(build().settle(new Map([[0, new Map([[2, 20]])]]))).toBe(3);
    // losing an acknowledged commit is not
    expect(build().settle(new Map([[0, new Map()]]))).toBeNull();
    const m = build();
    m.settle(new Map([[0, new Map([[1, 10]])]]));
    expect(formatState(m.current())).toBe('d0{k1=10}');
    expect(m.commits.length).toBe(0);
  });
});
