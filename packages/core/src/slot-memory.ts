/**
 * Slot memory on the cpu backend: the float32 slots of a large variable live in a
 * `WebAssembly.Memory` of their own, with room for the variable itself, so that the fused kernels
 * update them where they are and copy only the gradient (and a variable that could not move there)
 * through the memory's scratch. The cpu backend keeps the views as the tensors' values; nothing else
 * refers to the memory, which is collected with them.
 */

/** Float32 elements of scratch per copied array in a chunk. */
export const SLOT_MEMORY_CHUNK = 4096;
/** Copied arrays (inputs and outputs) a kernel may have and still run against a slot memory. */
export const SLOT_MEMORY_ARRAYS = 8;
/** Variables smaller than this keep their slots in ordinary arrays (a memory costs ≥ 64 KiB). */
export const SLOT_MEMORY_MIN_ELEMENTS = 65536;

const SCRATCH_BYTES = SLOT_MEMORY_CHUNK * SLOT_MEMORY_ARRAYS * 4;
const PAGE = 65536;

/** A slot memory, found from any view's buffer. */
export interface SlotMemory {
  memory: WebAssembly.Memory;
  /** Byte offset of the scratch: {@link SLOT_MEMORY_ARRAYS} regions of {@link SLOT_MEMORY_CHUNK} floats. */
  scratch: number;
  /** Room for the variable's own values (see {@link Room}). */
  param: Room;
}

/**
 * Room in a slot memory for one tensor's values, and the tensor data that holds it (null before
 * the variable first moves in). The cpu kernel moves a slot or the variable back in when it was
 * given new data (a step that could not write in place, while a snapshot shared it), once nothing
 * holds the room.
 */
export interface Room {
  memory: SlotMemory;
  view: Float32Array;
  owner: object | null;
}

const byBuffer = new WeakMap<ArrayBufferLike, SlotMemory>();
const rooms = new WeakMap<object, Room>();

/**
 * Gives a variable that moved into a slot memory its own copy of its values, so that the memory
 * (its slots' space too) is not kept alive by the variable once the optimizer lets go of it.
 */
export function moveOut(variable: { dataId: object; isDisposed: boolean }, cpu: unknown): void {
  const data = (
    cpu as { data?: { has(id: object): boolean; get(id: object): { values?: unknown } } } | undefined
  )?.data;
  if (variable.isDisposed || !data?.has(variable.dataId)) return;
  const entry = data.get(variable.dataId);
  if (entry.values instanceof Float32Array && byBuffer.has(entry.values.buffer))
    entry.values = entry.values.slice();
}

/** The room of a slot variable created in a slot memory. */
export function roomOf(slot: object): Room | undefined {
  return rooms.get(slot);
}

/** Records that `slot` (a variable whose data is `view`) has its room in a slot memory. */
export function assignRoom(slot: { dataId: object }, view: Float32Array): void {
  const memory = byBuffer.get(view.buffer);
  if (!memory) throw new Error('optimkit: a slot view outside any slot memory');
  rooms.set(slot, { memory, view, owner: slot.dataId });
}

/** The slot memory whose buffer this is, if any. */
export function slotMemoryOf(buffer: ArrayBufferLike): SlotMemory | undefined {
  return byBuffer.get(buffer);
}

/**
 * One memory holding float32 arrays of `elements` each, one per value of `values` (filled with
 * it), then room for the variable and a scratch region. The memory never grows, so the views stay
 * valid for its lifetime.
 */
export function allocateSlotArrays(elements: number, values: readonly number[]): Float32Array[] {
  const slotBytes = Math.ceil((elements * 4) / 16) * 16;
  const slots = values.length;
  const bytes = slotBytes * (slots + 1) + SCRATCH_BYTES;
  const pages = Math.ceil(bytes / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const slotMemory: SlotMemory = {
    memory,
    scratch: slotBytes * (slots + 1),
    param: undefined as unknown as Room,
  };
  slotMemory.param = {
    memory: slotMemory,
    view: new Float32Array(memory.buffer, slotBytes * slots, elements),
    owner: null,
  };
  byBuffer.set(memory.buffer, slotMemory);
  return values.map((value, i) => {
    const view = new Float32Array(memory.buffer, i * slotBytes, elements);
    if (value !== 0) view.fill(value);
    return view;
  });
}
