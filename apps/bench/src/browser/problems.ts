/**
 * The two problems of the browser bench, as named shapes: one big matrix, and the 40 variables of
 * a small GPT-like transformer. Pure data, shared by the page and the report.
 */

export interface ProblemShapes {
  /** `matrix` or `transformer`. */
  id: string;
  /** For the tables. */
  label: string;
  variables: { name: string; shape: number[] }[];
}

export interface TransformerSize {
  vocab: number;
  context: number;
  dModel: number;
  layers: number;
}

/** The full configuration's transformer: 40 variables, 995,456 parameters. */
export const TRANSFORMER: TransformerSize = { vocab: 3000, context: 128, dModel: 128, layers: 3 };

export const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export const parameterCount = (problem: ProblemShapes) =>
  problem.variables.reduce((sum, v) => sum + sizeOf(v.shape), 0);

export function matrixProblem(shape: [number, number]): ProblemShapes {
  return { id: 'matrix', label: 'one matrix', variables: [{ name: 'w', shape }] };
}

/**
 * Token and position embeddings; per layer, layer-norm gain and bias, the fused QKV projection and
 * the attention output projection (matrices and biases), the MLP's two matrices (d → 4d → d) and
 * their biases; the final layer norm. `2 + 12·layers + 2` variables: 40 for 3 layers.
 */
export function transformerProblem(size: TransformerSize): ProblemShapes {
  const { vocab, context, dModel: d, layers } = size;
  const variables: { name: string; shape: number[] }[] = [
    { name: 'embed/tokens', shape: [vocab, d] },
    { name: 'embed/positions', shape: [context, d] },
  ];
  for (let l = 0; l < layers; l += 1) {
    const p = `layer${l}`;
    variables.push(
      { name: `${p}/ln1/gain`, shape: [d] },
      { name: `${p}/ln1/bias`, shape: [d] },
      { name: `${p}/attn/qkv/kernel`, shape: [d, 3 * d] },
      { name: `${p}/attn/qkv/bias`, shape: [3 * d] },
      { name: `${p}/attn/out/kernel`, shape: [d, d] },
      { name: `${p}/attn/out/bias`, shape: [d] },
      { name: `${p}/ln2/gain`, shape: [d] },
      { name: `${p}/ln2/bias`, shape: [d] },
      { name: `${p}/mlp/up/kernel`, shape: [d, 4 * d] },
      { name: `${p}/mlp/up/bias`, shape: [4 * d] },
      { name: `${p}/mlp/down/kernel`, shape: [4 * d, d] },
      { name: `${p}/mlp/down/bias`, shape: [d] },
    );
  }
  variables.push({ name: 'final_ln/gain', shape: [d] }, { name: 'final_ln/bias', shape: [d] });
  return {
    id: 'transformer',
    label: `a GPT-like transformer (vocab ${vocab}, context ${context}, d ${d}, ${layers} layers)`,
    variables,
  };
}

/** The distinct shapes of a problem with their counts, e.g. `[128] ×26, [128, 384] ×3`. */
export function describeShapes(problem: ProblemShapes): string {
  const counts = new Map<string, number>();
  for (const v of problem.variables) {
    const key = `[${v.shape.join(', ')}]`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([shape, n]) => (n === 1 ? shape : `${shape} ×${n}`)).join(', ');
}
