import {
  defineSchedule,
  type JSONValue,
  makeStateful,
  type NamedSchedule,
  pieceConfig,
  type Schedule,
  type ScheduleState,
  statefulOf,
} from './schedule.js';
import { stepList } from './validate.js';

/** The `scheduleConfig` of a {@link join}ed schedule. */
export interface JoinConfig {
  /** Name and options of each piece (`'custom'` and `null` for a plain function). */
  schedules: { scheduleName: string; scheduleConfig: unknown }[];
  boundaries: number[];
}

/**
 * Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` until `boundaries[1]`, and so on;
 * each later schedule sees the steps since its own boundary:
 * ```
 * value(t) = schedules[0](t)                   if t < boundaries[0]
 *          = schedules[i + 1](t − boundaries[i])  if boundaries[i] ≤ t < boundaries[i + 1]
 * ```
 * Past the last boundary the last schedule runs on (its own past-the-end behaviour applies).
 * Pieces may be any functions, including other joins. If some pieces are stateful (e.g. a
 * `reduceOnPlateau` schedule after a warmup), the joined schedule is too: its `stateful` saves
 * them all, and restores them all or none.
 *
 * Equivalent: Optax `join_schedules(schedules, boundaries)`; PyTorch `SequentialLR(optimizer,
 * schedulers, milestones)` (each scheduler restarts from its own step 0 at its milestone).
 *
 * @param schedules The pieces, at least one.
 * @param boundaries `schedules.length − 1` integer steps ≥ 0, strictly increasing.
 * @example
 * ```ts
 * const lr = join(
 *   [linear({ initValue: 0, endValue: 1e-3, transitionSteps: 500 }), cosineDecay({ initValue: 1e-3, decaySteps: 9_500 })],
 *   [500],
 * );
 * adamw({ learningRate: lr });
 * ```
 */
export function join(
  schedules: readonly Schedule[],
  boundaries: readonly number[],
): NamedSchedule<JoinConfig> & { readonly stateful?: ScheduleState } {
  const fn = 'join';
  if (!Array.isArray(schedules) || schedules.length === 0) {
    throw new TypeError(`${fn}: schedules must be a non-empty array of schedule functions`);
  }
  schedules.forEach((s, i) => {
    if (typeof s !== 'function') throw new TypeError(`${fn}: schedules[${i}] is not a function`);
  });
  if (!Array.isArray(boundaries)) throw new TypeError(`${fn}: boundaries must be an array of steps`);
  if (boundaries.length !== schedules.length - 1) {
    throw new RangeError(
      `${fn}: invalid boundaries: got ${boundaries.length} for ${schedules.length} schedules (must be one fewer than the schedules)`,
    );
  }
  const bounds = stepList(fn, 'boundaries', boundaries, true);
  const pieces = [...schedules];
  const config: JoinConfig = {
    schedules: pieces.map(pieceConfig),
    boundaries: bounds,
  };
  const joined = defineSchedule(fn, config, (t) => {
    let i = bounds.length;
    while (i > 0 && t < bounds[i - 1]!) i -= 1;
    return i === 0 ? pieces[0]!(t) : pieces[i]!(t - bounds[i - 1]!);
  });
  const states = pieces.map(statefulOf);
  if (states.every((s) => s === undefined)) return joined;
  const state: ScheduleState = {
    saveState: (): JSONValue => ({
      kind: 'optimkit.join',
      pieces: states.map((s) => s?.saveState() ?? null),
    }),
    loadState(saved: unknown): void {
      const s = saved as { kind?: unknown; pieces?: unknown } | null;
      if (typeof s !== 'object' || s === null || s.kind !== 'optimkit.join' || !Array.isArray(s.pieces)) {
        throw new TypeError('join.loadState: not the state of a joined schedule');
      }
      if (s.pieces.length !== states.length) {
        throw new TypeError(
          `join.loadState: the state has ${s.pieces.length} pieces, this schedule has ${states.length}`,
        );
      }
      const before = states.map((p) => p?.saveState());
      try {
        states.forEach((p, i) => {
          if (p) p.loadState((s.pieces as unknown[])[i]);
          else if ((s.pieces as unknown[])[i] !== null) {
            throw new TypeError(`join.loadState: piece ${i} is not stateful but the state has one for it`);
          }
        });
      } catch (error) {
        // Each piece restores atomically; undo the pieces already restored so that none changes.
        states.forEach((p, i) => {
          if (p) p.loadState(before[i]);
        });
        throw error;
      }
    },
  };
  return makeStateful(joined, state);
}
