/**
 * Graph outputs are the producing node's own output, not an Identity of it: onnxruntime runs an Identity as a copy
 * on every run, fetched or not (on a KV-heavy decode step the present.* Identities copied the whole KV cache
 * again; src/engine/DESIGN.md). The renamed value must still reach the nodes that consume it, in graph order
 * before or after the output is declared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { DT, Graph } from '../../src/engine/onnx/graph.js';

test('a node value declared as an output is renamed in place; its consumers follow; Identity only for an input or a second name', async () => {
  const g = new Graph('outputs');
  g.input('x', DT.FLOAT, [2, 3]);
  const relu = g.op('Relu', ['x']);
  const before = g.op('Neg', [relu]); // consumer added before the output is declared
  const nodesBefore = g.stats.nodes;
  g.output('hidden', DT.FLOAT, [2, 3], relu);
  assert.equal(g.stats.nodes, nodesBefore, 'declaring a node value as output adds no node');
  const after = g.op('Add', [relu, before]); // consumer added after: relu - relu = 0
  g.output('zero', DT.FLOAT, [2, 3], after);
  g.output('again', DT.FLOAT, [2, 3], relu); // a second public name for one value needs a copy
  g.output('echo', DT.FLOAT, [2, 3], 'x'); // so does a graph input
  assert.equal(g.stats.nodes, nodesBefore + 3, 'Add, plus one Identity each for the second name and the input');

  const s = await ort.InferenceSession.create(g.encode({ irVersion: 10, opsets: { '': 21 } }));
  const x = Float32Array.of(-1, 2, -3, 4, -5, 6);
  const out = await s.run({ x: new ort.Tensor('float32', x, [2, 3]) });
  await s.release();
  assert.deepEqual([...(out.hidden.data as Float32Array)], [0, 2, 0, 4, 0, 6]);
  assert.deepEqual([...(out.again.data as Float32Array)], [0, 2, 0, 4, 0, 6]);
  assert.deepEqual([...(out.zero.data as Float32Array)], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...(out.echo.data as Float32Array)], [...x]);
});
