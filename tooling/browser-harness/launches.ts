/**
 * Counts GPU launches, in a page: WebGL draw calls and WebGPU compute dispatches, by wrapping them on the
 * prototypes of the contexts and pass encoders. The page imports this module first, so the
 * wrappers are in place before tfjs creates its WebGL context or WebGPU device; tfjs calls them as
 * methods (`gl.drawElements(…)`, `pass.dispatchWorkgroups(…)`), so every call goes through them.
 */

let launches = 0;

/** GPU launches since the page loaded. */
export function launchCount(): number {
  return launches;
}

/** The methods wrapped (a prototype missing in this browser is left out). */
export const wrapped: string[] = [];

function wrap(owner: string, names: readonly string[]): void {
  const ctor = (globalThis as Record<string, unknown>)[owner] as { prototype: object } | undefined;
  const prototype = ctor?.prototype as Record<string, unknown> | undefined;
  if (!prototype) return;
  for (const name of names) {
    // Own methods only: a prototype inheriting another's would otherwise count each call twice.
    const original = Object.hasOwn(prototype, name) ? prototype[name] : undefined;
    if (typeof original !== 'function') continue;
    prototype[name] = function (this: unknown, ...args: unknown[]) {
      launches += 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    wrapped.push(`${owner}.${name}`);
  }
}

const DRAWS = [
  'drawArrays',
  'drawElements',
  'drawArraysInstanced',
  'drawElementsInstanced',
  'drawRangeElements',
];
wrap('WebGLRenderingContext', DRAWS);
wrap('WebGL2RenderingContext', DRAWS);
wrap('GPUComputePassEncoder', ['dispatchWorkgroups', 'dispatchWorkgroupsIndirect']);
