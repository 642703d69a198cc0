/** A variable as the partition sees it: its name and shape. */
export interface VariableInfo {
  name: string;
  shape: readonly number[];
}

/**
 * Which rank owns each variable. Every rank computes the same partition from the same names and
 * shapes, so no rank needs to be told.
 */
export interface Partition {
  /** The number of ranks. */
  readonly worldSize: number;
  /** Every variable, in partition order: size descending, then name ascending. */
  readonly variables: readonly (VariableInfo & { size: number; owner: number })[];
  /** The owner of each variable, by name. */
  readonly owners: ReadonlyMap<string, number>;
  /** The variables of each rank, in partition order. */
  readonly byRank: readonly (readonly string[])[];
  /** Elements each rank owns. */
  readonly sizes: readonly number[];
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Partitions whole variables over `worldSize` ranks as PyTorch's `ZeroRedundancyOptimizer` does:
 * variables sorted by element count (descending; ties by name), each given to the rank that owns
 * the fewest elements so far (ties to the lowest rank). Whole variables keep every optimizer
 * working unchanged, including those that need a whole tensor (LARS/LAMB trust ratios,
 * Adafactor/CAME factored statistics).
 *
 * @example
 * ```ts
 * const p = partitionVariables([{ name: 'w', shape: [784, 128] }, { name: 'b', shape: [128] }], 2);
 * p.owners.get('w'); // 0
 * p.owners.get('b'); // 1
 * ```
 */
export function partitionVariables(variables: readonly VariableInfo[], worldSize: number): Partition {
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new RangeError(`Invalid worldSize: ${String(worldSize)} (a positive integer)`);
  }
  const seen = new Set<string>();
  for (const v of variables) {
    if (typeof v?.name !== 'string') throw new TypeError('partitionVariables: every variable needs a name');
    if (seen.has(v.name)) throw new Error(`partitionVariables: variable '${v.name}' is given twice`);
    seen.add(v.name);
  }
  const sorted = variables
    .map((v) => ({ name: v.name, shape: [...v.shape], size: sizeOf(v.shape) }))
    .sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sizes = new Array<number>(worldSize).fill(0);
  const byRank: string[][] = Array.from({ length: worldSize }, () => []);
  const owners = new Map<string, number>();
  const placed = sorted.map((v) => {
    let owner = 0;
    for (let r = 1; r < worldSize; r++) if (sizes[r]! < sizes[owner]!) owner = r;
    sizes[owner]! += v.size;
    byRank[owner]!.push(v.name);
    owners.set(v.name, owner);
    return { ...v, owner };
  });
  return { worldSize, variables: placed, owners, byRank, sizes };
}
