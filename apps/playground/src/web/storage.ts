/** The page's checkpoint in IndexedDB: model weights, optimizer state and loss history in one record. */

export interface SavedWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface Checkpoint {
  format: 1;
  savedAt: string;
  /** The catalog name of the optimizer, or '' when the run was itself restored from a file of unknown origin. */
  optimizer: string;
  label: string;
  step: number;
  /** Loss of steps lossOffset + 1, lossOffset + 2, …; earlier steps are unknown (a run restored from a file). */
  losses: number[];
  lossOffset: number;
  /** Steps at which the run was restored, drawn on the loss curve. */
  restoredAt: number[];
  /** `optimizer.saveState()` bytes. */
  state: Uint8Array;
  weights: SavedWeight[];
}

const DATABASE = 'optimkit-playground';
const STORE = 'checkpoints';
const KEY = 'mnist';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function open(): Promise<IDBDatabase> {
  const req = indexedDB.open(DATABASE, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE);
  return request(req);
}

export async function saveCheckpoint(checkpoint: Checkpoint): Promise<void> {
  const db = await open();
  try {
    const tx = db.transaction(STORE, 'readwrite');
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
    tx.objectStore(STORE).put(checkpoint, KEY);
    await done;
  } finally {
    db.close();
  }
}

/** The saved checkpoint, or null if there is none. Throws if the record is not one this page wrote. */
export async function loadCheckpoint(): Promise<Checkpoint | null> {
  const db = await open();
  try {
    const record: unknown = await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(KEY));
    if (record === undefined) return null;
    const c = record as Partial<Checkpoint>;
    if (
      c.format !== 1 ||
      !(c.state instanceof Uint8Array) ||
      !Array.isArray(c.weights) ||
      !Array.isArray(c.losses) ||
      typeof c.step !== 'number'
    ) {
      throw new Error('The checkpoint in this browser was written by another version of the page');
    }
    return c as Checkpoint;
  } finally {
    db.close();
  }
}
