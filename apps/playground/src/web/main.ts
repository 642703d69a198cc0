import './style.css';
import * as tf from '@tensorflow/tfjs';
import { type CatalogEntry, catalog, type Overrides, type Source } from '../catalog.js';
import { buildMnist } from '../mnist.js';
import { recordedLearningRate, type Surface, surfaces, type Trajectory, trajectory } from '../surfaces.js';
import { BACKENDS, type BackendName, registerBackend } from './backends.js';
import { setUpDataParallel } from './data-parallel-demo.js';
import {
  defaultFields,
  describeFields,
  type Field,
  fieldsOf,
  formatNumber,
  renderFields,
} from './hyperparameters.js';
import { drawLossChart } from './loss-chart.js';
import { decodeDigits, inflateAsset, MNIST_ASSET_NAME } from './mnist-format.js';
import { isOptimkit, MnistSession, type RestoreSource } from './session.js';
import { loadCheckpoint, saveCheckpoint } from './storage.js';
import { type Path, SurfacePlot } from './surface-plot.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
};

const SOURCES: Record<Source, string> = { optimkit: 'optimkit', plugin: 'plugin', 'tf.train': 'tf.train' };
const PALETTE = [
  '#e6194b',
  '#3cb44b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#42d4f4',
  '#f032e6',
  '#9a6324',
  '#800000',
  '#469990',
  '#000075',
  '#808000',
  '#e6a800',
  '#a9a9a9',
  '#dc143c',
  '#2f4f4f',
  '#7b68ee',
  '#008080',
  '#ff69b4',
];
const colorOf = (entry: CatalogEntry) => PALETTE[catalog.indexOf(entry) % PALETTE.length]!;

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function showMessage(element: HTMLElement, text: string, kind: 'error' | 'info'): void {
  element.textContent = text;
  element.dataset.kind = kind;
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

// ---------------------------------------------------------------------------------------------
// Backend and data

/** Whether this browser has a WebGPU adapter (the webgpu backend needs one). */
async function hasWebGpuAdapter(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/**
 * The backend asked for in the URL (`?backend=`, default wasm: about five times faster than cpu
 * here); if it cannot start, cpu, with a note saying why.
 */
async function setUpBackend(webgpu: boolean): Promise<{ backend: string; note: string }> {
  const asked = new URLSearchParams(location.search).get('backend') ?? 'wasm';
  const choice = (BACKENDS as readonly string[]).includes(asked) ? (asked as BackendName) : 'wasm';
  let reason = '';
  if (choice === 'webgpu' && !webgpu) reason = 'this browser has no WebGPU adapter';
  else {
    try {
      await registerBackend(choice);
      if (await tf.setBackend(choice)) {
        await tf.ready();
        return { backend: choice, note: '' };
      }
      reason = `the ${choice} backend could not start here`;
    } catch (error) {
      reason = `the ${choice} backend could not start here: ${errorText(error)}`;
    }
  }
  if (!(await tf.setBackend('cpu'))) throw new Error(`${reason}, and neither could the cpu backend`);
  return { backend: 'cpu', note: ` (${reason})` };
}

async function loadDigits(): Promise<Float32Array[]> {
  const response = await fetch(`${import.meta.env.BASE_URL}${MNIST_ASSET_NAME}`);
  if (!response.ok) throw new Error(`could not fetch the MNIST digits: HTTP ${response.status}`);
  return decodeDigits(await inflateAsset(new Uint8Array(await response.arrayBuffer())));
}

// ---------------------------------------------------------------------------------------------
// Trajectories

function setUpTrajectories(): void {
  const section = $('trajectories');
  const surfaceSelect = $<HTMLSelectElement>('surface');
  const stepsInput = $<HTMLInputElement>('traj-steps');
  const runButton = $<HTMLButtonElement>('traj-run');
  const message = $('traj-message');
  const plot = new SurfacePlot($<HTMLCanvasElement>('traj-canvas'));
  const rows = new Map<string, { use: HTMLInputElement; read: () => Overrides; fields: HTMLElement }>();
  const initiallyTicked = new Set(['sgd', 'adam', 'adabelief', 'tf-adam']);

  for (const surface of surfaces) surfaceSelect.add(new Option(surface.label, surface.name));
  surfaceSelect.value = 'rosenbrock';
  const tbody = $('traj-optimizers').querySelector('tbody')!;
  for (const entry of catalog) {
    const row = tbody.insertRow();
    row.dataset.optimizer = entry.name;
    const use = document.createElement('input');
    use.type = 'checkbox';
    use.id = `traj-use-${entry.name}`;
    use.checked = initiallyTicked.has(entry.name);
    row.insertCell().append(use);
    const label = document.createElement('label');
    label.htmlFor = use.id;
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colorOf(entry);
    label.append(swatch, entry.label);
    row.insertCell().append(label);
    row.insertCell().textContent = SOURCES[entry.source];
    const fields = row.insertCell();
    fields.className = 'fields';
    rows.set(entry.name, { use, read: () => ({}), fields });
  }

  const current = () => surfaces.find((s) => s.name === surfaceSelect.value)!;
  const showSurface = () => {
    const surface = current();
    stepsInput.value = String(surface.steps);
    for (const entry of catalog) {
      const row = rows.get(entry.name)!;
      const fields: Field[] = [{ key: 'learningRate', value: surfaceLearningRate(entry, surface) }];
      row.read = renderFields(row.fields, fields, `traj-${entry.name}`).read;
    }
    plot.setSurface(surface);
    $('traj-results').querySelector('tbody')!.replaceChildren();
    section.dataset.state = 'idle';
  };
  surfaceSelect.addEventListener('change', showSurface);
  $('traj-none').addEventListener('click', () => {
    for (const row of rows.values()) row.use.checked = false;
  });
  showSurface();

  runButton.addEventListener('click', async () => {
    const surface = current();
    const steps = Number(stepsInput.value);
    const chosen = catalog.filter((e) => rows.get(e.name)!.use.checked);
    showMessage(message, '', 'info');
    if (chosen.length === 0) return showMessage(message, 'Tick at least one optimizer.', 'error');
    if (!Number.isInteger(steps) || steps < 1 || steps > 5000) {
      return showMessage(message, 'Steps must be a whole number from 1 to 5000.', 'error');
    }
    runButton.disabled = true;
    section.dataset.state = 'computing';
    try {
      const runs: { entry: CatalogEntry; overrides: Overrides; result: Trajectory }[] = [];
      for (const entry of chosen) {
        let overrides: Overrides;
        try {
          overrides = rows.get(entry.name)!.read();
        } catch (error) {
          throw new Error(`${entry.label}: ${(error as Error).message}`);
        }
        showMessage(message, `Computing ${entry.label} (${runs.length + 1} of ${chosen.length})…`, 'info');
        await nextTask();
        try {
          const result = trajectory(
            entry,
            surface,
            overrides.learningRate ?? surfaceLearningRate(entry, surface),
            steps,
          );
          runs.push({ entry, overrides, result });
        } catch (error) {
          throw new Error(`${entry.label}: ${errorText(error)}`);
        }
      }
      showMessage(message, '', 'info');
      section.dataset.state = 'animating';
      await animate(
        plot,
        runs.map((r) => ({ color: colorOf(r.entry), points: r.result.points })),
      );
      showResults(surface, runs);
      section.dataset.state = 'done';
    } catch (error) {
      section.dataset.state = 'error';
      showMessage(message, errorText(error), 'error');
    } finally {
      runButton.disabled = false;
    }
  });
  runButton.disabled = false;
}

/** Draws the paths growing over about two seconds. */
function animate(plot: SurfacePlot, paths: Path[]): Promise<void> {
  const longest = Math.max(...paths.map((p) => p.points.length));
  const perFrame = Math.max(1, Math.ceil(longest / 120));
  return new Promise((resolve) => {
    let upto = 1;
    const frame = () => {
      upto = Math.min(longest, upto + perFrame);
      plot.draw(paths, upto);
      if (upto < longest) requestAnimationFrame(frame);
      else resolve();
    };
    requestAnimationFrame(frame);
  });
}

/** The learning rate the search chose for `entry` on `surface`, else (not yet searched) its MNIST one. */
function surfaceLearningRate(entry: CatalogEntry, surface: Surface): number {
  const recorded = recordedLearningRate(entry, surface)?.learningRate;
  if (recorded !== undefined) return recorded;
  const optimizer = entry.mnist();
  try {
    const lr = (optimizer.getConfig() as { learningRate?: unknown }).learningRate;
    return typeof lr === 'number' ? lr : 1e-2;
  } finally {
    optimizer.dispose();
  }
}

/** What happened to a path, in words: its steps, and why it stopped early. */
function outcomeText(entry: CatalogEntry, surface: Surface, result: Trajectory): string {
  const steps = result.points.length - 1;
  if (result.divergedAt !== null) {
    const searched = recordedLearningRate(entry, surface);
    const limit =
      searched?.smallestDiverging != null
        ? ` (the search saw it diverge from ${searched.smallestDiverging})`
        : '';
    return (
      `${steps}: diverged (a coordinate left ±1e6): the learning rate is above this optimizer's stable limit ` +
      `on this surface${limit}`
    );
  }
  if (result.escapedAt !== null) return `${steps}: left the saddle (f falls without bound from here)`;
  return String(steps);
}

function showResults(
  surface: Surface,
  runs: { entry: CatalogEntry; overrides: Overrides; result: Trajectory }[],
) {
  const tbody = $('traj-results').querySelector('tbody')!;
  tbody.replaceChildren();
  for (const { entry, result } of runs) {
    const row = tbody.insertRow();
    row.dataset.optimizer = entry.name;
    row.dataset.finalValue = String(result.finalValue);
    row.dataset.diverged = String(result.divergedAt !== null);
    const last = result.points[result.points.length - 1]!;
    const distance = surface.minimum
      ? Math.hypot(last[0] - surface.minimum[0], last[1] - surface.minimum[1])
      : null;
    for (const text of [
      entry.label,
      formatNumber(result.learningRate),
      outcomeText(entry, surface, result),
      Number.isFinite(result.finalValue) ? result.finalValue.toPrecision(4) : 'not finite',
      distance === null
        ? '— (no minimum)'
        : Number.isFinite(distance)
          ? distance.toPrecision(3)
          : 'not finite',
    ]) {
      row.insertCell().textContent = text;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// MNIST

function setUpMnist(session: MnistSession): void {
  const select = $<HTMLSelectElement>('mnist-optimizer');
  const fieldsBox = $('mnist-fields');
  const settingsNote = $('mnist-settings-note');
  const runInfo = $('mnist-run');
  const stepsInput = $<HTMLInputElement>('mnist-steps');
  const progress = $('mnist-progress');
  const lossCanvas = $<HTMLCanvasElement>('loss-canvas');
  // Each message sits next to the buttons whose outcome it reports.
  const messages = {
    newRun: $('mnist-new-message'),
    train: $('mnist-train-message'),
    save: $('save-message'),
    restore: $('restore-message'),
  };
  const clearMessages = () => {
    for (const element of Object.values(messages)) showMessage(element, '', 'info');
  };
  const saveNote = $('save-note');
  const checkpointInfo = $('checkpoint-info');
  const buttons = {
    newRun: $<HTMLButtonElement>('mnist-new'),
    train: $<HTMLButtonElement>('mnist-train'),
    stop: $<HTMLButtonElement>('mnist-stop'),
    evaluate: $<HTMLButtonElement>('mnist-evaluate'),
    saveIdb: $<HTMLButtonElement>('save-idb'),
    downloadState: $<HTMLButtonElement>('download-state'),
    downloadModel: $<HTMLButtonElement>('download-model'),
    restoreIdb: $<HTMLButtonElement>('restore-idb'),
  };
  const filesInput = $<HTMLInputElement>('restore-files');
  let readFields: () => Overrides = () => ({});
  let busy = false;

  for (const source of ['optimkit', 'plugin', 'tf.train'] as const) {
    const group = document.createElement('optgroup');
    group.label =
      source === 'plugin' ? 'third-party plugin' : source === 'tf.train' ? 'tf.train baselines' : source;
    for (const entry of catalog.filter((e) => e.source === source))
      group.append(new Option(entry.label, entry.name));
    select.append(group);
  }
  const entryOf = (name: string) => catalog.find((e) => e.name === name);

  const showFields = (fields: Field[]) => {
    readFields = renderFields(fieldsBox, fields, 'mnist', () => {
      settingsNote.textContent =
        'Settings changed: “New run with these settings” applies them (from step 0).';
    }).read;
    settingsNote.textContent = '';
  };
  select.addEventListener('change', () => {
    showFields(defaultFields(() => entryOf(select.value)!.mnist()));
    settingsNote.textContent = 'Settings changed: “New run with these settings” applies them (from step 0).';
  });

  const lossText = (loss: number | undefined) => (loss === undefined ? '—' : loss.toFixed(4));
  const showProgress = () => {
    const last = session.losses[session.losses.length - 1];
    const epoch = Math.floor(session.step / session.batchesPerEpoch) + 1;
    const batch = (session.step % session.batchesPerEpoch) + 1;
    progress.dataset.step = String(session.step);
    progress.dataset.loss = last === undefined ? '' : String(last);
    progress.textContent =
      session.step === 0 && session.losses.length === 0
        ? 'No steps yet.'
        : `Step ${session.step} · loss ${lossText(last)} · next: epoch ${epoch}, batch ${batch} of ${session.batchesPerEpoch}`;
  };
  const showChart = () => {
    drawLossChart(lossCanvas, session);
    lossCanvas.dataset.losses = JSON.stringify(session.losses);
    lossCanvas.dataset.lossOffset = String(session.lossOffset);
  };
  const showRun = () => {
    const restored =
      session.restoredAt.length > 0 ? ` · restored at step ${session.restoredAt.join(', ')}` : '';
    runInfo.textContent = `Current run: ${session.label} (${describeFields(fieldsOf(session.optimizer))})${restored}`;
    runInfo.dataset.optimizer = session.optimizerName;
  };
  const refreshButtons = () => {
    const training = session.training;
    const saveable = isOptimkit(session.optimizer);
    progress.dataset.training = String(training);
    buttons.train.disabled = training || busy;
    buttons.stop.disabled = !training;
    buttons.newRun.disabled = busy;
    buttons.evaluate.disabled = training || busy;
    buttons.saveIdb.disabled = training || busy || !saveable;
    buttons.downloadState.disabled = training || busy || !saveable;
    buttons.downloadModel.disabled = training || busy;
    buttons.restoreIdb.disabled = busy;
    filesInput.disabled = busy;
    select.disabled = false;
    saveNote.textContent = !saveable
      ? `${session.label} is a tf.train optimizer: tf.train keeps no optimkit state (no saveState/loadState), so ` +
        'this run cannot be saved or restored here. Its model weights can still be downloaded.'
      : training
        ? 'Stop training to save: a checkpoint is taken between steps.'
        : '';
  };
  const refreshAll = () => {
    showProgress();
    showChart();
    showRun();
    refreshButtons();
  };
  const selectRun = () => {
    if (entryOf(session.optimizerName)) select.value = session.optimizerName;
    showFields(fieldsOf(session.optimizer));
  };

  /** Runs an action, reporting its outcome in `message`; actions do not overlap. */
  const action = async (message: HTMLElement, work: () => Promise<string>) => {
    if (busy) return;
    busy = true;
    refreshButtons();
    clearMessages();
    try {
      showMessage(message, await work(), 'info');
    } catch (error) {
      showMessage(message, `${errorText(error)} — the current run is unchanged.`, 'error');
    } finally {
      busy = false;
      refreshAll();
    }
  };

  buttons.newRun.addEventListener('click', () =>
    action(messages.newRun, async () => {
      const entry = entryOf(select.value)!;
      await session.newRun(entry, readFields());
      selectRun();
      return `New run with ${entry.label}, from the initial weights.`;
    }),
  );

  buttons.train.addEventListener('click', async () => {
    const steps = Number(stepsInput.value);
    clearMessages();
    if (!Number.isInteger(steps) || steps < 1)
      return showMessage(messages.train, 'Steps must be a positive whole number.', 'error');
    let lastDraw = 0;
    const done = session.train(steps, async () => {
      showProgress();
      if (performance.now() - lastDraw > 100) {
        drawLossChart(lossCanvas, session);
        lastDraw = performance.now();
      }
      await nextTask();
    });
    refreshButtons();
    try {
      await done;
    } catch (error) {
      showMessage(messages.train, `Training stopped: ${errorText(error)}`, 'error');
    } finally {
      refreshAll();
    }
  });
  buttons.stop.addEventListener('click', () => session.stop());
  buttons.evaluate.addEventListener('click', () =>
    action(messages.train, async () => {
      const accuracy = await session.testAccuracy();
      return `Test accuracy at step ${session.step}: ${(accuracy * 100).toFixed(2)}% of ${session.data.testCount} held-out digits.`;
    }),
  );

  const fileStem = () => `optimkit-mnist-${session.optimizerName || 'restored'}-step${session.step}`;
  buttons.saveIdb.addEventListener('click', () =>
    action(messages.save, async () => {
      const checkpoint = await session.checkpoint();
      await saveCheckpoint(checkpoint);
      showCheckpointInfo();
      return `Saved step ${checkpoint.step} (${checkpoint.label}, ${checkpoint.state.length} bytes of optimizer state) to this browser.`;
    }),
  );
  buttons.downloadState.addEventListener('click', () =>
    action(messages.save, async () => {
      if (!isOptimkit(session.optimizer)) throw new Error('tf.train optimizers have no optimkit state');
      const bytes = await session.optimizer.saveState();
      download(new Blob([bytes.slice()], { type: 'application/octet-stream' }), `${fileStem()}.optk`);
      return `Downloaded the optimizer state at step ${session.step} (${bytes.length} bytes).`;
    }),
  );
  buttons.downloadModel.addEventListener('click', () =>
    action(messages.save, async () => {
      // The loss history travels in the model's JSON, so that a restore from files draws it again.
      session.model.setUserDefinedMetadata({ optimkitHistory: session.history() });
      await session.model.save(`downloads://${fileStem()}`);
      return `Downloaded the model at step ${session.step}: ${fileStem()}.json and ${fileStem()}.weights.bin.`;
    }),
  );

  buttons.restoreIdb.addEventListener('click', () =>
    action(messages.restore, async () => {
      const checkpoint = await loadCheckpoint();
      if (!checkpoint) throw new Error('Nothing is saved in this browser yet');
      await session.restore({
        state: checkpoint.state,
        weights: session.weightsFrom(checkpoint.weights),
        history: checkpoint,
      });
      session.optimizerName = checkpoint.optimizer;
      session.label = checkpoint.label;
      selectRun();
      return `Restored ${checkpoint.label} at step ${checkpoint.step} (saved ${new Date(checkpoint.savedAt).toLocaleString()}).`;
    }),
  );

  filesInput.addEventListener('change', () => {
    const files = Array.from(filesInput.files ?? []);
    filesInput.value = '';
    if (files.length === 0) return;
    return action(messages.restore, async () => {
      const json = files.filter((f) => f.name.endsWith('.json'));
      const bins = files.filter((f) => f.name.endsWith('.bin'));
      const states = files.filter((f) => !json.includes(f) && !bins.includes(f));
      if (states.length !== 1) {
        throw new Error(`Pick exactly one optimizer state file (.optk); got ${states.length}`);
      }
      if (json.length > 1 || bins.length > 1 || json.length !== bins.length) {
        throw new Error('To restore the weights, pick the model’s .json and .weights.bin files together');
      }
      const stateFile = states[0]!;
      let weights: tf.Tensor[] | undefined;
      let history: RestoreSource['history'];
      if (json.length === 1) {
        const artifacts = await tf.io.browserFiles([json[0]!, bins[0]!]).load!();
        history = historyFrom(artifacts.userDefinedMetadata);
        if (!artifacts.weightSpecs || !artifacts.weightData)
          throw new Error('The model files hold no weights');
        const named = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
        const ordered = artifacts.weightSpecs.map((spec) => named[spec.name]!);
        try {
          weights = session.weightsFrom(
            ordered.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array })),
          );
        } finally {
          tf.dispose(ordered);
        }
      }
      const bytes = new Uint8Array(await stateFile.arrayBuffer());
      try {
        await session.restore({
          state: bytes,
          ...(weights ? { weights } : {}),
          ...(history ? { history } : {}),
        });
      } catch (error) {
        if (error instanceof Error) error.message = `${stateFile.name}: ${error.message}`;
        throw error;
      }
      const entry = guessEntry(session.optimizer);
      session.optimizerName = entry?.name ?? '';
      session.label = entry?.label ?? session.optimizer.getClassName();
      selectRun();
      return weights
        ? `Restored ${session.label} and the model weights at step ${session.step} from ${stateFile.name}.`
        : `Restored the ${session.label} state at step ${session.step} from ${stateFile.name} onto the current ` +
            'model weights (no model files were picked).';
    });
  });

  const showCheckpointInfo = async () => {
    try {
      const checkpoint = await loadCheckpoint();
      checkpointInfo.textContent = checkpoint
        ? `Saved in this browser: ${checkpoint.label} at step ${checkpoint.step}, ${new Date(checkpoint.savedAt).toLocaleString()}.`
        : 'Nothing is saved in this browser yet.';
    } catch (error) {
      checkpointInfo.textContent = errorText(error);
    }
  };

  $('mnist-data').textContent =
    `${session.data.trainCount} training and ${session.data.testCount} held-out digits from the mnist package ` +
    `(${session.batchesPerEpoch} batches per epoch, the same order every epoch).`;
  select.value = session.optimizerName;
  showFields(fieldsOf(session.optimizer));
  void showCheckpointInfo();
  refreshAll();
}

/** The loss history saved in a model's JSON by this page, if it is one. */
function historyFrom(metadata: unknown): RestoreSource['history'] {
  const h = (metadata as { optimkitHistory?: Record<string, unknown> } | undefined)?.optimkitHistory;
  const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
  if (!h || !numbers(h.losses) || !numbers(h.restoredAt) || typeof h.lossOffset !== 'number')
    return undefined;
  return { losses: h.losses, lossOffset: h.lossOffset, restoredAt: h.restoredAt };
}

/** The catalog entry a restored optimizer most likely came from: same class, most equal options. */
function guessEntry(optimizer: tf.Optimizer): CatalogEntry | undefined {
  const config = optimizer.getConfig() as Record<string, unknown>;
  let best: { entry: CatalogEntry; score: number } | undefined;
  for (const entry of catalog) {
    const candidate = entry.mnist();
    try {
      if (candidate.getClassName() !== optimizer.getClassName()) continue;
      const own = candidate.getConfig() as Record<string, unknown>;
      const score = Object.keys(own).filter(
        (k) => JSON.stringify(own[k]) === JSON.stringify(config[k]),
      ).length;
      if (!best || score > best.score) best = { entry, score };
    } finally {
      candidate.dispose();
    }
  }
  return best?.entry;
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const status = $('status');
  const backendSelect = $<HTMLSelectElement>('backend');
  try {
    const webgpu = await hasWebGpuAdapter();
    const webgpuOption = backendSelect.querySelector<HTMLOptionElement>('option[value="webgpu"]')!;
    webgpuOption.disabled = !webgpu;
    if (!webgpu) webgpuOption.textContent = 'webgpu (no adapter in this browser)';
    const { backend, note } = await setUpBackend(webgpu);
    backendSelect.value = backend;
    backendSelect.dataset.backend = backend;
    backendSelect.addEventListener('change', () => {
      const url = new URL(location.href);
      url.searchParams.set('backend', backendSelect.value);
      location.assign(url);
    });
    setUpTrajectories();
    status.textContent = `Backend: ${backend}. Loading the MNIST digits…`;
    const data = buildMnist(await loadDigits());
    const session = new MnistSession(data, catalog.find((e) => e.name === 'adam')!, {});
    setUpMnist(session);
    setUpDataParallel(
      {
        section: $('data-parallel'),
        worldSize: $<HTMLSelectElement>('dp-world-size'),
        mode: $<HTMLSelectElement>('dp-mode'),
        steps: $<HTMLInputElement>('dp-steps'),
        run: $<HTMLButtonElement>('dp-run'),
        message: $('dp-message'),
        ranks: $('dp-ranks').querySelector('tbody')!,
        summary: $('dp-summary'),
      },
      data,
      backend,
    );
    status.textContent = `Ready · TensorFlow.js ${tf.version.tfjs}, ${backend} backend${note}.`;
    status.dataset.ready = 'true';
  } catch (error) {
    status.textContent = `The page could not start: ${errorText(error)}`;
    status.dataset.ready = 'error';
    throw error;
  }
}

void main();
