/** What {@link scheduleCallback} drives: a controller fed once per epoch, such as `reduceOnPlateau`. */
export interface EpochController {
  /** Feeds one epoch's metric; returns the value to use from now on. */
  step(metric: number): number;
  /** The current value. */
  readonly value: number;
}

/** Options of {@link scheduleCallback}. */
export interface ScheduleCallbackOptions<K extends string> {
  /** The controllers to feed, by the hyperparameter they drive, e.g. `{ learningRate: plateau }`. */
  schedules: Readonly<Record<K, EpochController>>;
  /** The key of the epoch logs to feed them, default `'val_loss'`. */
  monitor?: string;
  /** Called after each epoch with the values in effect for the next one; default: no logging. */
  log?: (epoch: number, values: Readonly<Record<K, number>>) => void;
}

/** One entry of {@link ScheduleCallback.history}. */
export type ScheduleHistoryEntry<K extends string> = { readonly epoch: number } & Readonly<Record<K, number>>;

/** The callback made by {@link scheduleCallback}: pass it in `model.fit({ callbacks })`. */
export interface ScheduleCallback<K extends string> {
  /** Called by tfjs-layers at the end of each epoch with the epoch's logs. */
  onEpochEnd(epoch: number, logs?: Readonly<Record<string, unknown>>): void;
  /** The values after each epoch, e.g. `[{ epoch: 0, learningRate: 1e-3 }, …]`. */
  readonly history: readonly ScheduleHistoryEntry<K>[];
}

/**
 * A tfjs-layers callback, without importing tfjs, that feeds epoch-level controllers (such as
 * `reduceOnPlateau`) with a logged metric. At the end of each epoch it calls
 * `controller.step(logs[monitor])` on each controller, records the values in `history` and passes
 * them to `log`. tfjs-layers accepts such plain objects in `model.fit({ callbacks })` and resolves
 * the logs to numbers before calling them.
 *
 * A missing or non-numeric `logs[monitor]` throws (naming the keys that are there), as training on
 * an unmonitored metric is a setup mistake (e.g. `'val_loss'` without validation data).
 *
 * Equivalent: Keras `ReduceLROnPlateau` callback (with the controller's options), PyTorch's
 * `scheduler.step(val_loss)` in the epoch loop.
 *
 * @param options.schedules Controllers by hyperparameter name (required).
 * @param options.monitor Log key to monitor, default `'val_loss'`.
 * @param options.log Called with `(epoch, values)` after each epoch, default none.
 * @example
 * ```ts
 * const plateau = reduceOnPlateau({ initValue: 1e-3, patience: 3 });
 * model.compile({ optimizer: adamw({ learningRate: plateau.schedule }), loss: 'meanSquaredError' });
 * await model.fit(x, y, {
 *   epochs: 50,
 *   validationSplit: 0.2,
 *   callbacks: scheduleCallback({ schedules: { learningRate: plateau }, monitor: 'val_loss' }),
 * });
 * ```
 */
export function scheduleCallback<K extends string>(options: ScheduleCallbackOptions<K>): ScheduleCallback<K> {
  const fn = 'scheduleCallback';
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${fn}: options must be an object`);
  const { schedules, monitor = 'val_loss', log } = options;
  if (typeof schedules !== 'object' || schedules === null) {
    throw new TypeError(`${fn}: schedules must be an object of controllers, e.g. { learningRate: plateau }`);
  }
  const entries = Object.entries(schedules) as [K, EpochController][];
  if (entries.length === 0) throw new TypeError(`${fn}: schedules is empty`);
  for (const [key, controller] of entries) {
    if (typeof controller?.step !== 'function' || typeof controller.value !== 'number') {
      throw new TypeError(
        `${fn}: schedules.${key} is not a controller with step(metric) and value (e.g. reduceOnPlateau)`,
      );
    }
  }
  if (typeof monitor !== 'string') throw new TypeError(`${fn}: monitor must be a string`);
  if (log !== undefined && typeof log !== 'function') throw new TypeError(`${fn}: log must be a function`);
  const history: ScheduleHistoryEntry<K>[] = [];
  return {
    onEpochEnd(epoch: number, logs?: Readonly<Record<string, unknown>>): void {
      const metric = logs?.[monitor];
      if (typeof metric !== 'number') {
        const available = logs ? Object.keys(logs).join(', ') || 'none' : 'none';
        throw new Error(
          `${fn}: the epoch logs have no number '${monitor}' to monitor (available: ${available}); ` +
            `'val_*' metrics need validationData or validationSplit in model.fit`,
        );
      }
      const values = {} as Record<K, number>;
      for (const [key, controller] of entries) values[key] = controller.step(metric);
      history.push(Object.freeze({ epoch, ...values }) as ScheduleHistoryEntry<K>);
      log?.(epoch, Object.freeze({ ...values }));
    },
    history,
  };
}
