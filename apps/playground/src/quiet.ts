/**
 * Drops tfjs's "Hi, looks like you are running TensorFlow.js in Node.js" banner, which its cpu
 * backend prints once per backend instance (dozens of times in a run), and nothing else.
 */
export function quietTfjsBanner(): void {
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (
      typeof args[0] === 'string' &&
      args[0].includes('looks like you are running TensorFlow.js in Node.js')
    )
      return;
    warn(...args);
  };
}
